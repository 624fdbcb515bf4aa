package fsm

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/hashicorp/raft"
)

// randomLog builds a deterministic pseudo-random log mixing every kind of command and entry this binary can
// apply: puts, deletes, CAS hits and misses, duplicates, failing appliers, configuration entries. (Entries it
// cannot apply halt the FSM: TestCannotApplyHalts.)
func randomLog(t testing.TB, seed uint64, n int) []*raft.Log {
	rng := rand.New(rand.NewPCG(seed, 1))
	var logs []*raft.Log
	for i := 1; i <= n; i++ {
		idx := uint64(i)
		if rng.IntN(20) == 0 {
			logs = append(logs, &raft.Log{Index: idx, Term: 1, Type: raft.LogConfiguration, Data: []byte("cfg")})
			continue
		}
		var cmds []Command
		for j := 0; j < 1+rng.IntN(4); j++ {
			k := []byte(fmt.Sprintf("k%02d", rng.IntN(30)))
			c := Command{Time: int64(1000 + i*1000)}
			if rng.IntN(3) == 0 {
				c.RequestID = RequestID{byte(rng.IntN(40)) + 1}
			}
			switch rng.IntN(6) {
			case 0, 1:
				c.Type, c.Payload = TypeKVPut, EncodeKVPut(k, []byte(fmt.Sprint(i, j)))
			case 2:
				c.Type, c.Payload = TypeKVDelete, EncodeKVDelete(k)
			case 3:
				c.Type, c.Payload = TypeKVCAS, EncodeKVCAS(k, []byte("1 0"), []byte("cas"))
			case 4:
				c.Type, c.Payload = typeFail, []byte("x")
			default:
				c.Type, c.Payload = TypeKVGet, EncodeKVGet(k)
			}
			cmds = append(cmds, c)
		}
		logs = append(logs, entry(t, idx, cmds...))
	}
	return logs
}

// TestApplyDeterminism: two replicas fed the same log in different ApplyBatch groupings end byte-identical.
func TestApplyDeterminism(t *testing.T) {
	logs := randomLog(t, 7, 300)
	a := openState(t, vfs.NewMem(), "a")
	defer a.Close()
	b := openState(t, vfs.NewMem(), "b")
	defer b.Close()
	ra := applyAll(t, a.Shard(3), logs)
	var rb []*EntryResult
	for i := 0; i < len(logs); {
		n := 1 + i%13
		if i+n > len(logs) {
			n = len(logs) - i
		}
		rb = append(rb, applyAll(t, b.Shard(3), logs[i:i+n])...)
		i += n
	}
	if !reflect.DeepEqual(ra, rb) {
		t.Fatal("results differ between replicas")
	}
	da, db := dump(t, a, 3), dump(t, b, 3)
	if !reflect.DeepEqual(da, db) {
		t.Fatalf("state differs: %d vs %d keys", len(da), len(db))
	}
	if a.Shard(3).AppliedIndex() != 300 || b.Shard(3).AppliedIndex() != 300 {
		t.Fatal("applied index")
	}
	if len(da) < 10 {
		t.Fatalf("suspiciously small state: %d keys", len(da))
	}
}

func TestIdempotence(t *testing.T) {
	st := openState(t, vfs.NewMem(), "s")
	defer st.Close()
	sm := st.Shard(1)
	id := RequestID{42}
	incr := Command{Type: typeIncr, RequestID: id, Time: 5000, Payload: []byte("a")}
	r := applyAll(t, sm, []*raft.Log{entry(t, 1, incr)})[0]
	if r.Err != nil || r.Results[0].Err != nil || r.Results[0].Duplicate {
		t.Fatalf("first: %+v", r)
	}
	first := r.Results[0].Value
	// Retried under another payload and later time: same first result, no second effect.
	dup := incr
	dup.Payload, dup.Time = []byte("b"), 6000
	r = applyAll(t, sm, []*raft.Log{entry(t, 2, dup, dup)})[0]
	for _, res := range r.Results {
		if !res.Duplicate || !bytes.Equal(res.Value, first) || res.Err != nil {
			t.Fatalf("duplicate: %+v", res)
		}
	}
	if v, _, _ := st.Read(1, []byte("counter")); !bytes.Equal(v, first) {
		t.Fatalf("counter moved: %x", v)
	}
	// An error result is remembered too.
	fail := Command{Type: TypeKVCAS, RequestID: RequestID{43}, Time: 7000, Payload: EncodeKVCAS([]byte("x"), []byte("no"), []byte("y"))}
	r = applyAll(t, sm, []*raft.Log{entry(t, 3, fail)})[0]
	var ae *ApplyError
	if !errors.As(r.Results[0].Err, &ae) || ae.Code != CodeCASMismatch {
		t.Fatalf("cas: %+v", r.Results[0])
	}
	put := Command{Type: TypeKVPut, Time: 7001, Payload: EncodeKVPut([]byte("x"), []byte("no"))}
	fail.Time = 8000
	r = applyAll(t, sm, []*raft.Log{entry(t, 4, put, fail)})[0]
	if !r.Results[1].Duplicate || !errors.As(r.Results[1].Err, &ae) || ae.Code != CodeCASMismatch {
		t.Fatalf("remembered error: %+v", r.Results[1])
	}
	if v, _, _ := st.Read(1, []byte("x")); string(v) != "no" {
		t.Fatalf("duplicate CAS applied: %q", v)
	}
}

func TestDedupExpires(t *testing.T) {
	st := openState(t, vfs.NewMem(), "s")
	defer st.Close()
	sm := st.Shard(1)
	w := DedupWindow.Milliseconds()
	for i := 1; i <= 20; i++ {
		c := Command{Type: TypeKVPut, RequestID: RequestID{byte(i)}, Time: int64(i), Payload: EncodeKVPut([]byte("k"), nil)}
		applyAll(t, sm, []*raft.Log{entry(t, uint64(i), c)})
	}
	// A command past the window removes at most dedupGCPerCommand expired records, deterministically.
	late := Command{Type: TypeKVPut, RequestID: RequestID{200}, Time: w + 100, Payload: EncodeKVPut([]byte("k"), nil)}
	applyAll(t, sm, []*raft.Log{entry(t, 21, late)})
	count := func() int {
		n := 0
		for _, kv := range dump(t, st, 1) {
			if kv[10:12] == "64" { // meta 'd'
				n++
			}
		}
		return n
	}
	if got := count(); got != 21-dedupGCPerCommand {
		t.Fatalf("dedup records after one GC step: %d", got)
	}
	// Request 1 expired: a retry is applied again (not a duplicate).
	again := Command{Type: TypeKVPut, RequestID: RequestID{1}, Time: w + 200, Payload: EncodeKVPut([]byte("k"), nil)}
	r := applyAll(t, sm, []*raft.Log{entry(t, 22, again)})[0]
	if r.Results[0].Duplicate {
		t.Fatal("expired request id still deduplicated")
	}
}

func TestFailedCommandHasNoEffect(t *testing.T) {
	st := openState(t, vfs.NewMem(), "s")
	defer st.Close()
	res := applyAll(t, st.Shard(1), []*raft.Log{entry(t, 1,
		Command{Type: typeFail, Payload: []byte("x")},
		put("ok", "1"),
		Command{Type: TypeKVPut, Payload: []byte{0xff}},                  // malformed payload
		Command{Type: TypeKVPut, Payload: EncodeKVPut(nil, []byte("v"))}, // empty key
	)})[0]
	if res.Results[0].Err == nil || res.Results[1].Err != nil || res.Results[2].Err == nil || res.Results[3].Err == nil {
		t.Fatalf("%+v", res.Results)
	}
	if _, ok, _ := st.Read(1, []byte("fail-wrote")); ok {
		t.Fatal("write of a failed command kept")
	}
}

func TestApplierPanicIsAResult(t *testing.T) {
	st := openState(t, vfs.NewMem(), "s")
	defer st.Close()
	st.Register(102, ApplierFunc(func(tx *Tx, cmd Command) ([]byte, error) {
		_ = tx.Set([]byte("half"), nil)
		panic(fmt.Sprintf("applier bug on %q", cmd.Payload))
	}))
	st.Register(104, ApplierFunc(func(tx *Tx, cmd Command) ([]byte, error) {
		return nil, tx.Scan(nil, nil, func(k, v []byte) bool { panic("inside a scan") })
	}))
	res := applyAll(t, st.Shard(1), []*raft.Log{entry(t, 1, Command{Type: 102}, put("next", "1"), Command{Type: 104})})[0]
	var ae *ApplyError
	if !errors.As(res.Results[0].Err, &ae) || ae.Code != CodeApplyFailed || res.Results[1].Err != nil {
		t.Fatalf("%+v", res.Results)
	}
	if !errors.As(res.Results[2].Err, &ae) || ae.Code != CodeApplyFailed {
		t.Fatalf("panic in scan: %+v", res.Results[2])
	}
	if _, ok, _ := st.Read(1, []byte("half")); ok {
		t.Fatal("write of a panicking command kept")
	}
}

// TestTxSeesBatch: reads see earlier commands of the same batch (indexed batch + overlay), scans merge the
// overlay with stored keys in both directions.
func TestTxSeesBatch(t *testing.T) {
	st := openState(t, vfs.NewMem(), "s")
	defer st.Close()
	sm := st.Shard(2)
	applyAll(t, sm, []*raft.Log{entry(t, 1, put("a", "1"), put("c", "3"), put("e", "5"))})
	var fwd, rev []string
	st.Register(103, ApplierFunc(func(tx *Tx, cmd Command) ([]byte, error) {
		if v, ok, _ := tx.Get([]byte("b")); !ok || string(v) != "2" { // from an earlier entry of this batch
			return nil, &ApplyError{Code: "NO_B"}
		}
		_ = tx.Set([]byte("d"), []byte("4"))
		_ = tx.Delete([]byte("c"))
		_ = tx.Set([]byte("a"), []byte("1'"))
		_ = tx.Scan(nil, nil, func(k, v []byte) bool { fwd = append(fwd, string(k)+"="+string(v)); return true })
		_ = tx.ScanReverse([]byte("b"), []byte("e"), func(k, v []byte) bool { rev = append(rev, string(k)); return true })
		return nil, nil
	}))
	res := applyAll(t, sm, []*raft.Log{entry(t, 2, put("b", "2")), entry(t, 3, Command{Type: 103})})
	if err := res[1].Results[0].Err; err != nil {
		t.Fatal(err)
	}
	if want := []string{"a=1'", "b=2", "d=4", "e=5"}; !reflect.DeepEqual(fwd, want) {
		t.Fatalf("scan %v, want %v", fwd, want)
	}
	if want := []string{"d", "b"}; !reflect.DeepEqual(rev, want) {
		t.Fatalf("reverse scan %v, want %v", rev, want)
	}
	var view []string
	if err := st.View(2, func(r Reader) error {
		return r.Scan(nil, nil, func(k, v []byte) bool { view = append(view, string(k)); return true })
	}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"a", "b", "d", "e"}; !reflect.DeepEqual(view, want) {
		t.Fatalf("view %v", view)
	}
}

func TestReplaySkipsApplied(t *testing.T) {
	fs := vfs.NewMem()
	st := openState(t, fs, "s")
	logs := randomLog(t, 3, 50)
	incr := func(i uint64) *raft.Log { return entry(t, i, Command{Type: typeIncr, Payload: []byte(fmt.Sprint(i))}) }
	for i := 51; i <= 60; i++ {
		logs = append(logs, incr(uint64(i)))
	}
	applyAll(t, st.Shard(1), logs)
	want := dump(t, st, 1)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st = openState(t, fs, "s")
	defer st.Close()
	if st.Shard(1).AppliedIndex() != 60 {
		t.Fatalf("applied after reopen %d", st.Shard(1).AppliedIndex())
	}
	res := applyAll(t, st.Shard(1), append(logs, incr(61)))
	for _, r := range res[:60] {
		if !r.Skipped {
			t.Fatalf("entry %d re-applied", r.Index)
		}
	}
	if res[60].Skipped || res[60].Results[0].Err != nil {
		t.Fatalf("new entry: %+v", res[60])
	}
	if got := dump(t, st, 1); len(got) != len(want)+1 { // seen/61; counter and applied index change in place
		t.Fatalf("state after replay: %d keys, before %d", len(got), len(want))
	}
}

// FuzzApply: hostile entry bytes never panic an FSM and leave two replicas identical: both apply the entry the
// same way, or both halt with nothing committed (then both are reopened fresh).
func FuzzApply(f *testing.F) {
	for _, l := range randomLog(f, 1, 12) {
		f.Add(l.Data)
	}
	type replica struct {
		st     *State
		fatals atomic.Int32
	}
	open := func(r *replica) {
		var err error
		r.st, err = Open("s", Options{FS: vfs.NewMem(), OnFatal: func(error) { r.fatals.Add(1) }})
		if err != nil {
			f.Fatal(err)
		}
		registerTestAppliers(r.st)
	}
	var a, b replica
	open(&a)
	open(&b)
	defer func() { _ = a.st.Close(); _ = b.st.Close() }()
	idx := uint64(0)
	f.Fuzz(func(t *testing.T, data []byte) {
		idx++
		before := a.st.Shard(1).AppliedIndex()
		beforeDump := dump(t, a.st, 1)
		l := &raft.Log{Index: idx, Term: 1, Type: raft.LogCommand, Data: data}
		ra := a.st.Shard(1).ApplyBatch([]*raft.Log{l})
		rb := b.st.Shard(1).ApplyBatch([]*raft.Log{l})
		if fmt.Sprint(ra[0]) != fmt.Sprint(rb[0]) {
			t.Fatalf("results differ: %v vs %v", ra[0], rb[0])
		}
		if !reflect.DeepEqual(dump(t, a.st, 1), dump(t, b.st, 1)) {
			t.Fatal("replicas differ")
		}
		if a.fatals.Load() != b.fatals.Load() {
			t.Fatal("one replica halted, the other did not")
		}
		if a.fatals.Load() == 0 {
			return
		}
		if err := ra[0].(*EntryResult).Err; err == nil {
			t.Fatal("halted without an error result")
		}
		if a.st.Shard(1).AppliedIndex() != before || !reflect.DeepEqual(dump(t, a.st, 1), beforeDump) {
			t.Fatal("a halting entry changed the state")
		}
		_ = a.st.Close()
		_ = b.st.Close()
		a.fatals.Store(0)
		b.fatals.Store(0)
		open(&a)
		open(&b)
		idx = 0
	})
}

// TestDedupExpiryFloorIsOnlyAHint (the floor is now the dedup index, DESIGN.md invariant 10): what is in memory
// decides how expired records are found, never which (invariant 8). Two replicas apply the same log of commands
// with request ids, out-of-order proposer times and long gaps (so expiry is due in bursts, more than
// dedupGCPerCommand at a time): one keeps its index, the other rebuilds it from Pebble before every entry (as
// after a restart or restore). Their states are byte-identical after every entry, and a third replica applying
// in one ApplyBatch agrees.
func TestDedupExpiryFloorIsOnlyAHint(t *testing.T) {
	w := DedupWindow.Milliseconds()
	rng := rand.New(rand.NewPCG(7, 7))
	var logs []*raft.Log
	withID := 0
	now := int64(1_700_000_000_000)
	for i := 1; i <= 600; i++ {
		var cmds []Command
		for j := rng.IntN(4); j >= 0; j-- {
			now += int64(rng.IntN(400))
			if rng.IntN(50) == 0 {
				now += w / 3 // a quiet spell: many records become due at once
			}
			c := Command{Type: TypeKVPut, Time: now - int64(rng.IntN(2000)), Payload: EncodeKVPut([]byte(fmt.Sprint("k", rng.IntN(20))), []byte("v"))}
			if rng.IntN(4) != 0 {
				c.RequestID = RequestID{byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256)), 1}
				withID++
			}
			cmds = append(cmds, c)
		}
		logs = append(logs, entry(t, uint64(i), cmds...))
	}
	hint := openState(t, vfs.NewMem(), "hint")
	defer hint.Close()
	forget := openState(t, vfs.NewMem(), "forget")
	defer forget.Close()
	one := openState(t, vfs.NewMem(), "one")
	defer one.Close()
	for i, l := range logs {
		applyAll(t, hint.Shard(1), []*raft.Log{l})
		forget.Shard(1).stale.Store(true)
		applyAll(t, forget.Shard(1), []*raft.Log{l})
		if i%10 == 0 || i == len(logs)-1 {
			if a, b := dump(t, hint, 1), dump(t, forget, 1); !slices.Equal(a, b) {
				t.Fatalf("after entry %d: states differ (%d vs %d keys)", l.Index, len(a), len(b))
			}
		}
	}
	applyAll(t, one.Shard(1), logs)
	if a, b := dump(t, hint, 1), dump(t, one, 1); !slices.Equal(a, b) {
		t.Fatal("one ApplyBatch and one per entry differ")
	}
	live := 0
	for _, kv := range dump(t, hint, 1) {
		if kv[10:12] == "65" { // meta 'e'
			live++
		}
	}
	if live == 0 || live > withID/2 {
		t.Fatalf("%d of %d dedup records live: the test should expire most and keep some", live, withID)
	}
}
