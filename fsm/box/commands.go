package box

import (
	"encoding/binary"
	"hash/fnv"

	"github.com/raftgram/raftgram/fsm"
)

// Command types of this package (fsm types 100..139; 110..139 reserved). The encoding under a type is
// frozen: a new encoding gets a new type, so an older replica fail-stops instead of diverging.
const (
	TypeSend          fsm.CommandType = 100
	TypeForward       fsm.CommandType = 101
	TypeDeliverBatch  fsm.CommandType = 102
	TypeReadHistory   fsm.CommandType = 103
	TypeEdit          fsm.CommandType = 104
	TypeDelete        fsm.CommandType = 105
	TypeDeleteHistory fsm.CommandType = 106
	TypeOutboxTrim    fsm.CommandType = 107
	TypeDialog        fsm.CommandType = 108
	TypeInject        fsm.CommandType = 109
)

// ApplyError codes of this package.
const (
	CodeRandomIDDuplicate = "RANDOM_ID_DUPLICATE"
	CodeMessageIDInvalid  = "MESSAGE_ID_INVALID"
	CodeNotModified       = "MESSAGE_NOT_MODIFIED"
	CodeMessageEmpty      = "MESSAGE_EMPTY" // an edit that leaves a message without text or media
	CodeAuthorRequired    = "MESSAGE_AUTHOR_REQUIRED"
	CodePinnedTooMuch     = "PINNED_DIALOGS_TOO_MUCH"
	CodePayloadInvalid    = "PAYLOAD_INVALID"
	CodeRecordInvalid     = "RECORD_INVALID"
)

// Send is messages.sendMessage (and forwards, with FwdFrom set) from From to To.
type Send struct {
	From, To    int64
	RandomID    int64
	Fingerprint uint64 // of the request's content: a retry with the same random_id must carry the same
	Silent      bool
	ClearDraft  bool
	ReplyTo     int32 // in From's box
	FwdFrom     int64
	FwdDate     int32
	Text        string
	Entities    []byte
	Media       []byte // opaque media of the message (the messages domain's TL); nil: a text message
	GroupedID   int64  // the album of a message with media; 0: none
}

// Fingerprint is the content hash Send carries (peer, text, entities, reply).
func Fingerprint(to int64, text string, entities []byte, replyTo int32) uint64 {
	h := fnv.New64a()
	var b [12]byte
	binary.BigEndian.PutUint64(b[:], uint64(to))
	binary.BigEndian.PutUint32(b[8:], uint32(replyTo))
	h.Write(b[:])
	h.Write(binary.AppendUvarint(nil, uint64(len(text))))
	h.Write([]byte(text))
	h.Write(entities)
	return h.Sum64()
}

// MediaFingerprint is Fingerprint of a message with media: the media bytes are hashed too (the same as
// Fingerprint without media).
func MediaFingerprint(to int64, text string, entities []byte, replyTo int32, media []byte) uint64 {
	fp := Fingerprint(to, text, entities, replyTo)
	if len(media) == 0 {
		return fp
	}
	h := fnv.New64a()
	h.Write(binary.BigEndian.AppendUint64(nil, fp))
	h.Write(media)
	return h.Sum64()
}

// Command encodes s.
func (s *Send) Command() fsm.Command {
	var w wbuf
	w.i64(s.From)
	w.i64(s.To)
	w.i64(s.RandomID)
	w.u64(s.Fingerprint)
	w.bool(s.Silent)
	w.bool(s.ClearDraft)
	w.i32(s.ReplyTo)
	w.i64(s.FwdFrom)
	w.i32(s.FwdDate)
	w.str(s.Text)
	w.blob(s.Entities)
	if len(s.Media) > 0 { // trailing, so that a text message encodes as before media existed
		w.blob(s.Media)
		w.i64(s.GroupedID)
	}
	return fsm.Command{Type: TypeSend, Payload: w.b}
}

func (s *Send) decode(b []byte) error {
	r := rbuf{b: b}
	s.From, s.To, s.RandomID, s.Fingerprint = r.i64(), r.i64(), r.i64(), r.u64()
	s.Silent, s.ClearDraft = r.bool(), r.bool()
	s.ReplyTo, s.FwdFrom, s.FwdDate = r.i32(), r.i64(), r.i32()
	s.Text, s.Entities = r.str(), r.blob()
	if len(r.b) > 0 && !r.bad {
		if s.Media = r.blob(); len(s.Media) == 0 {
			return errCorrupt // one encoding per command
		}
		s.GroupedID = r.i64()
	}
	return r.end()
}

// Forward is messages.forwardMessages: From copies its own messages IDs of dialog FromPeer to To.
type Forward struct {
	From, FromPeer, To int64
	IDs                []int32
	RandomIDs          []int64
	Silent             bool
}

// Command encodes f.
func (f *Forward) Command() fsm.Command {
	var w wbuf
	w.i64(f.From)
	w.i64(f.FromPeer)
	w.i64(f.To)
	w.i32s(f.IDs)
	w.i64s(f.RandomIDs)
	w.bool(f.Silent)
	return fsm.Command{Type: TypeForward, Payload: w.b}
}

func (f *Forward) decode(b []byte) error {
	r := rbuf{b: b}
	f.From, f.FromPeer, f.To = r.i64(), r.i64(), r.i64()
	f.IDs, f.RandomIDs, f.Silent = r.i32s(), r.i64s(), r.bool()
	if len(f.IDs) != len(f.RandomIDs) {
		return errCorrupt
	}
	return r.end()
}

// Item is one outbox item.
type Item struct {
	Seq   uint64
	Event Event
}

// DeliverBatch hands outbox items of shard Src, in seq order, to their destination shard.
type DeliverBatch struct {
	Src   uint32
	Items []Item
}

// Command encodes d.
func (d *DeliverBatch) Command() fsm.Command {
	var w wbuf
	w.b = binary.BigEndian.AppendUint32(w.b, d.Src)
	w.uv(uint64(len(d.Items)))
	for i := range d.Items {
		w.u64(d.Items[i].Seq)
		d.Items[i].Event.encode(&w)
	}
	return fsm.Command{Type: TypeDeliverBatch, Payload: w.b}
}

func (d *DeliverBatch) decode(b []byte) error {
	r := rbuf{b: b}
	if v := r.take(4); v != nil {
		d.Src = binary.BigEndian.Uint32(v)
	}
	n := r.count(40)
	d.Items = make([]Item, n)
	for i := range d.Items {
		d.Items[i].Seq = r.u64()
		d.Items[i].Event.decode(&r)
	}
	return r.end()
}

// ReadHistory is messages.readHistory.
type ReadHistory struct {
	User, Peer int64
	MaxID      int32
}

// Command encodes c.
func (c *ReadHistory) Command() fsm.Command {
	var w wbuf
	w.i64(c.User)
	w.i64(c.Peer)
	w.i32(c.MaxID)
	return fsm.Command{Type: TypeReadHistory, Payload: w.b}
}

func (c *ReadHistory) decode(b []byte) error {
	r := rbuf{b: b}
	c.User, c.Peer, c.MaxID = r.i64(), r.i64(), r.i32()
	return r.end()
}

// Edit is messages.editMessage (text and entities).
type Edit struct {
	User, Peer int64
	ID         int32
	Text       string
	Entities   []byte
}

// Command encodes c.
func (c *Edit) Command() fsm.Command {
	var w wbuf
	w.i64(c.User)
	w.i64(c.Peer)
	w.i32(c.ID)
	w.str(c.Text)
	w.blob(c.Entities)
	return fsm.Command{Type: TypeEdit, Payload: w.b}
}

func (c *Edit) decode(b []byte) error {
	r := rbuf{b: b}
	c.User, c.Peer, c.ID, c.Text, c.Entities = r.i64(), r.i64(), r.i32(), r.str(), r.blob()
	return r.end()
}

// Delete is messages.deleteMessages.
type Delete struct {
	User   int64
	IDs    []int32
	Revoke bool
}

// Command encodes c.
func (c *Delete) Command() fsm.Command {
	var w wbuf
	w.i64(c.User)
	w.i32s(c.IDs)
	w.bool(c.Revoke)
	return fsm.Command{Type: TypeDelete, Payload: w.b}
}

func (c *Delete) decode(b []byte) error {
	r := rbuf{b: b}
	c.User, c.IDs, c.Revoke = r.i64(), r.i32s(), r.bool()
	return r.end()
}

// DeleteHistory is messages.deleteHistory.
type DeleteHistory struct {
	User, Peer int64
	MaxID      int32 // 0: all
	Revoke     bool
	JustClear  bool
}

// Command encodes c.
func (c *DeleteHistory) Command() fsm.Command {
	var w wbuf
	w.i64(c.User)
	w.i64(c.Peer)
	w.i32(c.MaxID)
	w.bool(c.Revoke)
	w.bool(c.JustClear)
	return fsm.Command{Type: TypeDeleteHistory, Payload: w.b}
}

func (c *DeleteHistory) decode(b []byte) error {
	r := rbuf{b: b}
	c.User, c.Peer, c.MaxID, c.Revoke, c.JustClear = r.i64(), r.i64(), r.i32(), r.bool(), r.bool()
	return r.end()
}

// OutboxTrim drops outbox items toward Dst up to Upto (acknowledged by Dst's watermark).
type OutboxTrim struct {
	Dst  uint32
	Upto uint64
}

// Command encodes c.
func (c *OutboxTrim) Command() fsm.Command {
	var w wbuf
	w.b = binary.BigEndian.AppendUint32(w.b, c.Dst)
	w.u64(c.Upto)
	return fsm.Command{Type: TypeOutboxTrim, Payload: w.b}
}

func (c *OutboxTrim) decode(b []byte) error {
	r := rbuf{b: b}
	if v := r.take(4); v != nil {
		c.Dst = binary.BigEndian.Uint32(v)
	}
	c.Upto = r.u64()
	return r.end()
}

// Dialog ops.
const (
	OpPin byte = iota + 1
	OpMarkUnread
	OpDraft
)

// DialogOp changes a dialog's pinned state, unread mark or draft (no pts: pushed only).
type DialogOp struct {
	User, Peer int64
	Op         byte
	Flag       bool   // pin / unpin, mark / unmark
	Draft      *Draft // OpDraft: nil clears
}

// Command encodes c.
func (c *DialogOp) Command() fsm.Command {
	var w wbuf
	w.i64(c.User)
	w.i64(c.Peer)
	w.u8(c.Op)
	w.bool(c.Flag)
	w.bool(c.Draft != nil)
	if c.Draft != nil {
		w.i32(c.Draft.Date)
		w.i32(c.Draft.ReplyTo)
		w.bool(c.Draft.NoWebpage)
		w.str(c.Draft.Text)
		w.blob(c.Draft.Entities)
	}
	return fsm.Command{Type: TypeDialog, Payload: w.b}
}

func (c *DialogOp) decode(b []byte) error {
	r := rbuf{b: b}
	c.User, c.Peer, c.Op, c.Flag = r.i64(), r.i64(), r.u8(), r.bool()
	if r.bool() {
		c.Draft = &Draft{Date: r.i32(), ReplyTo: r.i32(), NoWebpage: r.bool(), Text: r.str(), Entities: r.blob()}
	}
	return r.end()
}

// Inject puts a message from From (a sender without a box, e.g. the service account 777000) into Owner's box.
type Inject struct {
	Owner, From int64
	Text        string
	Entities    []byte
}

// Command encodes c.
func (c *Inject) Command() fsm.Command {
	var w wbuf
	w.i64(c.Owner)
	w.i64(c.From)
	w.str(c.Text)
	w.blob(c.Entities)
	return fsm.Command{Type: TypeInject, Payload: w.b}
}

func (c *Inject) decode(b []byte) error {
	r := rbuf{b: b}
	c.Owner, c.From, c.Text, c.Entities = r.i64(), r.i64(), r.str(), r.blob()
	return r.end()
}
