package box

// Message is one message in one user's box.
type Message struct {
	ID        int32
	Peer      int64 // the other side of the dialog (the owner itself for Saved Messages)
	From      int64 // sender
	Out       bool
	Silent    bool
	Date      int32 // unix seconds
	PeerMsgID int32 // incoming: the sender's id of this message (0 otherwise)
	ReplyTo   int32 // id in this box, 0 none
	EditDate  int32
	FwdFrom   int64 // forwarded: original sender, 0 none
	FwdDate   int32
	Text      string
	Entities  []byte // opaque (the messages domain's TL encoding)
	Media     []byte // opaque (the messages domain's TL encoding of the message's media); nil: none
	GroupedID int64  // album the message belongs to (only with media); 0: none
}

const (
	mfOut = 1 << iota
	mfSilent
)

// encode writes record version 1, or 2 (1 + media) for a message with media when the text is included: a
// message without media encodes as before media existed.
func (m *Message) encode(w *wbuf, withText bool) {
	withMedia := withText && len(m.Media) > 0
	if withMedia {
		w.u8(2)
	} else {
		w.u8(1)
	}
	var f byte
	if m.Out {
		f |= mfOut
	}
	if m.Silent {
		f |= mfSilent
	}
	w.u8(f)
	w.i32(m.ID)
	w.i64(m.Peer)
	w.i64(m.From)
	w.i32(m.Date)
	w.i32(m.PeerMsgID)
	w.i32(m.ReplyTo)
	w.i32(m.EditDate)
	w.i64(m.FwdFrom)
	w.i32(m.FwdDate)
	if withText {
		w.str(m.Text)
		w.blob(m.Entities)
	} else {
		w.str("")
		w.blob(nil)
	}
	if withMedia {
		w.blob(m.Media)
		w.i64(m.GroupedID)
	}
}

func (m *Message) decode(r *rbuf) {
	version := r.u8()
	if version != 1 && version != 2 {
		r.bad = true
		return
	}
	f := r.u8()
	m.Out, m.Silent = f&mfOut != 0, f&mfSilent != 0
	m.ID = r.i32()
	m.Peer = r.i64()
	m.From = r.i64()
	m.Date = r.i32()
	m.PeerMsgID = r.i32()
	m.ReplyTo = r.i32()
	m.EditDate = r.i32()
	m.FwdFrom = r.i64()
	m.FwdDate = r.i32()
	m.Text = r.str()
	m.Entities = r.blob()
	if version == 2 {
		m.Media = r.blob()
		m.GroupedID = r.i64()
	}
}

func decodeMessage(b []byte) (Message, error) {
	var m Message
	r := rbuf{b: b}
	m.decode(&r)
	return m, r.end()
}

func encodeMessage(m *Message) []byte {
	var w wbuf
	m.encode(&w, true)
	return w.b
}

// Draft is a dialog's saved draft.
type Draft struct {
	Date      int32
	ReplyTo   int32
	NoWebpage bool
	Text      string
	Entities  []byte
}

// Dialog is the state of one dialog of a user.
type Dialog struct {
	Peer       int64
	Top        int32 // top message id, 0: no messages (not listed by getDialogs unless pinned)
	TopDate    int32
	ReadIn     int32 // read_inbox_max_id
	ReadOut    int32 // read_outbox_max_id
	Unread     int32 // incoming messages above ReadIn
	Count      int32 // messages in the dialog
	Pinned     bool
	UnreadMark bool
	Draft      *Draft
}

func (d *Dialog) encode(w *wbuf) {
	w.u8(1)
	w.i64(d.Peer)
	w.i32(d.Top)
	w.i32(d.TopDate)
	w.i32(d.ReadIn)
	w.i32(d.ReadOut)
	w.i32(d.Unread)
	w.i32(d.Count)
	w.bool(d.Pinned)
	w.bool(d.UnreadMark)
	w.bool(d.Draft != nil)
	if d.Draft != nil {
		w.i32(d.Draft.Date)
		w.i32(d.Draft.ReplyTo)
		w.bool(d.Draft.NoWebpage)
		w.str(d.Draft.Text)
		w.blob(d.Draft.Entities)
	}
}

func (d *Dialog) decode(r *rbuf) {
	if r.u8() != 1 {
		r.bad = true
		return
	}
	d.Peer = r.i64()
	d.Top = r.i32()
	d.TopDate = r.i32()
	d.ReadIn = r.i32()
	d.ReadOut = r.i32()
	d.Unread = r.i32()
	d.Count = r.i32()
	d.Pinned = r.bool()
	d.UnreadMark = r.bool()
	if r.bool() {
		d.Draft = &Draft{Date: r.i32(), ReplyTo: r.i32(), NoWebpage: r.bool(), Text: r.str(), Entities: r.blob()}
	}
}

// Meta is a user's box counters.
type Meta struct {
	LastID  int32 // last message id allocated
	Pts     int32
	Floor   int32 // update log entries ending at pts <= Floor may be trimmed
	Dialogs int32 // dialogs with messages
}

func (m *Meta) encode(w *wbuf) {
	w.u8(1)
	w.i32(m.LastID)
	w.i32(m.Pts)
	w.i32(m.Floor)
	w.i32(m.Dialogs)
}

func (m *Meta) decode(r *rbuf) {
	if r.u8() != 1 {
		r.bad = true
		return
	}
	m.LastID, m.Pts, m.Floor, m.Dialogs = r.i32(), r.i32(), r.i32(), r.i32()
}

// UpdateKind is the kind of an update log entry.
type UpdateKind uint8

// Update log kinds.
const (
	UpdNone UpdateKind = iota
	UpdNewMessage
	UpdEditMessage
	UpdDeleteMessages
	UpdReadInbox
	UpdReadOutbox
)

// Update is one entry of a user's update log: it occupies pts (Pts-Count, Pts].
type Update struct {
	Kind  UpdateKind
	Pts   int32
	Count int32
	Peer  int64   // reads: the dialog
	MsgID int32   // new/edit: the message; reads: max id
	Still int32   // read inbox: still unread
	IDs   []int32 // delete
}

func (u *Update) encode(w *wbuf) {
	w.u8(byte(u.Kind))
	w.i32(u.Pts)
	w.i32(u.Count)
	w.i64(u.Peer)
	w.i32(u.MsgID)
	w.i32(u.Still)
	w.i32s(u.IDs)
}

func (u *Update) decode(r *rbuf) {
	u.Kind = UpdateKind(r.u8())
	u.Pts = r.i32()
	u.Count = r.i32()
	u.Peer = r.i64()
	u.MsgID = r.i32()
	u.Still = r.i32()
	u.IDs = r.i32s()
}

// EventKind is the kind of a cross-box event (an outbox item, or applied directly within one shard).
type EventKind uint8

// Event kinds.
const (
	EvNew EventKind = iota + 1
	EvEdit
	EvDelete
	EvReadOutbox
)

// Event is what one box tells another (DESIGN.md "Cross-shard delivery").
type Event struct {
	Kind      EventKind
	From, To  int64 // From acts, To's box receives
	MsgID     int32 // new, edit: From's id of the message; read outbox: max id in To's box
	Date      int32 // new: date; edit: edit date
	Silent    bool
	ReplyOwn  int32 // new: replied message, in To's ids
	ReplyPeer int32 // new: replied message, in From's ids (mapped through To's xref)
	FwdFrom   int64
	FwdDate   int32
	Text      string
	Entities  []byte
	Media     []byte  // new: the message's media (opaque, like Entities)
	GroupedID int64   // new: the album (only with media)
	OwnIDs    []int32 // delete: To's ids
	PeerIDs   []int32 // delete: From's ids (mapped through To's xref)
}

// eventHasMedia marks, in the kind byte, an event followed by its media: an event without media encodes as
// before media existed.
const eventHasMedia = 0x80

func (e *Event) encode(w *wbuf) {
	if len(e.Media) > 0 {
		w.u8(byte(e.Kind) | eventHasMedia)
	} else {
		w.u8(byte(e.Kind))
	}
	w.i64(e.From)
	w.i64(e.To)
	w.i32(e.MsgID)
	w.i32(e.Date)
	w.bool(e.Silent)
	w.i32(e.ReplyOwn)
	w.i32(e.ReplyPeer)
	w.i64(e.FwdFrom)
	w.i32(e.FwdDate)
	w.str(e.Text)
	w.blob(e.Entities)
	w.i32s(e.OwnIDs)
	w.i32s(e.PeerIDs)
	if len(e.Media) > 0 {
		w.blob(e.Media)
		w.i64(e.GroupedID)
	}
}

func (e *Event) decode(r *rbuf) {
	k := r.u8()
	e.Kind = EventKind(k &^ eventHasMedia)
	e.From = r.i64()
	e.To = r.i64()
	e.MsgID = r.i32()
	e.Date = r.i32()
	e.Silent = r.bool()
	e.ReplyOwn = r.i32()
	e.ReplyPeer = r.i32()
	e.FwdFrom = r.i64()
	e.FwdDate = r.i32()
	e.Text = r.str()
	e.Entities = r.blob()
	e.OwnIDs = r.i32s()
	e.PeerIDs = r.i32s()
	if k&eventHasMedia != 0 {
		if e.Media = r.blob(); len(e.Media) == 0 {
			r.bad = true // one encoding per event
		}
		e.GroupedID = r.i64()
	}
	if e.Kind < EvNew || e.Kind > EvReadOutbox {
		r.bad = true
	}
}

// Applied is what applying an event did to the receiving box: the update to push to its owner.
// Msg is the receiver's record for new and edited messages (of a new message without text and entities: the
// pusher takes them from the event, so that results stay small).
type Applied struct {
	Seq    uint64 // outbox seq (0 within one shard)
	Owner  int64
	Update Update // Kind UpdNone: nothing changed (e.g. an edit of a message the receiver deleted)
	Msg    *Message
}

func (a *Applied) encode(w *wbuf) {
	w.u64(a.Seq)
	w.i64(a.Owner)
	a.Update.encode(w)
	w.bool(a.Msg != nil)
	if a.Msg != nil {
		a.Msg.encode(w, a.Update.Kind != UpdNewMessage)
	}
}

func (a *Applied) decode(r *rbuf) {
	a.Seq = r.u64()
	a.Owner = r.i64()
	a.Update.decode(r)
	if r.bool() {
		a.Msg = &Message{}
		a.Msg.decode(r)
	}
}

// Result is the outcome of a box command (which fields are set depends on the command).
type Result struct {
	Pts       int32
	PtsCount  int32
	Date      int32
	Dup       bool      // send: a retry with the same random_id; the ids are the first send's
	Msgs      []Message // the caller's new (send: without text) or edited messages
	Updates   []Update  // the caller's update log entries written by this command
	IDs       []int32   // delete: ids deleted from the caller's box
	Offset    int32     // delete history: > 0 means call again
	Watermark uint64    // deliver batch
	Applied   []Applied // effects on other boxes of the same shard, or of a delivered batch
}

// EncodeResult encodes r (exported for tests of other packages that fake results).
func EncodeResult(r *Result, withText bool) []byte {
	var w wbuf
	w.u8(1)
	w.i32(r.Pts)
	w.i32(r.PtsCount)
	w.i32(r.Date)
	w.bool(r.Dup)
	w.uv(uint64(len(r.Msgs)))
	for i := range r.Msgs {
		r.Msgs[i].encode(&w, withText)
	}
	w.uv(uint64(len(r.Updates)))
	for i := range r.Updates {
		r.Updates[i].encode(&w)
	}
	w.i32s(r.IDs)
	w.i32(r.Offset)
	w.u64(r.Watermark)
	w.uv(uint64(len(r.Applied)))
	for i := range r.Applied {
		r.Applied[i].encode(&w)
	}
	return w.b
}

// DecodeResult decodes the result of a box command.
func DecodeResult(b []byte) (*Result, error) {
	r := rbuf{b: b}
	if r.u8() != 1 {
		return nil, errCorrupt
	}
	res := &Result{Pts: r.i32(), PtsCount: r.i32(), Date: r.i32(), Dup: r.bool()}
	if n := r.count(40); n > 0 {
		res.Msgs = make([]Message, n)
		for i := range res.Msgs {
			res.Msgs[i].decode(&r)
		}
	}
	if n := r.count(20); n > 0 {
		res.Updates = make([]Update, n)
		for i := range res.Updates {
			res.Updates[i].decode(&r)
		}
	}
	res.IDs = r.i32s()
	res.Offset = r.i32()
	res.Watermark = r.u64()
	if n := r.count(30); n > 0 {
		res.Applied = make([]Applied, n)
		for i := range res.Applied {
			res.Applied[i].decode(&r)
		}
	}
	return res, r.end()
}
