package mt

import (
	"github.com/raftgram/raftgram/tl"
)

// The combinators mtproto.tl lists only as comments ("parsed manually"), written by hand: rpc_result,
// message, msg_container and msg_copy. gzip_packed lives in package tl (tl.GzipPacked).

// Ids of the hand-written combinators.
const (
	RPCResultTypeID    uint32 = 0xf35c6d01
	MsgContainerTypeID uint32 = 0x73f1f8dc
	MsgCopyTypeID      uint32 = 0xe06046b2
	// MessageTypeID is a pseudo id: message is always bare on the wire (inside msg_container, msg_copy).
	MessageTypeID uint32 = 0x5bb8e511
)

// New returns a new zero value for an MTProto service-layer id (mtproto.tl plus the hand-written
// rpc_result, msg_container and msg_copy), or nil. It is a tl.Lookup.
func New(id uint32) tl.Object {
	switch id {
	case RPCResultTypeID:
		return &RPCResult{}
	case MsgContainerTypeID:
		return &MsgContainer{}
	case MsgCopyTypeID:
		return &MsgCopy{}
	}
	return newGenerated(id)
}

// RPCResult is rpc_result#f35c6d01 req_msg_id:long result:Object = RpcResult. Result is any boxed object
// (a constructor, rpc_error, a vector result, or tl.GzipPacked to send it compressed).
type RPCResult struct {
	ReqMsgID int64
	Result   tl.Object
}

// TypeID implements tl.Object.
func (*RPCResult) TypeID() uint32 { return RPCResultTypeID }

// TypeName implements tl.Object.
func (*RPCResult) TypeName() string { return "rpc_result" }

func (x *RPCResult) String() string { return tl.Format(x) }

// Encode implements tl.Object.
func (x *RPCResult) Encode(e *tl.Encoder) error {
	if x == nil {
		return e.Fail(tl.ErrNilObject)
	}
	e.PutLong(x.ReqMsgID)
	e.PutObject(x.Result)
	return e.Err()
}

// Decode implements tl.Object. The result is decoded through the Decoder's registry; a vector result
// cannot be (its element type depends on the request): decode such results with Method.DecodeResult from
// the raw bytes instead.
func (x *RPCResult) Decode(d *tl.Decoder) error {
	x.ReqMsgID = d.Long()
	x.Result = d.Object()
	return d.Err()
}

// Message is message msg_id:long seqno:int bytes:int body:Object = Message, always bare. Encode computes
// the bytes field from Body; Decode checks that the body fills exactly that many bytes.
type Message struct {
	MsgID int64
	Seqno int32
	Body  tl.Object
}

// TypeID implements tl.Object (a pseudo id; message is never boxed on the wire).
func (*Message) TypeID() uint32 { return MessageTypeID }

// TypeName implements tl.Object.
func (*Message) TypeName() string { return "message" }

func (x *Message) String() string { return tl.Format(x) }

// Encode implements tl.Object.
func (x *Message) Encode(e *tl.Encoder) error {
	if x == nil {
		return e.Fail(tl.ErrNilObject)
	}
	e.PutLong(x.MsgID)
	e.PutInt(x.Seqno)
	at := e.Len()
	e.PutInt(0) // bytes, patched below
	e.PutObject(x.Body)
	n := e.Len() - at - 4
	b := e.Bytes()
	b[at], b[at+1], b[at+2], b[at+3] = byte(n), byte(n>>8), byte(n>>16), byte(n>>24)
	return e.Err()
}

// Decode implements tl.Object.
func (x *Message) Decode(d *tl.Decoder) error {
	x.MsgID = d.Long()
	x.Seqno = d.Int()
	n := d.Int()
	if d.Err() != nil {
		return d.Err()
	}
	if n < 0 || n%4 != 0 {
		return d.Fail(tl.ErrTooLong)
	}
	s := d.Sub(int(n))
	x.Body = s.Object()
	d.Join(s)
	return d.Err()
}

// MessageMinSize is the smallest encoded message: msg_id, seqno, bytes and a body id.
const MessageMinSize = 8 + 4 + 4 + 4

// MsgContainer is msg_container#73f1f8dc messages:vector<message> = MessageContainer.
type MsgContainer struct {
	Messages []Message
}

// TypeID implements tl.Object.
func (*MsgContainer) TypeID() uint32 { return MsgContainerTypeID }

// TypeName implements tl.Object.
func (*MsgContainer) TypeName() string { return "msg_container" }

func (x *MsgContainer) String() string { return tl.Format(x) }

// Encode implements tl.Object.
func (x *MsgContainer) Encode(e *tl.Encoder) error {
	if x == nil {
		return e.Fail(tl.ErrNilObject)
	}
	e.PutInt(int32(len(x.Messages)))
	for i := range x.Messages {
		e.PutBare(&x.Messages[i])
	}
	return e.Err()
}

// Decode implements tl.Object.
func (x *MsgContainer) Decode(d *tl.Decoder) error {
	n := d.BareVectorLen(MessageMinSize)
	if d.Err() != nil {
		return d.Err()
	}
	x.Messages = make([]Message, n)
	for i := range x.Messages {
		if err := x.Messages[i].Decode(d); err != nil {
			return err
		}
	}
	return d.Err()
}

// MsgCopy is msg_copy#e06046b2 orig_message:Message = MessageCopy (deprecated by the spec; decoded for
// completeness).
type MsgCopy struct {
	OrigMessage Message
}

// TypeID implements tl.Object.
func (*MsgCopy) TypeID() uint32 { return MsgCopyTypeID }

// TypeName implements tl.Object.
func (*MsgCopy) TypeName() string { return "msg_copy" }

func (x *MsgCopy) String() string { return tl.Format(x) }

// Encode implements tl.Object.
func (x *MsgCopy) Encode(e *tl.Encoder) error {
	if x == nil {
		return e.Fail(tl.ErrNilObject)
	}
	return x.OrigMessage.Encode(e)
}

// Decode implements tl.Object.
func (x *MsgCopy) Decode(d *tl.Decoder) error { return x.OrigMessage.Decode(d) }
