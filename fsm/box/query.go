package box

import (
	"bytes"
	"encoding/binary"
	"slices"
	"strings"

	"github.com/raftgram/raftgram/fsm"
)

// Reads of a box. Each Query* function runs on the shard's leader after a read barrier (the messages domain
// registers them as node queries); its payload is built by the matching request's Encode and its answer read
// by DecodeView (DecodeOutbox for the relay).

// MaxDifference is the most update log entries one getDifference answer carries (then a slice).
const MaxDifference = 1000

// MaxPage is the largest page of messages or dialogs.
const MaxPage = 100

// View is the answer of a box read (which fields are set depends on the read).
type View struct {
	Meta    Meta
	TooLong bool // difference: the log was trimmed past the asked pts
	More    bool // difference: more entries follow (a slice)
	Count   int32
	Updates []Update
	Msgs    []Message
	Dialogs []Dialog
}

func (v *View) encode() []byte {
	var w wbuf
	v.Meta.encode(&w)
	w.bool(v.TooLong)
	w.bool(v.More)
	w.i32(v.Count)
	w.uv(uint64(len(v.Updates)))
	for i := range v.Updates {
		v.Updates[i].encode(&w)
	}
	w.uv(uint64(len(v.Msgs)))
	for i := range v.Msgs {
		v.Msgs[i].encode(&w, true)
	}
	w.uv(uint64(len(v.Dialogs)))
	for i := range v.Dialogs {
		v.Dialogs[i].encode(&w)
	}
	return w.b
}

// DecodeView decodes the answer of a box read.
func DecodeView(b []byte) (*View, error) {
	r := rbuf{b: b}
	v := &View{}
	v.Meta.decode(&r)
	v.TooLong, v.More, v.Count = r.bool(), r.bool(), r.i32()
	if n := r.count(20); n > 0 {
		v.Updates = make([]Update, n)
		for i := range v.Updates {
			v.Updates[i].decode(&r)
		}
	}
	if n := r.count(40); n > 0 {
		v.Msgs = make([]Message, n)
		for i := range v.Msgs {
			v.Msgs[i].decode(&r)
		}
	}
	if n := r.count(30); n > 0 {
		v.Dialogs = make([]Dialog, n)
		for i := range v.Dialogs {
			v.Dialogs[i].decode(&r)
		}
	}
	return v, r.end()
}

func readMeta(r fsm.Reader, u int64) (Meta, error) {
	var m Meta
	v, ok, err := r.Get(metaKey(u))
	if err != nil || !ok {
		return m, err
	}
	rb := rbuf{b: v}
	m.decode(&rb)
	return m, rb.end()
}

func readMessage(r fsm.Reader, u int64, id int32) (*Message, error) {
	v, ok, err := r.Get(msgKey(u, id))
	if err != nil || !ok {
		return nil, err
	}
	m, err := decodeMessage(v)
	if err != nil {
		return nil, err
	}
	return &m, nil
}

func readDialog(r fsm.Reader, u, peer int64) (*Dialog, error) {
	v, ok, err := r.Get(dialogKey(u, peer))
	if err != nil || !ok {
		return nil, err
	}
	d := &Dialog{}
	rb := rbuf{b: v}
	d.decode(&rb)
	return d, rb.end()
}

// StateReq asks for a user's counters.
type StateReq struct{ User int64 }

// Encode encodes the request.
func (q StateReq) Encode() []byte { var w wbuf; w.i64(q.User); return w.b }

// QueryState answers StateReq.
func QueryState(r fsm.Reader, p []byte) ([]byte, error) {
	rb := rbuf{b: p}
	u := rb.i64()
	if err := rb.end(); err != nil {
		return nil, err
	}
	m, err := readMeta(r, u)
	if err != nil {
		return nil, err
	}
	v := View{Meta: m}
	return v.encode(), nil
}

// DifferenceReq asks for a user's update log after Pts.
type DifferenceReq struct {
	User  int64
	Pts   int32
	Limit int32
}

// Encode encodes the request.
func (q DifferenceReq) Encode() []byte {
	var w wbuf
	w.i64(q.User)
	w.i32(q.Pts)
	w.i32(q.Limit)
	return w.b
}

// QueryDifference answers DifferenceReq: the entries after Pts (at most Limit) and the messages they name
// that still exist.
func QueryDifference(r fsm.Reader, p []byte) ([]byte, error) {
	rb := rbuf{b: p}
	q := DifferenceReq{User: rb.i64(), Pts: rb.i32(), Limit: rb.i32()}
	if err := rb.end(); err != nil {
		return nil, err
	}
	if q.Limit <= 0 || q.Limit > MaxDifference {
		q.Limit = MaxDifference
	}
	m, err := readMeta(r, q.User)
	if err != nil {
		return nil, err
	}
	v := View{Meta: m}
	if q.Pts < m.Floor {
		v.TooLong = true
		return v.encode(), nil
	}
	if q.Pts >= m.Pts {
		return v.encode(), nil
	}
	var serr error
	err = r.Scan(logKey(q.User, max(q.Pts, 0)+1), fsm.PrefixEnd(logPrefix(q.User)), func(_, val []byte) bool {
		if int32(len(v.Updates)) == q.Limit {
			v.More = true
			return false
		}
		var u Update
		rb := rbuf{b: val}
		u.decode(&rb)
		if serr = rb.end(); serr != nil {
			return false
		}
		v.Updates = append(v.Updates, u)
		return true
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return nil, err
	}
	seen := map[int32]bool{}
	for _, u := range v.Updates {
		if (u.Kind == UpdNewMessage || u.Kind == UpdEditMessage) && !seen[u.MsgID] {
			seen[u.MsgID] = true
			msg, err := readMessage(r, q.User, u.MsgID)
			if err != nil {
				return nil, err
			}
			if msg != nil {
				v.Msgs = append(v.Msgs, *msg)
			}
		}
	}
	return v.encode(), nil
}

// HistoryReq is a page of one dialog (messages.getHistory / messages.search semantics).
type HistoryReq struct {
	User, Peer           int64
	OffsetID, OffsetDate int32
	AddOffset, Limit     int32
	MaxID, MinID         int32
	MinDate, MaxDate     int32  // search only (0: none)
	Query                string // search: case-insensitive substring; empty: every message
	Search               bool
}

// Encode encodes the request.
func (q HistoryReq) Encode() []byte {
	var w wbuf
	w.i64(q.User)
	w.i64(q.Peer)
	for _, v := range []int32{q.OffsetID, q.OffsetDate, q.AddOffset, q.Limit, q.MaxID, q.MinID, q.MinDate, q.MaxDate} {
		w.i32(v)
	}
	w.str(q.Query)
	w.bool(q.Search)
	return w.b
}

// searchScanCap bounds how many messages one search reads.
const searchScanCap = 20000

// QueryHistory answers HistoryReq: messages newest first, and the dialog's message count (or the number of
// matches for a search).
func QueryHistory(r fsm.Reader, p []byte) ([]byte, error) {
	rb := rbuf{b: p}
	q := HistoryReq{User: rb.i64(), Peer: rb.i64(), OffsetID: rb.i32(), OffsetDate: rb.i32(), AddOffset: rb.i32(),
		Limit: rb.i32(), MaxID: rb.i32(), MinID: rb.i32(), MinDate: rb.i32(), MaxDate: rb.i32(), Query: rb.str(),
		Search: rb.bool()}
	if err := rb.end(); err != nil {
		return nil, err
	}
	if q.Limit <= 0 || q.Limit > MaxPage {
		q.Limit = MaxPage
	}
	var v View
	m, err := readMeta(r, q.User)
	if err != nil {
		return nil, err
	}
	v.Meta = m
	lo, hi := histPrefix(q.User, q.Peer), fsm.PrefixEnd(histPrefix(q.User, q.Peer))
	if q.MinID > 0 {
		lo = histKey(q.User, q.Peer, q.MinID+1)
	}
	if q.MaxID > 0 {
		hi = histKey(q.User, q.Peer, q.MaxID)
	}
	needle := strings.ToLower(q.Query)
	var serr error
	load := func(id int32) (*Message, bool) {
		msg, err := readMessage(r, q.User, id)
		if err != nil {
			serr = err
			return nil, false
		}
		if msg == nil {
			return nil, false
		}
		if q.Search {
			if needle != "" && !strings.Contains(strings.ToLower(msg.Text), needle) {
				return nil, false
			}
			if q.MinDate > 0 && msg.Date < q.MinDate || q.MaxDate > 0 && msg.Date > q.MaxDate {
				return nil, false
			}
		}
		return msg, true
	}
	// offset_date without offset_id: the first message older than the date (ids grow with dates in a box).
	if q.OffsetID == 0 && q.OffsetDate > 0 {
		if err := r.ScanReverse(lo, hi, func(k, _ []byte) bool {
			msg, err := readMessage(r, q.User, tail32(k))
			if err != nil {
				serr = err
				return false
			}
			if msg != nil && msg.Date < q.OffsetDate {
				q.OffsetID = msg.ID + 1
				return false
			}
			return true
		}); err != nil {
			return nil, err
		}
		if q.OffsetID == 0 {
			q.OffsetID = 1 // every message is newer: nothing older
		}
	}
	if serr != nil {
		return nil, serr
	}
	// Newer than the offset (negative add_offset): the -add_offset nearest ones.
	if q.AddOffset < 0 && q.OffsetID > 0 {
		var newer []Message
		start := histKey(q.User, q.Peer, q.OffsetID)
		if bytes.Compare(start, lo) < 0 {
			start = lo
		}
		if err := r.Scan(start, hi, func(k, _ []byte) bool {
			if msg, ok := load(tail32(k)); ok {
				newer = append(newer, *msg)
			}
			return serr == nil && int32(len(newer)) < -q.AddOffset
		}); err != nil {
			return nil, err
		}
		slices.Reverse(newer)
		if int32(len(newer)) > q.Limit {
			newer = newer[:q.Limit]
		}
		v.Msgs = newer
		q.AddOffset = 0
	}
	older := hi
	if q.OffsetID > 0 {
		if k := histKey(q.User, q.Peer, q.OffsetID); bytes.Compare(k, older) < 0 {
			older = k
		}
	}
	skip := max(q.AddOffset, 0)
	if int32(len(v.Msgs)) < q.Limit {
		if err := r.ScanReverse(lo, older, func(k, _ []byte) bool {
			msg, ok := load(tail32(k))
			if !ok {
				return serr == nil
			}
			if skip > 0 {
				skip--
				return true
			}
			v.Msgs = append(v.Msgs, *msg)
			return int32(len(v.Msgs)) < q.Limit
		}); err != nil {
			return nil, err
		}
	}
	if serr != nil {
		return nil, serr
	}
	if q.Search {
		n := 0
		if err := r.ScanReverse(histPrefix(q.User, q.Peer), fsm.PrefixEnd(histPrefix(q.User, q.Peer)), func(k, _ []byte) bool {
			n++
			if _, ok := load(tail32(k)); ok {
				v.Count++
			}
			return serr == nil && n < searchScanCap
		}); err != nil {
			return nil, err
		}
	} else {
		d, err := readDialog(r, q.User, q.Peer)
		if err != nil {
			return nil, err
		}
		if d != nil {
			v.Count = d.Count
		}
	}
	return v.encode(), serr
}

// MessagesReq asks for messages of a box by id.
type MessagesReq struct {
	User int64
	IDs  []int32
}

// Encode encodes the request.
func (q MessagesReq) Encode() []byte { var w wbuf; w.i64(q.User); w.i32s(q.IDs); return w.b }

// QueryMessages answers MessagesReq (missing ids are left out).
func QueryMessages(r fsm.Reader, p []byte) ([]byte, error) {
	rb := rbuf{b: p}
	u, ids := rb.i64(), rb.i32s()
	if err := rb.end(); err != nil {
		return nil, err
	}
	if len(ids) > MaxIDsPerCommand {
		ids = ids[:MaxIDsPerCommand]
	}
	var v View
	for _, id := range ids {
		m, err := readMessage(r, u, id)
		if err != nil {
			return nil, err
		}
		if m != nil {
			v.Msgs = append(v.Msgs, *m)
		}
	}
	return v.encode(), nil
}

// DialogsReq is a page of a user's dialog list (messages.getDialogs), or, with Peers set, those dialogs
// (messages.getPeerDialogs; a peer without a dialog gets an empty one).
type DialogsReq struct {
	User          int64
	ExcludePinned bool
	OffsetID      int32
	OffsetDate    int32
	Limit         int32
	Peers         []int64
	PinnedOnly    bool // messages.getPinnedDialogs
}

// Encode encodes the request.
func (q DialogsReq) Encode() []byte {
	var w wbuf
	w.i64(q.User)
	w.bool(q.ExcludePinned)
	w.i32(q.OffsetID)
	w.i32(q.OffsetDate)
	w.i32(q.Limit)
	w.i64s(q.Peers)
	w.bool(q.PinnedOnly)
	return w.b
}

// QueryDialogs answers DialogsReq: dialogs (pinned first on the first page), their top messages, and the
// number of dialogs with messages.
func QueryDialogs(r fsm.Reader, p []byte) ([]byte, error) {
	rb := rbuf{b: p}
	q := DialogsReq{User: rb.i64(), ExcludePinned: rb.bool(), OffsetID: rb.i32(), OffsetDate: rb.i32(), Limit: rb.i32(),
		Peers: rb.i64s(), PinnedOnly: rb.bool()}
	if err := rb.end(); err != nil {
		return nil, err
	}
	if q.Limit <= 0 || q.Limit > MaxPage {
		q.Limit = MaxPage
	}
	m, err := readMeta(r, q.User)
	if err != nil {
		return nil, err
	}
	v := View{Meta: m, Count: m.Dialogs}
	add := func(peer int64, always bool) error {
		d, err := readDialog(r, q.User, peer)
		if err != nil {
			return err
		}
		if d == nil {
			if !always {
				return nil
			}
			d = &Dialog{Peer: peer}
		}
		v.Dialogs = append(v.Dialogs, *d)
		if d.Top > 0 {
			msg, err := readMessage(r, q.User, d.Top)
			if err != nil {
				return err
			}
			if msg != nil {
				v.Msgs = append(v.Msgs, *msg)
			}
		}
		return nil
	}
	if q.Peers != nil {
		if len(q.Peers) > MaxPage {
			q.Peers = q.Peers[:MaxPage]
		}
		for _, peer := range q.Peers {
			if err := add(peer, true); err != nil {
				return nil, err
			}
		}
		return v.encode(), nil
	}
	pv, _, err := r.Get(pinnedKey(q.User))
	if err != nil {
		return nil, err
	}
	pinned := pinnedList(pv)
	if !q.ExcludePinned && q.OffsetID == 0 && q.OffsetDate == 0 {
		for _, peer := range pinned {
			if err := add(peer, false); err != nil {
				return nil, err
			}
		}
	}
	if q.PinnedOnly {
		return v.encode(), nil // the pinned dialogs were added above
	}
	hi := fsm.PrefixEnd(indexPrefix(q.User))
	if q.OffsetID > 0 {
		hi = key32(indexPrefix(q.User), q.OffsetID)
	}
	var serr error
	if err := r.ScanReverse(indexPrefix(q.User), hi, func(k, _ []byte) bool {
		if int32(len(v.Dialogs)) >= q.Limit {
			return false
		}
		peer := int64(tail64(k))
		if slices.Contains(pinned, peer) {
			return true
		}
		d, err := readDialog(r, q.User, peer)
		if err != nil {
			serr = err
			return false
		}
		if d == nil || q.OffsetDate > 0 && d.TopDate >= q.OffsetDate {
			return true
		}
		serr = add(peer, false)
		return serr == nil
	}); err != nil {
		return nil, err
	}
	if serr != nil {
		return nil, serr
	}
	return v.encode(), nil
}

// OutboxReq asks for outbox items of a shard: for every destination, the items after After[dst] (0: from the
// first kept), at most Max per destination.
type OutboxReq struct {
	Max   int32
	After map[uint32]uint64
}

// Encode encodes the request.
func (q OutboxReq) Encode() []byte {
	var w wbuf
	w.i32(q.Max)
	dsts := make([]uint32, 0, len(q.After))
	for d := range q.After {
		dsts = append(dsts, d)
	}
	slices.Sort(dsts)
	w.uv(uint64(len(dsts)))
	for _, d := range dsts {
		w.b = binary.BigEndian.AppendUint32(w.b, d)
		w.u64(q.After[d])
	}
	return w.b
}

// Pending is what one destination's outbox holds after the asked position.
type Pending struct {
	Dst   uint32
	Last  uint64 // last seq allocated toward Dst
	Items []Item

	trimmed uint64
}

// QueryOutbox answers OutboxReq (DecodeOutbox reads it).
func QueryOutbox(r fsm.Reader, p []byte) ([]byte, error) {
	rb := rbuf{b: p}
	q := OutboxReq{Max: rb.i32(), After: map[uint32]uint64{}}
	n := rb.count(12)
	for range n {
		var d uint32
		if v := rb.take(4); v != nil {
			d = binary.BigEndian.Uint32(v)
		}
		q.After[d] = rb.u64()
	}
	if err := rb.end(); err != nil {
		return nil, err
	}
	if q.Max <= 0 || q.Max > 4096 {
		q.Max = 4096
	}
	var out []Pending
	if err := r.Scan([]byte{'m', 'b', kOutSeq}, []byte{'m', 'b', kOutSeq + 1}, func(k, v []byte) bool {
		last, trimmed, ok := decodeOutSeq(v)
		if len(k) != 7 || !ok {
			return true
		}
		out = append(out, Pending{Dst: binary.BigEndian.Uint32(k[3:]), Last: last, trimmed: trimmed})
		return true
	}); err != nil {
		return nil, err
	}
	var w wbuf
	w.uv(uint64(len(out)))
	for i := range out {
		pd := &out[i]
		after := max(q.After[pd.Dst], pd.trimmed)
		var serr error
		if pd.Last > after {
			if err := r.Scan(outboxKey(pd.Dst, after+1), fsm.PrefixEnd(outboxPrefix(pd.Dst)), func(k, v []byte) bool {
				var ev Event
				rb := rbuf{b: v}
				ev.decode(&rb)
				if serr = rb.end(); serr != nil {
					return false
				}
				pd.Items = append(pd.Items, Item{Seq: tail64(k), Event: ev})
				return int32(len(pd.Items)) < q.Max
			}); err != nil {
				return nil, err
			}
		}
		if serr != nil {
			return nil, serr
		}
		w.b = binary.BigEndian.AppendUint32(w.b, pd.Dst)
		w.u64(pd.Last)
		w.uv(uint64(len(pd.Items)))
		for j := range pd.Items {
			w.u64(pd.Items[j].Seq)
			pd.Items[j].Event.encode(&w)
		}
	}
	return w.b, nil
}

// DecodeOutbox reads QueryOutbox's answer.
func DecodeOutbox(b []byte) ([]Pending, error) {
	r := rbuf{b: b}
	n := r.count(13)
	out := make([]Pending, n)
	for i := range out {
		if v := r.take(4); v != nil {
			out[i].Dst = binary.BigEndian.Uint32(v)
		}
		out[i].Last = r.u64()
		m := r.count(40)
		out[i].Items = make([]Item, m)
		for j := range out[i].Items {
			out[i].Items[j].Seq = r.u64()
			out[i].Items[j].Event.decode(&r)
		}
	}
	return out, r.end()
}

// UnreadMarksReq asks for a user's dialogs marked unread (messages.getDialogUnreadMarks).
type UnreadMarksReq struct{ User int64 }

// Encode encodes the request.
func (q UnreadMarksReq) Encode() []byte { var w wbuf; w.i64(q.User); return w.b }

// QueryUnreadMarks answers UnreadMarksReq: the dialogs (peer only) whose unread mark is set, in peer order,
// from at most searchScanCap dialog records.
func QueryUnreadMarks(r fsm.Reader, p []byte) ([]byte, error) {
	rb := rbuf{b: p}
	q := UnreadMarksReq{User: rb.i64()}
	if err := rb.end(); err != nil {
		return nil, err
	}
	var v View
	prefix := key(kDialog, uint64(q.User))
	seen := 0
	var serr error
	if err := r.Scan(prefix, fsm.PrefixEnd(prefix), func(_, val []byte) bool {
		var d Dialog
		dr := rbuf{b: val}
		d.decode(&dr)
		if serr = dr.end(); serr != nil {
			return false
		}
		if d.UnreadMark {
			v.Dialogs = append(v.Dialogs, Dialog{Peer: d.Peer})
		}
		seen++
		return seen < searchScanCap
	}); err != nil {
		return nil, err
	}
	if serr != nil {
		return nil, serr
	}
	return v.encode(), nil
}
