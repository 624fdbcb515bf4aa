package testclient

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/raftgram/raftgram/gateway/crypto"
	"github.com/raftgram/raftgram/tl"
	"github.com/raftgram/raftgram/tl/api"
	"github.com/raftgram/raftgram/tl/mt"
)

// APIRegistry decodes service and API objects.
var APIRegistry = tl.NewRegistry(mt.New, api.New).WithLegacy(api.IsLegacy)

// Session is an encrypted client session on one connection.
type Session struct {
	Conn    *Conn
	Key     crypto.AuthKey
	ID      int64
	Salt    int64
	Now     func() time.Time
	last    int64
	content int32
	// Seen collects every server message received (for assertions).
	Seen []Received
	// GzipResults counts rpc_results whose result arrived gzip_packed.
	GzipResults int
}

// Received is one server message, unpacked from containers and gzip_packed.
type Received struct {
	MsgID int64
	SeqNo int32
	Obj   tl.Object
}

// NewSession starts a session with a random id.
func NewSession(c *Conn, k crypto.AuthKey, salt int64) *Session {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return &Session{Conn: c, Key: k, Salt: salt, ID: int64(binary.LittleEndian.Uint64(b[:])), Now: time.Now}
}

// NextMsgID returns a new client msg_id.
func (s *Session) NextMsgID() int64 {
	s.last = nextMsgID(s.last, s.Now())
	return s.last
}

// NextSeqNo returns the seq_no for the next message.
func (s *Session) NextSeqNo(content bool) int32 {
	if content {
		s.content++
		return 2*s.content - 1
	}
	return 2 * s.content
}

// Encrypt builds an encrypted frame.
func (s *Session) Encrypt(msgID int64, seqNo int32, salt int64, body []byte) ([]byte, error) {
	return crypto.EncryptMessage(nil, &s.Key, crypto.ClientToServer,
		crypto.Message{Salt: salt, SessionID: s.ID, MsgID: msgID, SeqNo: seqNo, Body: body}, rand.Reader)
}

// SendRaw encrypts and sends one message with explicit fields.
func (s *Session) SendRaw(msgID int64, seqNo int32, salt int64, body []byte, quickAck bool) error {
	f, err := s.Encrypt(msgID, seqNo, salt, body)
	if err != nil {
		return err
	}
	return s.Conn.WriteFrame(f, quickAck)
}

// Send encodes and sends obj as a new message and returns its msg_id.
func (s *Session) Send(obj tl.Object, content bool) (int64, error) {
	body, err := tl.Marshal(obj)
	if err != nil {
		return 0, err
	}
	id := s.NextMsgID()
	return id, s.SendRaw(id, s.NextSeqNo(content), s.Salt, body, false)
}

// Recv reads, decrypts and unpacks one frame.
func (s *Session) Recv() ([]Received, error) {
	f, err := s.Conn.ReadFrame()
	if err != nil {
		return nil, err
	}
	m, _, err := crypto.DecryptMessage(&s.Key, crypto.ServerToClient, f)
	if err != nil {
		return nil, err
	}
	if m.SessionID != s.ID {
		return nil, fmt.Errorf("session id %x, want %x", m.SessionID, s.ID)
	}
	if m.MsgID&3 != 1 && m.MsgID&3 != 3 {
		return nil, fmt.Errorf("server msg_id %x is not 1 or 3 mod 4", m.MsgID)
	}
	s.countGzip(m.Body)
	obj, err := tl.DecodeObject(m.Body, APIRegistry)
	if err != nil {
		return nil, fmt.Errorf("decode server message: %w", err)
	}
	var out []Received
	if c, ok := obj.(*mt.MsgContainer); ok {
		for _, in := range c.Messages {
			out = append(out, Received{MsgID: in.MsgID, SeqNo: in.Seqno, Obj: in.Body})
		}
	} else {
		out = append(out, Received{MsgID: m.MsgID, SeqNo: m.SeqNo, Obj: obj})
	}
	s.Seen = append(s.Seen, out...)
	return out, nil
}

// ErrRPC is an rpc_error answer.
type ErrRPC struct{ *mt.RPCError }

func (e ErrRPC) Error() string { return fmt.Sprintf("rpc_error %d %s", e.ErrorCode, e.ErrorMessage) }

// Call sends a request and waits for its rpc_result (or pong / future_salts and similar direct answers),
// following bad_server_salt and acknowledging content messages as a real client would.
func (s *Session) Call(ctx context.Context, req tl.Object) (tl.Object, error) {
	if d, ok := ctx.Deadline(); ok {
		_ = s.Conn.SetDeadline(d)
	}
	id, err := s.Send(req, true)
	if err != nil {
		return nil, err
	}
	for {
		msgs, err := s.Recv()
		if err != nil {
			return nil, err
		}
		var acks []int64
		for _, r := range msgs {
			if r.SeqNo&1 == 1 {
				acks = append(acks, r.MsgID)
			}
			switch v := r.Obj.(type) {
			case *mt.BadServerSalt:
				if v.BadMsgID == id {
					s.Salt = v.NewServerSalt
					if id, err = s.Send(req, true); err != nil {
						return nil, err
					}
				}
			case *mt.BadMsgNotification:
				if v.BadMsgID == id {
					return nil, fmt.Errorf("bad_msg_notification %d", v.ErrorCode)
				}
			case *mt.NewSessionCreated:
				s.Salt = v.ServerSalt
			case *mt.RPCResult:
				if v.ReqMsgID == id {
					if len(acks) > 0 {
						_, _ = s.Send(&mt.MsgsAck{MsgIDs: acks}, false)
					}
					if e, ok := v.Result.(*mt.RPCError); ok {
						return nil, ErrRPC{e}
					}
					return v.Result, nil
				}
			case *mt.Pong:
				if v.MsgID == id {
					return v, nil
				}
			case *mt.FutureSalts:
				if v.ReqMsgID == id {
					return v, nil
				}
			case *mt.MsgsStateInfo:
				if v.ReqMsgID == id {
					return v, nil
				}
			case *mt.DestroySessionOk, *mt.DestroySessionNone:
				return v, nil
			}
		}
		if len(acks) > 0 {
			if _, err := s.Send(&mt.MsgsAck{MsgIDs: acks}, false); err != nil {
				return nil, err
			}
		}
	}
}

// Expect reads messages until one satisfies match, or fails after n frames.
func (s *Session) Expect(n int, match func(Received) bool) (Received, error) {
	for range n {
		msgs, err := s.Recv()
		if err != nil {
			return Received{}, err
		}
		for _, r := range msgs {
			if match(r) {
				return r, nil
			}
		}
	}
	return Received{}, errors.New("expected message not received")
}

// countGzip notices rpc_result{gzip_packed} at the top level or directly inside a container.
func (s *Session) countGzip(body []byte) {
	isGz := func(b []byte) bool {
		return len(b) >= 16 && binary.LittleEndian.Uint32(b) == mt.RPCResultTypeID &&
			binary.LittleEndian.Uint32(b[12:]) == tl.GzipPackedID
	}
	if isGz(body) {
		s.GzipResults++
		return
	}
	if len(body) < 8 || binary.LittleEndian.Uint32(body) != mt.MsgContainerTypeID {
		return
	}
	n := int(binary.LittleEndian.Uint32(body[4:]))
	rest := body[8:]
	for i := 0; i < n && len(rest) >= 16; i++ {
		size := int(binary.LittleEndian.Uint32(rest[12:]))
		if size > len(rest)-16 {
			return
		}
		if isGz(rest[16 : 16+size]) {
			s.GzipResults++
		}
		rest = rest[16+size:]
	}
}
