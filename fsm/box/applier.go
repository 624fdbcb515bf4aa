package box

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"

	"github.com/raftgram/raftgram/fsm"
	"github.com/raftgram/raftgram/shard"
)

// Limits decided in apply (part of the state machine's definition: every replica must use the same values).
const (
	// DefaultLogKeep is how many update log entries a user keeps (older ones: differenceTooLong).
	DefaultLogKeep = 100000
	// MaxPinned is the number of pinned dialogs (PINNED_DIALOGS_TOO_MUCH above it).
	MaxPinned = 5
	// MaxIDsPerCommand bounds deletes and forwards.
	MaxIDsPerCommand = 1000
	// historyChunk is how many messages one DeleteHistory command removes.
	historyChunk = 1000
)

// Config is the state machine's configuration; every replica of a cluster must use the same Shards and LogKeep.
type Config struct {
	Shards  int   // the cluster's shard count (fixed at init)
	LogKeep int32 // update log entries kept per user (default DefaultLogKeep)
	// OnOutbox, if set, is called after a command of shard src appended outbox items on this replica, with the
	// items (committed: raft applies only committed entries). It must not block or keep items beyond its own
	// bound, and it does not affect the state.
	OnOutbox func(src uint32, items []Pending)
}

// Applier applies this package's commands.
type Applier struct{ cfg Config }

// New returns the Applier.
func New(cfg Config) *Applier {
	if cfg.LogKeep <= 0 {
		cfg.LogKeep = DefaultLogKeep
	}
	return &Applier{cfg: cfg}
}

// Appliers maps every command type of the package to a.
func (a *Applier) Appliers() map[fsm.CommandType]fsm.Applier {
	m := map[fsm.CommandType]fsm.Applier{}
	for t := TypeSend; t <= TypeInject; t++ {
		m[t] = a
	}
	return m
}

// AbsentKeyPrefixes implements fsm.AbsentKeys: every send looks up its random_id receipt, and nearly every
// lookup finds nothing (the id is new); the shard's filter answers those without a Pebble read.
func (a *Applier) AbsentKeyPrefixes() [][]byte { return [][]byte{{'m', 'b', kReceipt}} }

var _ fsm.AbsentKeys = (*Applier)(nil)

func invalid(what string) error { return &fsm.ApplyError{Code: CodePayloadInvalid, Msg: what} }

// Apply implements fsm.Applier.
func (a *Applier) Apply(tx *fsm.Tx, cmd fsm.Command) ([]byte, error) {
	t := &atx{tx: tx, cfg: &a.cfg, date: int32(cmd.Time / 1000), metas: map[int64]*Meta{},
		dialogs: map[[2]int64]*dialogState{}}
	out, err := t.apply(cmd)
	if err != nil {
		var ae *fsm.ApplyError
		if errors.Is(err, errCorrupt) && !errors.As(err, &ae) {
			err = &fsm.ApplyError{Code: CodeRecordInvalid, Msg: err.Error()}
		}
		return nil, err
	}
	if err := t.flush(); err != nil {
		return nil, err
	}
	if len(t.outbox) > 0 && a.cfg.OnOutbox != nil {
		a.cfg.OnOutbox(t.src, t.outbox)
	}
	return out, nil
}

func (t *atx) apply(cmd fsm.Command) ([]byte, error) {
	switch cmd.Type {
	case TypeSend:
		var s Send
		if s.decode(cmd.Payload) != nil || s.From <= 0 || s.To <= 0 {
			return nil, invalid("send")
		}
		t.src = shard.Of(s.From, t.cfg.Shards)
		var res Result
		if err := t.send(&s, &res); err != nil {
			return nil, err
		}
		return EncodeResult(&res, false), nil
	case TypeForward:
		var f Forward
		if f.decode(cmd.Payload) != nil || f.From <= 0 || f.To <= 0 || len(f.IDs) > MaxIDsPerCommand {
			return nil, invalid("forward")
		}
		t.src = shard.Of(f.From, t.cfg.Shards)
		return t.forward(&f)
	case TypeDeliverBatch:
		var d DeliverBatch
		if d.decode(cmd.Payload) != nil {
			return nil, invalid("deliver batch")
		}
		return t.deliver(&d)
	case TypeReadHistory:
		var c ReadHistory
		if c.decode(cmd.Payload) != nil || c.User <= 0 || c.Peer <= 0 {
			return nil, invalid("read history")
		}
		t.src = shard.Of(c.User, t.cfg.Shards)
		return t.readHistory(&c)
	case TypeEdit:
		var c Edit
		if c.decode(cmd.Payload) != nil || c.User <= 0 {
			return nil, invalid("edit")
		}
		t.src = shard.Of(c.User, t.cfg.Shards)
		return t.edit(&c)
	case TypeDelete:
		var c Delete
		if c.decode(cmd.Payload) != nil || c.User <= 0 || len(c.IDs) > MaxIDsPerCommand {
			return nil, invalid("delete")
		}
		t.src = shard.Of(c.User, t.cfg.Shards)
		return t.delete(&c)
	case TypeDeleteHistory:
		var c DeleteHistory
		if c.decode(cmd.Payload) != nil || c.User <= 0 || c.Peer <= 0 {
			return nil, invalid("delete history")
		}
		t.src = shard.Of(c.User, t.cfg.Shards)
		return t.deleteHistory(&c)
	case TypeOutboxTrim:
		var c OutboxTrim
		if c.decode(cmd.Payload) != nil {
			return nil, invalid("outbox trim")
		}
		return nil, t.trimOutbox(c.Dst, c.Upto)
	case TypeDialog:
		var c DialogOp
		if c.decode(cmd.Payload) != nil || c.User <= 0 || c.Peer <= 0 {
			return nil, invalid("dialog")
		}
		return nil, t.dialogOp(&c)
	case TypeInject:
		var c Inject
		if c.decode(cmd.Payload) != nil || c.Owner <= 0 || c.From <= 0 {
			return nil, invalid("inject")
		}
		m := Message{Peer: c.From, From: c.From, Date: t.date, Text: c.Text, Entities: c.Entities}
		upd, err := t.newMessage(c.Owner, &m)
		if err != nil {
			return nil, err
		}
		res := Result{Pts: upd.Pts, PtsCount: upd.Count, Date: t.date, Msgs: []Message{m}, Updates: []Update{upd}}
		return EncodeResult(&res, true), nil
	}
	return nil, invalid(fmt.Sprintf("unknown command type %d", cmd.Type))
}

// atx is one command's view: cached counters and dialogs, written back by flush.
type atx struct {
	tx      *fsm.Tx
	cfg     *Config
	date    int32
	metas   map[int64]*Meta
	dialogs map[[2]int64]*dialogState
	src     uint32    // the shard the command runs in (commands of a user)
	outbox  []Pending // items appended to the outbox, by destination (for OnOutbox)
}

type dialogState struct {
	d       Dialog
	oldTop  int32
	exists  bool
	deleted bool
	dirty   bool
}

func (t *atx) meta(u int64) (*Meta, error) {
	if m := t.metas[u]; m != nil {
		return m, nil
	}
	m := &Meta{}
	v, ok, err := t.tx.Get(metaKey(u))
	if err != nil {
		return nil, err
	}
	if ok {
		r := rbuf{b: v}
		m.decode(&r)
		if err := r.end(); err != nil {
			return nil, err
		}
	}
	t.metas[u] = m
	return m, nil
}

func (t *atx) dialog(u, peer int64) (*dialogState, error) {
	k := [2]int64{u, peer}
	if ds := t.dialogs[k]; ds != nil {
		return ds, nil
	}
	ds := &dialogState{d: Dialog{Peer: peer}}
	v, ok, err := t.tx.Get(dialogKey(u, peer))
	if err != nil {
		return nil, err
	}
	if ok {
		r := rbuf{b: v}
		ds.d.decode(&r)
		if err := r.end(); err != nil {
			return nil, err
		}
		ds.exists, ds.oldTop = true, ds.d.Top
	}
	t.dialogs[k] = ds
	return ds, nil
}

func (t *atx) flush() error {
	for k, ds := range t.dialogs {
		u, peer := k[0], k[1]
		if !ds.dirty {
			continue
		}
		top := ds.d.Top
		if ds.deleted {
			top = 0
			if err := t.tx.Delete(dialogKey(u, peer)); err != nil {
				return err
			}
		} else {
			var w wbuf
			ds.d.encode(&w)
			if err := t.tx.Set(dialogKey(u, peer), w.b); err != nil {
				return err
			}
		}
		if top == ds.oldTop {
			continue
		}
		m, err := t.meta(u)
		if err != nil {
			return err
		}
		if ds.oldTop > 0 {
			m.Dialogs--
			if err := t.tx.Delete(indexKey(u, ds.oldTop, peer)); err != nil {
				return err
			}
		}
		if top > 0 {
			m.Dialogs++
			if err := t.tx.Set(indexKey(u, top, peer), nil); err != nil {
				return err
			}
		}
	}
	for u, m := range t.metas {
		var w wbuf
		m.encode(&w)
		if err := t.tx.Set(metaKey(u), w.b); err != nil {
			return err
		}
	}
	return nil
}

// getMessage reads message id of u's box.
func (t *atx) getMessage(u int64, id int32) (*Message, bool, error) {
	if id <= 0 {
		return nil, false, nil
	}
	v, ok, err := t.tx.Get(msgKey(u, id))
	if err != nil || !ok {
		return nil, false, err
	}
	m, err := decodeMessage(v)
	if err != nil {
		return nil, false, err
	}
	return &m, true, nil
}

func (t *atx) putMessage(u int64, m *Message) error {
	return t.tx.Set(msgKey(u, m.ID), encodeMessage(m))
}

// histValue is the value of a history index entry: enough to count unread and map reads without the record.
func histValue(m *Message) []byte {
	b := []byte{0}
	if m.Out {
		b[0] = mfOut
	}
	return binary.BigEndian.AppendUint32(b, uint32(m.PeerMsgID))
}

// log appends upd to u's update log, allocating upd.Count pts.
func (t *atx) log(u int64, upd *Update) error {
	m, err := t.meta(u)
	if err != nil {
		return err
	}
	m.Pts += upd.Count
	upd.Pts = m.Pts
	var w wbuf
	upd.encode(&w)
	if err := t.tx.Set(logKey(u, m.Pts), w.b); err != nil {
		return err
	}
	// Trim in chunks of keep/8 (at least 16) so that a command rarely pays for it.
	keep := t.cfg.LogKeep
	if m.Pts-m.Floor <= keep+max(keep/8, 16) {
		return nil
	}
	floor := m.Pts - keep
	var keys [][]byte
	if err := t.tx.Scan(logKey(u, m.Floor+1), logKey(u, floor+1), func(k, _ []byte) bool {
		keys = append(keys, append([]byte(nil), k...))
		return true
	}); err != nil {
		return err
	}
	for _, k := range keys {
		if err := t.tx.Delete(k); err != nil {
			return err
		}
	}
	m.Floor = floor
	return nil
}

// newMessage stores m (ID allocated here) in u's box and logs it.
func (t *atx) newMessage(u int64, m *Message) (Update, error) {
	meta, err := t.meta(u)
	if err != nil {
		return Update{}, err
	}
	if meta.LastID == 1<<31-1 {
		return Update{}, &fsm.ApplyError{Code: "BOX_FULL"}
	}
	meta.LastID++
	m.ID = meta.LastID
	if err := t.putMessage(u, m); err != nil {
		return Update{}, err
	}
	if err := t.tx.Set(histKey(u, m.Peer, m.ID), histValue(m)); err != nil {
		return Update{}, err
	}
	ds, err := t.dialog(u, m.Peer)
	if err != nil {
		return Update{}, err
	}
	ds.dirty, ds.deleted = true, false
	ds.d.Top, ds.d.TopDate = m.ID, m.Date
	ds.d.Count++
	if !m.Out {
		ds.d.Unread++
	}
	upd := Update{Kind: UpdNewMessage, Count: 1, Peer: m.Peer, MsgID: m.ID}
	return upd, t.log(u, &upd)
}

// deleteMessage removes id from u's box (no log entry: the caller logs the batch).
func (t *atx) deleteMessage(u int64, id int32) (*Message, bool, error) {
	m, ok, err := t.getMessage(u, id)
	if err != nil || !ok {
		return nil, false, err
	}
	if err := t.tx.Delete(msgKey(u, id)); err != nil {
		return nil, false, err
	}
	if err := t.tx.Delete(histKey(u, m.Peer, id)); err != nil {
		return nil, false, err
	}
	if !m.Out && m.PeerMsgID > 0 {
		if err := t.tx.Delete(xrefKey(u, m.From, m.PeerMsgID)); err != nil {
			return nil, false, err
		}
	}
	ds, err := t.dialog(u, m.Peer)
	if err != nil {
		return nil, false, err
	}
	ds.dirty = true
	ds.d.Count = max(ds.d.Count-1, 0)
	if !m.Out && id > ds.d.ReadIn && ds.d.Unread > 0 {
		ds.d.Unread--
	}
	if ds.d.Top == id {
		ds.d.Top, ds.d.TopDate = 0, 0
		var top int32
		if err := t.tx.ScanReverse(histPrefix(u, m.Peer), histKey(u, m.Peer, id), func(k, _ []byte) bool {
			top = tail32(k)
			return false
		}); err != nil {
			return nil, false, err
		}
		if top > 0 {
			tm, ok, err := t.getMessage(u, top)
			if err != nil {
				return nil, false, err
			}
			ds.d.Top = top
			if ok {
				ds.d.TopDate = tm.Date
			}
		}
	}
	return m, true, nil
}

// emit applies ev to its receiver now (same shard) or appends it to the outbox toward the receiver's shard.
func (t *atx) emit(ev *Event, res *Result) error {
	if ev.To == ev.From {
		return nil
	}
	dst := shard.Of(ev.To, t.cfg.Shards)
	if dst == t.src {
		a, err := t.applyEvent(ev)
		if err != nil {
			return err
		}
		res.Applied = append(res.Applied, a)
		return nil
	}
	last, trimmed, err := t.outSeq(dst)
	if err != nil {
		return err
	}
	last++
	var w wbuf
	ev.encode(&w)
	if err := t.tx.Set(outboxKey(dst, last), w.b); err != nil {
		return err
	}
	if t.cfg.OnOutbox != nil {
		it := Item{Seq: last, Event: *ev}
		if n := len(t.outbox); n > 0 && t.outbox[n-1].Dst == dst {
			t.outbox[n-1].Items = append(t.outbox[n-1].Items, it)
			t.outbox[n-1].Last = last
		} else {
			t.outbox = append(t.outbox, Pending{Dst: dst, Last: last, Items: []Item{it}})
		}
	}
	return t.tx.Set(outSeqKey(dst), outSeqValue(last, trimmed))
}

// outSeq reads the outbox counters toward dst: the last seq allocated and the last seq trimmed (items up to it
// are gone, so scans start after it instead of walking over their tombstones).
func (t *atx) outSeq(dst uint32) (last, trimmed uint64, err error) {
	v, ok, err := t.tx.Get(outSeqKey(dst))
	if err != nil || !ok {
		return 0, 0, err
	}
	last, trimmed, ok = decodeOutSeq(v)
	if !ok {
		return 0, 0, errCorrupt
	}
	return last, trimmed, nil
}

func outSeqValue(last, trimmed uint64) []byte {
	return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, last), trimmed)
}

func decodeOutSeq(v []byte) (last, trimmed uint64, ok bool) {
	if len(v) != 16 {
		return 0, 0, false
	}
	return binary.BigEndian.Uint64(v), binary.BigEndian.Uint64(v[8:]), true
}

// receipt value: fingerprint u64 | id i32 | pts i32 | date i32.
func (t *atx) send(s *Send, res *Result) error {
	if s.RandomID != 0 {
		v, ok, err := t.tx.Get(receiptKey(s.From, s.RandomID))
		if err != nil {
			return err
		}
		if ok {
			r := rbuf{b: v}
			fp, id, pts, date := r.u64(), r.i32(), r.i32(), r.i32()
			if err := r.end(); err != nil {
				return err
			}
			if fp != s.Fingerprint {
				return &fsm.ApplyError{Code: CodeRandomIDDuplicate}
			}
			res.Dup = true
			res.Pts, res.PtsCount, res.Date = pts, 1, date
			m, ok, err := t.getMessage(s.From, id)
			if err != nil {
				return err
			}
			if !ok {
				m = &Message{ID: id, Peer: s.To, From: s.From, Out: true, Date: date}
			}
			res.Msgs = append(res.Msgs, *m)
			return nil
		}
	}
	ev := Event{Kind: EvNew, From: s.From, To: s.To, Date: t.date, Silent: s.Silent, FwdFrom: s.FwdFrom,
		FwdDate: s.FwdDate, Text: s.Text, Entities: s.Entities, Media: s.Media, GroupedID: s.GroupedID}
	m := Message{Peer: s.To, From: s.From, Out: true, Silent: s.Silent, Date: t.date, FwdFrom: s.FwdFrom,
		FwdDate: s.FwdDate, Text: s.Text, Entities: s.Entities, Media: s.Media, GroupedID: s.GroupedID}
	if rm, ok, err := t.getMessage(s.From, s.ReplyTo); err != nil {
		return err
	} else if ok && rm.Peer == s.To {
		m.ReplyTo = s.ReplyTo
		if rm.Out {
			ev.ReplyPeer = s.ReplyTo
		} else {
			ev.ReplyOwn = rm.PeerMsgID
		}
	}
	upd, err := t.newMessage(s.From, &m)
	if err != nil {
		return err
	}
	if s.ClearDraft {
		ds, err := t.dialog(s.From, s.To)
		if err != nil {
			return err
		}
		ds.d.Draft = nil
	}
	if s.RandomID != 0 {
		var w wbuf
		w.u64(s.Fingerprint)
		w.i32(m.ID)
		w.i32(upd.Pts)
		w.i32(t.date)
		if err := t.tx.Set(receiptKey(s.From, s.RandomID), w.b); err != nil {
			return err
		}
	}
	ev.MsgID = m.ID
	res.Pts, res.PtsCount, res.Date = upd.Pts, res.PtsCount+1, t.date
	res.Msgs = append(res.Msgs, m)
	res.Updates = append(res.Updates, upd)
	return t.emit(&ev, res)
}

func (t *atx) forward(f *Forward) ([]byte, error) {
	var res Result
	for i, id := range f.IDs {
		rm, ok, err := t.getMessage(f.From, id)
		if err != nil {
			return nil, err
		}
		if !ok || rm.Peer != f.FromPeer {
			return nil, &fsm.ApplyError{Code: CodeMessageIDInvalid} // all or nothing: random ids map by position
		}
		h := fnv.New64a()
		h.Write(binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, uint64(f.FromPeer)), uint64(f.To)))
		h.Write(binary.BigEndian.AppendUint32(nil, uint32(id)))
		s := Send{From: f.From, To: f.To, RandomID: f.RandomIDs[i], Fingerprint: h.Sum64(), Silent: f.Silent,
			FwdFrom: rm.From, FwdDate: rm.Date, Text: rm.Text, Entities: rm.Entities, Media: rm.Media}
		if rm.FwdFrom != 0 {
			s.FwdFrom, s.FwdDate = rm.FwdFrom, rm.FwdDate
		}
		if err := t.send(&s, &res); err != nil {
			return nil, err
		}
	}
	if len(res.Msgs) == 0 {
		return nil, &fsm.ApplyError{Code: CodeMessageIDInvalid}
	}
	return EncodeResult(&res, true), nil
}

// applyEvent applies ev to the box of ev.To.
func (t *atx) applyEvent(ev *Event) (Applied, error) {
	owner := ev.To
	a := Applied{Owner: owner}
	xref := func(id int32) (int32, error) {
		v, ok, err := t.tx.Get(xrefKey(owner, ev.From, id))
		if err != nil || !ok || len(v) != 4 {
			return 0, err
		}
		return int32(binary.BigEndian.Uint32(v)), nil
	}
	switch ev.Kind {
	case EvNew:
		reply := int32(0)
		if ev.ReplyOwn > 0 {
			if rm, ok, err := t.getMessage(owner, ev.ReplyOwn); err != nil {
				return a, err
			} else if ok && rm.Peer == ev.From {
				reply = ev.ReplyOwn
			}
		} else if ev.ReplyPeer > 0 {
			id, err := xref(ev.ReplyPeer)
			if err != nil {
				return a, err
			}
			reply = id
		}
		m := Message{Peer: ev.From, From: ev.From, Silent: ev.Silent, Date: ev.Date, PeerMsgID: ev.MsgID,
			ReplyTo: reply, FwdFrom: ev.FwdFrom, FwdDate: ev.FwdDate, Text: ev.Text, Entities: ev.Entities,
			Media: ev.Media, GroupedID: ev.GroupedID}
		upd, err := t.newMessage(owner, &m)
		if err != nil {
			return a, err
		}
		if err := t.tx.Set(xrefKey(owner, ev.From, ev.MsgID), binary.BigEndian.AppendUint32(nil, uint32(m.ID))); err != nil {
			return a, err
		}
		a.Update, a.Msg = upd, &m
	case EvEdit:
		id, err := xref(ev.MsgID)
		if err != nil || id == 0 {
			return a, err
		}
		m, ok, err := t.getMessage(owner, id)
		if err != nil || !ok {
			return a, err
		}
		m.Text, m.Entities, m.EditDate = ev.Text, ev.Entities, ev.Date
		if err := t.putMessage(owner, m); err != nil {
			return a, err
		}
		a.Update = Update{Kind: UpdEditMessage, Count: 1, Peer: ev.From, MsgID: id}
		if err := t.log(owner, &a.Update); err != nil {
			return a, err
		}
		a.Msg = m
	case EvDelete:
		ids := slices.Clone(ev.OwnIDs)
		for _, pid := range ev.PeerIDs {
			id, err := xref(pid)
			if err != nil {
				return a, err
			}
			if id > 0 {
				ids = append(ids, id)
			}
		}
		var deleted []int32
		for _, id := range ids {
			m, ok, err := t.getMessage(owner, id)
			if err != nil {
				return a, err
			}
			if !ok || m.Peer != ev.From {
				continue // only messages of this dialog
			}
			if _, ok, err := t.deleteMessage(owner, id); err != nil {
				return a, err
			} else if ok {
				deleted = append(deleted, id)
			}
		}
		if len(deleted) > 0 {
			a.Update = Update{Kind: UpdDeleteMessages, Count: int32(len(deleted)), Peer: ev.From, IDs: deleted}
			if err := t.log(owner, &a.Update); err != nil {
				return a, err
			}
		}
	case EvReadOutbox:
		ds, err := t.dialog(owner, ev.From)
		if err != nil {
			return a, err
		}
		if !ds.exists && !ds.dirty || ev.MsgID <= ds.d.ReadOut {
			return a, nil
		}
		ds.dirty = true
		ds.d.ReadOut = ev.MsgID
		a.Update = Update{Kind: UpdReadOutbox, Count: 1, Peer: ev.From, MsgID: ev.MsgID}
		if err := t.log(owner, &a.Update); err != nil {
			return a, err
		}
	}
	return a, nil
}

func (t *atx) deliver(d *DeliverBatch) ([]byte, error) {
	var w uint64
	v, ok, err := t.tx.Get(inboundKey(d.Src))
	if err != nil {
		return nil, err
	}
	if ok && len(v) == 8 {
		w = binary.BigEndian.Uint64(v)
	}
	var res Result
	for i := range d.Items {
		it := &d.Items[i]
		if it.Seq <= w {
			continue // delivered before: the relay resent it
		}
		if it.Seq != w+1 {
			break // a gap: refuse the rest, the relay resumes from the watermark
		}
		a, err := t.applyEvent(&it.Event)
		if err != nil {
			return nil, err
		}
		a.Seq = it.Seq
		res.Applied = append(res.Applied, a)
		w = it.Seq
	}
	if err := t.tx.Set(inboundKey(d.Src), binary.BigEndian.AppendUint64(nil, w)); err != nil {
		return nil, err
	}
	res.Watermark = w
	return EncodeResult(&res, true), nil
}

func (t *atx) readHistory(c *ReadHistory) ([]byte, error) {
	u, peer := c.User, c.Peer
	var res Result
	ds, err := t.dialog(u, peer)
	if err != nil {
		return nil, err
	}
	m, err := t.meta(u)
	if err != nil {
		return nil, err
	}
	res.Pts = m.Pts
	if !ds.exists {
		return EncodeResult(&res, false), nil
	}
	if ds.d.UnreadMark {
		ds.d.UnreadMark, ds.dirty = false, true
	}
	maxID := c.MaxID
	if maxID <= 0 || maxID > ds.d.Top {
		maxID = ds.d.Top
	}
	if maxID <= ds.d.ReadIn {
		return EncodeResult(&res, false), nil
	}
	old := ds.d.ReadIn
	var still int32
	if err := t.tx.Scan(histKey(u, peer, maxID+1), fsm.PrefixEnd(histPrefix(u, peer)), func(_, v []byte) bool {
		if len(v) > 0 && v[0]&mfOut == 0 {
			still++
		}
		return true
	}); err != nil {
		return nil, err
	}
	var peerMax int32
	if err := t.tx.ScanReverse(histKey(u, peer, old+1), histKey(u, peer, maxID+1), func(_, v []byte) bool {
		if len(v) == 5 && v[0]&mfOut == 0 {
			peerMax = int32(binary.BigEndian.Uint32(v[1:]))
			return false
		}
		return true
	}); err != nil {
		return nil, err
	}
	ds.dirty = true
	ds.d.ReadIn, ds.d.Unread = maxID, still
	upd := Update{Kind: UpdReadInbox, Count: 1, Peer: peer, MsgID: maxID, Still: still}
	if err := t.log(u, &upd); err != nil {
		return nil, err
	}
	res.Pts, res.PtsCount = upd.Pts, 1
	res.Updates = []Update{upd}
	if peerMax > 0 {
		if err := t.emit(&Event{Kind: EvReadOutbox, From: u, To: peer, MsgID: peerMax}, &res); err != nil {
			return nil, err
		}
	}
	return EncodeResult(&res, false), nil
}

func (t *atx) edit(c *Edit) ([]byte, error) {
	m, ok, err := t.getMessage(c.User, c.ID)
	if err != nil {
		return nil, err
	}
	if !ok || m.Peer != c.Peer {
		return nil, &fsm.ApplyError{Code: CodeMessageIDInvalid}
	}
	if !m.Out {
		return nil, &fsm.ApplyError{Code: CodeAuthorRequired}
	}
	if m.Text == c.Text && bytes.Equal(m.Entities, c.Entities) {
		return nil, &fsm.ApplyError{Code: CodeNotModified}
	}
	if strings.TrimSpace(c.Text) == "" && len(m.Media) == 0 { // a caption may go, a text message's text may not
		return nil, &fsm.ApplyError{Code: CodeMessageEmpty}
	}
	m.Text, m.Entities, m.EditDate = c.Text, c.Entities, t.date
	if err := t.putMessage(c.User, m); err != nil {
		return nil, err
	}
	upd := Update{Kind: UpdEditMessage, Count: 1, Peer: c.Peer, MsgID: c.ID}
	if err := t.log(c.User, &upd); err != nil {
		return nil, err
	}
	res := Result{Pts: upd.Pts, PtsCount: 1, Date: t.date, Msgs: []Message{*m}, Updates: []Update{upd}}
	ev := Event{Kind: EvEdit, From: c.User, To: c.Peer, MsgID: c.ID, Date: t.date, Text: c.Text, Entities: c.Entities}
	if err := t.emit(&ev, &res); err != nil {
		return nil, err
	}
	return EncodeResult(&res, true), nil
}

// deleteIDs deletes ids from u's box, logs one update and, with revoke, tells each peer.
func (t *atx) deleteIDs(u int64, ids []int32, revoke bool, res *Result) error {
	own := map[int64][]int32{}
	peerIDs := map[int64][]int32{}
	var peers []int64
	seen := map[int32]bool{}
	seenPeer := map[int64]bool{}
	var deleted []int32
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		m, ok, err := t.deleteMessage(u, id)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		deleted = append(deleted, id)
		if m.Peer == u {
			continue
		}
		if !seenPeer[m.Peer] {
			seenPeer[m.Peer] = true
			peers = append(peers, m.Peer)
		}
		if m.Out {
			peerIDs[m.Peer] = append(peerIDs[m.Peer], id)
		} else if m.PeerMsgID > 0 {
			own[m.Peer] = append(own[m.Peer], m.PeerMsgID)
		}
	}
	meta, err := t.meta(u)
	if err != nil {
		return err
	}
	res.Pts = meta.Pts
	if len(deleted) == 0 {
		return nil
	}
	upd := Update{Kind: UpdDeleteMessages, Count: int32(len(deleted)), IDs: deleted}
	if err := t.log(u, &upd); err != nil {
		return err
	}
	res.Pts, res.PtsCount = upd.Pts, upd.Count
	res.IDs = deleted
	res.Updates = append(res.Updates, upd)
	if !revoke {
		return nil
	}
	for _, p := range peers { // first-seen order: deterministic
		ev := Event{Kind: EvDelete, From: u, To: p, OwnIDs: own[p], PeerIDs: peerIDs[p]}
		if err := t.emit(&ev, res); err != nil {
			return err
		}
	}
	return nil
}

func (t *atx) delete(c *Delete) ([]byte, error) {
	var res Result
	if err := t.deleteIDs(c.User, c.IDs, c.Revoke, &res); err != nil {
		return nil, err
	}
	return EncodeResult(&res, false), nil
}

func (t *atx) deleteHistory(c *DeleteHistory) ([]byte, error) {
	var ids []int32
	hi := fsm.PrefixEnd(histPrefix(c.User, c.Peer))
	if c.MaxID > 0 {
		hi = histKey(c.User, c.Peer, c.MaxID+1)
	}
	more := false
	if err := t.tx.Scan(histPrefix(c.User, c.Peer), hi, func(k, _ []byte) bool {
		if len(ids) == historyChunk {
			more = true
			return false
		}
		ids = append(ids, tail32(k))
		return true
	}); err != nil {
		return nil, err
	}
	var res Result
	if err := t.deleteIDs(c.User, ids, c.Revoke, &res); err != nil {
		return nil, err
	}
	if more {
		res.Offset = 1
	} else if !c.JustClear {
		ds, err := t.dialog(c.User, c.Peer)
		if err != nil {
			return nil, err
		}
		if ds.exists && ds.d.Top == 0 {
			ds.deleted, ds.dirty = true, true
			if err := t.setPinned(c.User, c.Peer, false); err != nil {
				return nil, err
			}
		}
	}
	return EncodeResult(&res, false), nil
}

func (t *atx) trimOutbox(dst uint32, upto uint64) error {
	last, trimmed, err := t.outSeq(dst)
	if err != nil {
		return err
	}
	upto = min(upto, last, trimmed+100000) // bounded work per command; the relay trims again
	if upto <= trimmed {
		return nil
	}
	for seq := trimmed + 1; seq <= upto; seq++ {
		if err := t.tx.Delete(outboxKey(dst, seq)); err != nil {
			return err
		}
	}
	return t.tx.Set(outSeqKey(dst), outSeqValue(last, upto))
}

// Pinned reads a user's pinned dialog list (most recent first).
func pinnedList(v []byte) []int64 {
	r := rbuf{b: v}
	l := r.i64s()
	if r.end() != nil {
		return nil
	}
	return l
}

func (t *atx) setPinned(u, peer int64, pin bool) error {
	v, _, err := t.tx.Get(pinnedKey(u))
	if err != nil {
		return err
	}
	l := pinnedList(v)
	i := slices.Index(l, peer)
	switch {
	case pin && i >= 0, !pin && i < 0:
		return nil
	case pin:
		if len(l) >= MaxPinned {
			return &fsm.ApplyError{Code: CodePinnedTooMuch}
		}
		l = append([]int64{peer}, l...)
	default:
		l = slices.Delete(l, i, i+1)
	}
	var w wbuf
	w.i64s(l)
	return t.tx.Set(pinnedKey(u), w.b)
}

func (t *atx) dialogOp(c *DialogOp) error {
	ds, err := t.dialog(c.User, c.Peer)
	if err != nil {
		return err
	}
	ds.dirty = true
	switch c.Op {
	case OpPin:
		if err := t.setPinned(c.User, c.Peer, c.Flag); err != nil {
			return err
		}
		ds.d.Pinned = c.Flag
	case OpMarkUnread:
		ds.d.UnreadMark = c.Flag
	case OpDraft:
		ds.d.Draft = c.Draft
		if c.Draft != nil {
			ds.d.Draft.Date = t.date
		}
	default:
		return invalid("dialog op")
	}
	return nil
}
