package box

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/raftgram/raftgram/fsm"
	"github.com/raftgram/raftgram/shard"
)

const testShards = 2

// harness applies commands to the shards of one fsm.State as raft entries.
type harness struct {
	t     testing.TB
	st    *fsm.State
	sms   map[uint32]*fsm.ShardFSM
	index map[uint32]uint64
	now   int64

	dir          string
	keep         int32
	cacheEntries int
	noFilter     bool // register the Applier without fsm.AbsentKeys (the absent-key filter off)
}

func newHarness(t testing.TB, keep int32) *harness {
	t.Helper()
	return newHarnessCache(t, keep, 0)
}

// newHarnessCache is newHarness with fsm.Options.ReadCacheEntries = cacheEntries.
func newHarnessCache(t testing.TB, keep int32, cacheEntries int) *harness {
	t.Helper()
	h := &harness{t: t, index: map[uint32]uint64{}, now: 1_700_000_000_000, dir: t.TempDir(), keep: keep,
		cacheEntries: cacheEntries}
	h.open()
	return h
}

// open opens (again, after a close) the harness's state and registers the box Applier.
func (h *harness) open() {
	h.t.Helper()
	st, err := fsm.Open(h.dir, fsm.Options{ReadCacheEntries: h.cacheEntries,
		OnFatal: func(err error) { h.t.Errorf("fatal: %v", err) }})
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { _ = st.Close() })
	for typ, a := range New(Config{Shards: testShards, LogKeep: h.keep}).Appliers() {
		if h.noFilter {
			a = fsm.ApplierFunc(a.Apply)
		}
		st.Register(typ, a)
	}
	h.st, h.sms = st, map[uint32]*fsm.ShardFSM{}
	for s := range uint32(testShards) {
		h.sms[s] = st.Shard(s)
	}
}

// reopen closes the state and opens it again: every in-memory index starts from what Pebble holds.
func (h *harness) reopen() {
	h.t.Helper()
	if err := h.st.Close(); err != nil {
		h.t.Fatal(err)
	}
	h.open()
}

// applyRaw applies c as the next entry of shard s and returns fsm's result.
func (h *harness) applyRaw(s uint32, c fsm.Command) fsm.Result {
	h.t.Helper()
	h.index[s]++
	h.now += 1000
	c.Time = h.now
	out := h.sms[s].ApplyBatch([]*raft.Log{{Index: h.index[s], Term: 1, Type: raft.LogCommand, Data: fsm.EncodeCommand(c)}})
	er := out[0].(*fsm.EntryResult)
	if er.Err != nil {
		h.t.Fatalf("entry: %v", er.Err)
	}
	return er.Results[0]
}

func (h *harness) apply(s uint32, c fsm.Command) (*Result, error) {
	h.t.Helper()
	r := h.applyRaw(s, c)
	if r.Err != nil {
		return nil, r.Err
	}
	if len(r.Value) == 0 {
		return &Result{}, nil
	}
	res, err := DecodeResult(r.Value)
	if err != nil {
		h.t.Fatalf("decode result: %v", err)
	}
	return res, nil
}

func (h *harness) must(s uint32, c fsm.Command) *Result {
	h.t.Helper()
	r, err := h.apply(s, c)
	if err != nil {
		h.t.Fatalf("apply %d: %v", c.Type, err)
	}
	return r
}

func (h *harness) query(s uint32, f func(fsm.Reader, []byte) ([]byte, error), p []byte) []byte {
	h.t.Helper()
	var out []byte
	if err := h.st.View(s, func(r fsm.Reader) error {
		var err error
		out, err = f(r, p)
		return err
	}); err != nil {
		h.t.Fatal(err)
	}
	return out
}

func (h *harness) view(s uint32, f func(fsm.Reader, []byte) ([]byte, error), p []byte) *View {
	h.t.Helper()
	v, err := DecodeView(h.query(s, f, p))
	if err != nil {
		h.t.Fatal(err)
	}
	return v
}

func sh(u int64) uint32 { return shard.Of(u, testShards) }

// users returns n user ids of shard s.
func users(s uint32, n int) []int64 {
	var out []int64
	for u := int64(1000); len(out) < n; u++ {
		if sh(u) == s {
			out = append(out, u)
		}
	}
	return out
}

func code(err error) string {
	var ae *fsm.ApplyError
	if errors.As(err, &ae) {
		return ae.Code
	}
	return fmt.Sprint(err)
}

func send(from, to, rid int64, text string) fsm.Command {
	s := Send{From: from, To: to, RandomID: rid, Text: text, Fingerprint: Fingerprint(to, text, nil, 0)}
	return s.Command()
}

func (h *harness) history(u, peer int64) []Message {
	return h.view(sh(u), QueryHistory, HistoryReq{User: u, Peer: peer, Limit: 100}.Encode()).Msgs
}

// relayAll moves every outbox item of every shard to its destination (an ideal relay) and trims.
func (h *harness) relayAll() []Applied {
	var all []Applied
	for s := range uint32(testShards) {
		ps, err := DecodeOutbox(h.query(s, QueryOutbox, OutboxReq{}.Encode()))
		if err != nil {
			h.t.Fatal(err)
		}
		for _, p := range ps {
			if len(p.Items) == 0 {
				continue
			}
			d := DeliverBatch{Src: s, Items: p.Items}
			r := h.must(p.Dst, d.Command())
			all = append(all, r.Applied...)
			h.must(s, (&OutboxTrim{Dst: p.Dst, Upto: r.Watermark}).Command())
		}
	}
	return all
}

// TestSendDedup: a retry with the same random_id returns the first ids and writes nothing; another message
// with it is RANDOM_ID_DUPLICATE; the same shard writes both boxes in one apply.
func TestSendDedup(t *testing.T) {
	h := newHarness(t, 0)
	u := users(0, 2)
	a, b := u[0], u[1]
	r1 := h.must(sh(a), send(a, b, 7, "hi"))
	if r1.Dup || r1.Msgs[0].ID != 1 || r1.Pts != 1 || len(r1.Applied) != 1 || r1.Applied[0].Owner != b ||
		r1.Applied[0].Update.Pts != 1 || r1.Applied[0].Msg.ID != 1 {
		t.Fatalf("first send: %+v", r1)
	}
	r2 := h.must(sh(a), send(a, b, 7, "hi"))
	if !r2.Dup || r2.Msgs[0].ID != 1 || r2.Pts != 1 || r2.Date != r1.Date || len(r2.Applied) != 0 {
		t.Fatalf("retry: %+v", r2)
	}
	if _, err := h.apply(sh(a), send(a, b, 7, "other")); code(err) != CodeRandomIDDuplicate {
		t.Fatalf("different message, same random_id: %v", err)
	}
	if n := len(h.history(a, b)); n != 1 {
		t.Fatalf("sender box holds %d messages", n)
	}
	if hb := h.history(b, a); len(hb) != 1 || hb[0].Out || hb[0].PeerMsgID != 1 || hb[0].Text != "hi" {
		t.Fatalf("recipient box: %+v", hb)
	}
	// Saved Messages: one copy.
	r3 := h.must(sh(a), send(a, a, 8, "note"))
	if len(r3.Applied) != 0 || len(h.history(a, a)) != 1 {
		t.Fatalf("saved messages: %+v", r3)
	}
}

// TestDeliverWatermark: cross-shard items are applied once and in order: a duplicate is skipped, a gap refused.
func TestDeliverWatermark(t *testing.T) {
	h := newHarness(t, 0)
	a, b := users(0, 1)[0], users(1, 1)[0]
	for i := range 3 {
		r := h.must(sh(a), send(a, b, int64(i+1), fmt.Sprint("m", i)))
		if len(r.Applied) != 0 {
			t.Fatal("cross-shard send applied in the sender's shard")
		}
	}
	ps, err := DecodeOutbox(h.query(0, QueryOutbox, OutboxReq{}.Encode()))
	if err != nil || len(ps) != 1 || ps[0].Dst != 1 || len(ps[0].Items) != 3 || ps[0].Last != 3 {
		t.Fatalf("outbox: %+v %v", ps, err)
	}
	items := ps[0].Items
	deliver := func(its ...Item) *Result { return h.must(1, (&DeliverBatch{Src: 0, Items: its}).Command()) }
	if r := deliver(items[0], items[1]); r.Watermark != 2 || len(r.Applied) != 2 {
		t.Fatalf("in order: %+v", r)
	}
	if r := deliver(items[0], items[1], items[2]); r.Watermark != 3 || len(r.Applied) != 1 || r.Applied[0].Seq != 3 {
		t.Fatalf("with duplicates: %+v", r)
	}
	gap := items[2]
	gap.Seq = 5
	if r := deliver(gap); r.Watermark != 3 || len(r.Applied) != 0 {
		t.Fatalf("gap: %+v", r)
	}
	hb := h.history(b, a)
	if len(hb) != 3 {
		t.Fatalf("recipient has %d messages", len(hb))
	}
	for i, m := range hb { // newest first
		if want := fmt.Sprint("m", 2-i); m.Text != want || m.PeerMsgID != int32(3-i) {
			t.Fatalf("recipient message %d: %+v", i, m)
		}
	}
	h.must(0, (&OutboxTrim{Dst: 1, Upto: 3}).Command())
	ps, _ = DecodeOutbox(h.query(0, QueryOutbox, OutboxReq{}.Encode()))
	if len(ps) != 1 || len(ps[0].Items) != 0 {
		t.Fatalf("after trim: %+v", ps)
	}
}

// checkTiling: the user's log entries (pts-count, pts] tile 1..meta.Pts exactly.
func checkTiling(t *testing.T, h *harness, u int64) int32 {
	t.Helper()
	v := h.view(sh(u), QueryDifference, DifferenceReq{User: u, Pts: 0}.Encode())
	next := int32(1)
	for _, e := range v.Updates {
		if e.Count < 1 || e.Pts-e.Count+1 != next {
			t.Fatalf("user %d: entry %+v does not start at pts %d", u, e, next)
		}
		next = e.Pts + 1
	}
	if next-1 != v.Meta.Pts || v.More {
		t.Fatalf("user %d: log ends at %d, pts %d", u, next-1, v.Meta.Pts)
	}
	return v.Meta.Pts
}

// TestPtsTiling: random sends, reads, edits and deletes (same and cross shard, with an ideal relay) leave every
// user's pts gapless, every box consistent, and revoked deletes and read receipts applied on the other side.
func TestPtsTiling(t *testing.T) {
	h := newHarness(t, 0)
	all := append(users(0, 3), users(1, 3)...)
	rng := rand.New(rand.NewPCG(1, 2))
	rid := int64(0)
	for range 400 {
		a, b := all[rng.IntN(len(all))], all[rng.IntN(len(all))]
		switch rng.IntN(6) {
		case 0, 1, 2:
			rid++
			h.must(sh(a), send(a, b, rid, fmt.Sprint("t", rid)))
		case 3:
			h.must(sh(a), (&ReadHistory{User: a, Peer: b}).Command())
		case 4:
			if hs := h.history(a, b); len(hs) > 0 && hs[0].Out {
				if _, err := h.apply(sh(a), (&Edit{User: a, Peer: b, ID: hs[0].ID, Text: "edited" + fmt.Sprint(rid)}).Command()); err != nil && code(err) != CodeNotModified {
					t.Fatal(err)
				}
			}
		case 5:
			if hs := h.history(a, b); len(hs) > 0 {
				h.must(sh(a), (&Delete{User: a, IDs: []int32{hs[len(hs)-1].ID}, Revoke: rng.IntN(2) == 0}).Command())
			}
		}
		if rng.IntN(10) == 0 {
			h.relayAll()
		}
	}
	h.relayAll()
	for _, u := range all {
		checkTiling(t, h, u)
		for _, p := range all {
			hs := h.history(u, p)
			d := h.view(sh(u), QueryDialogs, DialogsReq{User: u, Peers: []int64{p}}.Encode()).Dialogs[0]
			if int(d.Count) != len(hs) || (len(hs) > 0 && d.Top != hs[0].ID) || (len(hs) == 0 && d.Top != 0) {
				t.Fatalf("dialog %d/%d: %+v vs %d messages", u, p, d, len(hs))
			}
			var unread int32
			for _, m := range hs {
				if !m.Out && m.ID > d.ReadIn {
					unread++
				}
			}
			if unread != d.Unread {
				t.Fatalf("dialog %d/%d: unread %d, counted %d", u, p, d.Unread, unread)
			}
		}
	}
}

// TestReadAndRevokeAcrossShards: B's read reaches A as read outbox in A's ids; A's revoke removes B's copy.
func TestReadAndRevokeAcrossShards(t *testing.T) {
	h := newHarness(t, 0)
	a, b := users(0, 1)[0], users(1, 1)[0]
	h.must(sh(a), send(a, a, 1, "self first")) // A's ids differ from B's
	h.must(sh(a), send(a, b, 2, "one"))
	h.must(sh(a), send(a, b, 3, "two"))
	h.relayAll()
	hb := h.history(b, a)
	r := h.must(sh(b), (&ReadHistory{User: b, Peer: a, MaxID: hb[0].ID}).Command())
	if r.PtsCount != 1 || r.Updates[0].Still != 0 {
		t.Fatalf("read: %+v", r)
	}
	ap := h.relayAll()
	if len(ap) != 1 || ap[0].Owner != a || ap[0].Update.Kind != UpdReadOutbox || ap[0].Update.MsgID != 3 {
		t.Fatalf("read outbox at A: %+v", ap)
	}
	h.must(sh(a), (&Delete{User: a, IDs: []int32{2}, Revoke: true}).Command())
	ap = h.relayAll()
	if len(ap) != 1 || ap[0].Update.Kind != UpdDeleteMessages || len(ap[0].Update.IDs) != 1 || ap[0].Update.IDs[0] != hb[1].ID {
		t.Fatalf("revoke at B: %+v", ap)
	}
	if hb2 := h.history(b, a); len(hb2) != 1 || hb2[0].Text != "two" {
		t.Fatalf("B after revoke: %+v", hb2)
	}
	h.must(sh(a), (&Edit{User: a, Peer: b, ID: 3, Text: "two!"}).Command())
	h.relayAll()
	if hb2 := h.history(b, a); hb2[0].Text != "two!" || hb2[0].EditDate == 0 {
		t.Fatalf("B after edit: %+v", hb2)
	}
	// Reply to B's message: B sees its own id.
	s := Send{From: a, To: b, RandomID: 9, Text: "re", ReplyTo: 3}
	h.must(sh(a), s.Command())
	h.relayAll()
	if hb2 := h.history(b, a); hb2[0].ReplyTo != hb[0].ID {
		t.Fatalf("reply mapped to %d, want %d", hb2[0].ReplyTo, hb[0].ID)
	}
}

// TestDifferenceTooLong: the log keeps LogKeep entries; asking from below the floor is too long, from above it
// gives the rest.
func TestDifferenceTooLong(t *testing.T) {
	h := newHarness(t, 10)
	a := users(0, 1)[0]
	for i := range 40 {
		h.must(sh(a), send(a, a, int64(i+1), "x"))
	}
	v := h.view(sh(a), QueryDifference, DifferenceReq{User: a, Pts: 1}.Encode())
	if !v.TooLong || v.Meta.Pts != 40 {
		t.Fatalf("from pts 1: %+v", v.Meta)
	}
	v = h.view(sh(a), QueryDifference, DifferenceReq{User: a, Pts: 35}.Encode())
	if v.TooLong || len(v.Updates) != 5 || len(v.Msgs) != 5 || v.Updates[0].Pts != 36 {
		t.Fatalf("from pts 35: %+v", v)
	}
	v = h.view(sh(a), QueryDifference, DifferenceReq{User: a, Pts: 35, Limit: 2}.Encode())
	if !v.More || len(v.Updates) != 2 {
		t.Fatalf("slice: %+v", v)
	}
}

// TestHistoryPaging: offset_id, add_offset (both signs), limit, max_id, min_id.
func TestHistoryPaging(t *testing.T) {
	h := newHarness(t, 0)
	a := users(0, 1)[0]
	for i := range 20 {
		h.must(sh(a), send(a, a, int64(i+1), fmt.Sprint(i+1))) // ids 1..20
	}
	ids := func(q HistoryReq) []int32 {
		q.User, q.Peer = a, a
		var out []int32
		for _, m := range h.view(sh(a), QueryHistory, q.Encode()).Msgs {
			out = append(out, m.ID)
		}
		return out
	}
	for _, c := range []struct {
		q    HistoryReq
		want string
	}{
		{HistoryReq{Limit: 3}, "[20 19 18]"},
		{HistoryReq{OffsetID: 10, Limit: 3}, "[9 8 7]"},
		{HistoryReq{OffsetID: 10, AddOffset: 2, Limit: 3}, "[7 6 5]"},
		{HistoryReq{OffsetID: 10, AddOffset: -2, Limit: 4}, "[11 10 9 8]"},
		{HistoryReq{OffsetID: 10, AddOffset: -5, Limit: 3}, "[14 13 12]"},
		{HistoryReq{MaxID: 5, Limit: 10}, "[4 3 2 1]"},
		{HistoryReq{MinID: 17, Limit: 10}, "[20 19 18]"},
		{HistoryReq{Search: true, Query: "1", Limit: 100}, "[19 18 17 16 15 14 13 12 11 10 1]"},
	} {
		if got := fmt.Sprint(ids(c.q)); got != c.want {
			t.Errorf("%+v: %s, want %s", c.q, got, c.want)
		}
	}
}

// TestMalformedPayloads: hostile bytes are a deterministic rejection, never a panic.
func TestMalformedPayloads(t *testing.T) {
	h := newHarness(t, 0)
	rng := rand.New(rand.NewPCG(3, 4))
	for typ := TypeSend; typ <= TypeInject; typ++ {
		for range 50 {
			b := make([]byte, rng.IntN(80))
			for i := range b {
				b[i] = byte(rng.IntN(256))
			}
			_, _ = h.apply(0, fsm.Command{Type: typ, Payload: b})
		}
	}
}

// TestDialogsPaging: newest top message first, pinned first on the first page only, offset_id pages without
// repeats, the count of dialogs with messages.
func TestDialogsPaging(t *testing.T) {
	h := newHarness(t, 0)
	u := users(0, 8)
	a := u[0]
	for i, p := range u[1:] { // dialog i+1 has top message i+1
		h.must(sh(a), send(a, p, int64(i+1), "x"))
	}
	h.must(sh(a), (&DialogOp{User: a, Peer: u[2], Op: OpPin, Flag: true}).Command())
	page := func(q DialogsReq) (peers []int64, count int32) {
		q.User = a
		v := h.view(sh(a), QueryDialogs, q.Encode())
		for _, d := range v.Dialogs {
			peers = append(peers, d.Peer)
		}
		if len(v.Msgs) != len(v.Dialogs) {
			t.Fatalf("%d top messages for %d dialogs", len(v.Msgs), len(v.Dialogs))
		}
		return peers, v.Count
	}
	p1, count := page(DialogsReq{Limit: 3})
	if count != 7 || fmt.Sprint(p1) != fmt.Sprint([]int64{u[2], u[7], u[6]}) {
		t.Fatalf("first page %v (count %d)", p1, count)
	}
	top6 := int32(6) // u[6]'s top message id
	p2, _ := page(DialogsReq{Limit: 10, OffsetID: top6})
	if fmt.Sprint(p2) != fmt.Sprint([]int64{u[5], u[4], u[3], u[1]}) {
		t.Fatalf("second page %v", p2)
	}
	if p, _ := page(DialogsReq{PinnedOnly: true}); fmt.Sprint(p) != fmt.Sprint([]int64{u[2]}) {
		t.Fatalf("pinned only: %v", p)
	}
	if p, _ := page(DialogsReq{Limit: 10, ExcludePinned: true}); len(p) != 6 {
		t.Fatalf("exclude pinned: %v", p)
	}
	for i := range MaxPinned - 1 {
		h.must(sh(a), (&DialogOp{User: a, Peer: u[3+i], Op: OpPin, Flag: true}).Command())
	}
	if _, err := h.apply(sh(a), (&DialogOp{User: a, Peer: u[1], Op: OpPin, Flag: true}).Command()); code(err) != CodePinnedTooMuch {
		t.Fatalf("sixth pin: %v", err)
	}
}

// BenchmarkApplySend: the apply path of cross-shard sends (sender's shard) and their delivery (recipient's
// shard, batches of 64), one command per raft entry.
func BenchmarkApplySend(b *testing.B) {
	h := newHarness(b, 0)
	a, r := users(0, 1)[0], users(1, 1)[0]
	b.ResetTimer()
	for i := range b.N {
		h.must(0, send(a, r, int64(i+1), "benchmark message text"))
		if i%64 == 63 {
			h.relayAll()
		}
	}
}

// TestReadCacheIsInvisible: fsm's read cache and absent-key filter (fsm DESIGN.md invariants 11, 12) change no
// result and no byte of state: the same random sends (random ids reused: duplicates and RANDOM_ID_DUPLICATE),
// reads, edits, deletes, dialog ops and deliveries applied with both off, with a 3-entry cache (constant
// eviction) and with the defaults give identical results and identical shards; the last two reopen their state
// halfway, so the filter is rebuilt from the stored receipts.
func TestReadCacheIsInvisible(t *testing.T) {
	var hs []*harness
	for _, entries := range []int{-1, 3, 0} {
		h := &harness{t: t, index: map[uint32]uint64{}, now: 1_700_000_000_000, dir: t.TempDir(),
			cacheEntries: entries, noFilter: entries < 0}
		h.open()
		hs = append(hs, h)
	}
	all := append(users(0, 3), users(1, 3)...)
	rng := rand.New(rand.NewPCG(5, 6))
	each := func(f func(h *harness) string) {
		t.Helper()
		want := f(hs[0])
		for i, h := range hs[1:] {
			if got := f(h); got != want {
				t.Fatalf("harness %d: %s, want %s", i+1, got, want)
			}
		}
	}
	apply := func(s uint32, c fsm.Command) {
		each(func(h *harness) string {
			r := h.applyRaw(s, c)
			return fmt.Sprintf("%x %v %v", r.Value, r.Err, r.Duplicate)
		})
	}
	for i := range 300 {
		a, b := all[rng.IntN(len(all))], all[rng.IntN(len(all))]
		switch rng.IntN(7) {
		case 0, 1, 2:
			rid := int64(rng.IntN(200)) // reused random ids: duplicates and RANDOM_ID_DUPLICATE
			apply(sh(a), send(a, b, rid, fmt.Sprint("t", rid, i%3)))
		case 3:
			apply(sh(a), (&ReadHistory{User: a, Peer: b}).Command())
		case 4:
			apply(sh(a), (&Edit{User: a, Peer: b, ID: int32(1 + rng.IntN(20)), Text: fmt.Sprint("e", i)}).Command())
		case 5:
			apply(sh(a), (&Delete{User: a, IDs: []int32{int32(1 + rng.IntN(20))}, Revoke: rng.IntN(2) == 0}).Command())
		case 6:
			apply(sh(a), (&DialogOp{User: a, Peer: b, Op: OpPin, Flag: rng.IntN(2) == 0}).Command())
		}
		if rng.IntN(8) == 0 {
			each(func(h *harness) string { return fmt.Sprint(len(h.relayAll())) })
		}
		if i == 150 {
			for _, h := range hs[1:] {
				h.reopen()
			}
		}
	}
	each(func(h *harness) string { return fmt.Sprint(len(h.relayAll())) })
	for s := range uint32(testShards) {
		each(func(h *harness) string {
			var b strings.Builder
			if err := h.st.View(s, func(r fsm.Reader) error {
				return r.Scan([]byte{}, nil, func(k, v []byte) bool {
					fmt.Fprintf(&b, "%x=%x\n", k, v)
					return true
				})
			}); err != nil {
				t.Fatal(err)
			}
			return b.String()
		})
	}
}

// TestMediaTravelsWithTheMessage: a message's media (opaque bytes) is stored in both boxes, crosses shards in
// its event, is copied by a forward and kept by an edit; a message without media encodes as before media
// existed; a retry with other media under the same random_id is RANDOM_ID_DUPLICATE.
func TestMediaTravelsWithTheMessage(t *testing.T) {
	h := newHarness(t, 0)
	a, b := users(0, 1)[0], users(1, 1)[0]
	media := []byte("document bytes (opaque)")
	s := Send{From: a, To: b, RandomID: 1, Text: "caption", Media: media, GroupedID: 77,
		Fingerprint: MediaFingerprint(b, "caption", nil, 0, media)}
	if s.Fingerprint == Fingerprint(b, "caption", nil, 0) || MediaFingerprint(b, "x", nil, 0, nil) != Fingerprint(b, "x", nil, 0) {
		t.Fatal("media fingerprint")
	}
	var back Send
	if err := back.decode(s.Command().Payload); err != nil || string(back.Media) != string(media) || back.GroupedID != 77 {
		t.Fatalf("send round trip: %+v %v", back, err)
	}
	plain := send(a, b, 9, "x")
	if err := back.decode(append(plain.Payload, 0)); err == nil {
		t.Fatal("an empty media blob decoded")
	}
	h.must(sh(a), s.Command())
	other := s
	other.Media, other.Fingerprint = []byte("other"), MediaFingerprint(b, "caption", nil, 0, []byte("other"))
	if _, err := h.apply(sh(a), other.Command()); code(err) != CodeRandomIDDuplicate {
		t.Fatalf("other media, same random_id: %v", err)
	}
	h.relayAll()
	ha, hb := h.history(a, b), h.history(b, a)
	if len(ha) != 1 || len(hb) != 1 || string(ha[0].Media) != string(media) || string(hb[0].Media) != string(media) ||
		ha[0].GroupedID != 77 || hb[0].GroupedID != 77 {
		t.Fatalf("boxes: %+v / %+v", ha, hb)
	}
	h.must(sh(b), (&Forward{From: b, FromPeer: a, To: b, IDs: []int32{hb[0].ID}, RandomIDs: []int64{5}}).Command())
	h.must(sh(a), (&Edit{User: a, Peer: b, ID: ha[0].ID, Text: "new caption"}).Command())
	h.relayAll()
	h.reopen()
	if hb := h.history(b, a); string(hb[0].Media) != string(media) || hb[0].Text != "new caption" {
		t.Fatalf("after the edit: %+v", hb[0])
	}
	if saved := h.history(b, b); len(saved) != 1 || string(saved[0].Media) != string(media) || saved[0].FwdFrom != a {
		t.Fatalf("forwarded: %+v", saved)
	}
	// The caption may go; a text message's text may not.
	h.must(sh(a), (&Edit{User: a, Peer: b, ID: ha[0].ID, Text: ""}).Command())
	h.must(sh(a), send(a, b, 10, "plain"))
	plainID := h.history(a, b)[0].ID
	if _, err := h.apply(sh(a), (&Edit{User: a, Peer: b, ID: plainID, Text: " "}).Command()); code(err) != CodeMessageEmpty {
		t.Fatalf("emptying a text message: %v", err)
	}
	m := Message{ID: 1, Text: "t"}
	if b := encodeMessage(&m); b[0] != 1 {
		t.Fatalf("a message without media encodes as version %d", b[0])
	}
	ev := Event{Kind: EvNew, From: a, To: b, Text: "t"}
	var w wbuf
	ev.encode(&w)
	if w.b[0] != byte(EvNew) {
		t.Fatal("an event without media changed its encoding")
	}
}
