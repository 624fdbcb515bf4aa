package fsm

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/hashicorp/raft"
)

// refExpire is the reference expiry (the algorithm before the dedup index): scan the expiry index from its
// start, delete the oldest records due, at most dedupGCPerCommand.
func refExpire(s *ShardFSM, b *pebble.Batch, cutoff int64) error {
	lo := spaceKey(nil, s.id, spaceMeta, []byte{metaExpiry})
	hi := spaceKey(nil, s.id, spaceMeta, []byte{metaExpiry + 1})
	it, err := b.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return err
	}
	var keys [][]byte
	for ok := it.First(); ok && len(keys) < dedupGCPerCommand; ok = it.Next() {
		if int64(binary.BigEndian.Uint64(it.Key()[expiryTimeOff:])) >= cutoff {
			break
		}
		keys = append(keys, slices.Clone(it.Key()))
	}
	if err := it.Close(); err != nil {
		return err
	}
	for _, k := range keys {
		var id RequestID
		copy(id[:], k[len(k)-len(id):])
		if err := b.Delete(k, nil); err != nil {
			return err
		}
		if err := b.Delete(appendDedupKey(nil, s.id, id), nil); err != nil {
			return err
		}
	}
	return nil
}

// checkDedupIndex: the committed index holds exactly the shard's expiry keys, in key order, and exactly the
// ids that have a dedup record; no overlay is left between batches.
func checkDedupIndex(t testing.TB, st *State, sm *ShardFSM) {
	t.Helper()
	x := sm.dedup
	if x == nil || sm.stale.Load() {
		t.Fatal("no fresh dedup index after a committed apply")
	}
	if x.ringExpired != 0 || len(x.latePopped) != 0 || len(x.added) != 0 || len(x.gone) != 0 || len(x.addedIDs) != 0 {
		t.Fatal("overlay left after the batch")
	}
	var exp, rec []string
	for _, kv := range dump(t, st, sm.id) {
		switch kv[8:12] {
		case "0065": // meta 'e': shard(8 hex) 00 65 time(16) id(32)
			exp = append(exp, kv[12:12+16+32])
		case "0064":
			rec = append(rec, kv[12:12+32])
		}
	}
	keys := slices.Clone([]dedupKey(x.late))
	for i := range x.ring.n {
		k, _ := x.ring.at(i)
		keys = append(keys, k)
	}
	slices.SortFunc(keys, cmpKeys)
	var got []string
	for _, k := range keys {
		got = append(got, fmt.Sprintf("%016x%x", uint64(k.t), k.id))
		if !x.ids.has(dedupHash(k.id)) {
			t.Fatalf("id %x in the order but not in the set", k.id)
		}
	}
	if !slices.Equal(got, exp) {
		t.Fatalf("dedup index (%d) differs from the expiry index (%d)", len(got), len(exp))
	}
	counts := map[uint64]uint32{}
	for _, r := range rec {
		var id RequestID
		if raw, err := hex.DecodeString(r); err != nil || copy(id[:], raw) != len(id) {
			t.Fatalf("record key %s", r)
		}
		counts[dedupHash(id)]++
	}
	if len(counts) != x.ids.n {
		t.Fatalf("dedup index holds %d hashes, the records %d", x.ids.n, len(counts))
	}
	for h, n := range counts {
		if ok := x.ids.has(h); !ok || x.multi[h] != n-1 {
			t.Fatalf("hash %x: in set %v, extra %d, want %d records", h, ok, x.multi[h], n)
		}
	}
	if len(x.multi) > x.ids.n {
		t.Fatal("stale collision counts")
	}
}

// checkReadCache: every cached value is the committed one (DESIGN.md invariant 11).
func checkReadCache(t testing.TB, st *State, sm *ShardFSM) {
	t.Helper()
	if sm.cache.max > 0 && len(sm.cache.entries) > sm.cache.max {
		t.Fatalf("read cache holds %d entries, bound %d", len(sm.cache.entries), sm.cache.max)
	}
	for k, v := range sm.cache.entries {
		got, ok, err := st.Read(sm.id, []byte(k))
		if err != nil || !ok || !bytes.Equal(got, v) {
			t.Fatalf("cached %q = %q, state has %q (found %v, %v)", k, v, got, ok, err)
		}
	}
}

func resultsString(r *EntryResult) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%d %v %v:", r.Index, r.Err, r.Skipped)
	for _, res := range r.Results {
		fmt.Fprintf(&b, " [%x %v %v]", res.Value, res.Err, res.Duplicate)
	}
	return b.String()
}

// dedupLog: commands drawing request ids from a small pool (duplicates inside one entry, across entries, and
// again after expiry), out-of-order and clamped proposer times, quiet spells that make many records due at once.
func dedupLog(t testing.TB, seed uint64, n int) []*raft.Log {
	w := DedupWindow.Milliseconds()
	rng := rand.New(rand.NewPCG(seed, 7))
	var logs []*raft.Log
	now := int64(1_700_000_000_000)
	for i := 1; i <= n; i++ {
		var cmds []Command
		for j := rng.IntN(5); j >= 0; j-- {
			now += int64(rng.IntN(400))
			if rng.IntN(60) == 0 {
				now += w / 3
			}
			c := Command{Time: now - int64(rng.IntN(2000))}
			if rng.IntN(200) == 0 {
				c.Time = -int64(rng.IntN(5)) // clamped to 0: due at the next command
			}
			k := []byte(fmt.Sprint("k", rng.IntN(20)))
			switch rng.IntN(5) {
			case 4:
				c.Type, c.Payload = TypeKVGet, EncodeKVGet(k)
			case 0:
				c.Type, c.Payload = TypeKVCAS, EncodeKVCAS(k, []byte("nope"), []byte("x")) // an error result
			case 1:
				c.Type, c.Payload = typeFail, []byte("f")
			default:
				c.Type, c.Payload = TypeKVPut, EncodeKVPut(k, []byte(fmt.Sprint(i)))
			}
			if rng.IntN(4) != 0 {
				c.RequestID = RequestID{byte(rng.IntN(120)), 7, byte(rng.IntN(3))}
			}
			cmds = append(cmds, c)
			if rng.IntN(12) == 0 {
				cmds = append(cmds, c) // a retry inside the same entry
			}
		}
		logs = append(logs, entry(t, uint64(i), cmds...))
	}
	return logs
}

// TestDedupIndexMatchesScan: the dedup index is indistinguishable from reading Pebble (DESIGN.md invariant 10).
// The same log goes to a reference replica (every lookup reads Pebble, expiry scans the expiry index from its
// start) and to replicas using the index: one ApplyBatch per entry; reopened every 37 entries; restored from
// the reference's snapshot every 53 entries; random groupings of up to 40 entries per ApplyBatch. Results and
// states are identical after every entry, and the index mirrors the persisted records after every batch.
func TestDedupIndexMatchesScan(t *testing.T) { dedupEquivalence(t, 3, 600) }

// TestDedupIndexHashCollisions: TestDedupIndexMatchesScan with a membership hash of 3 values, so nearly every
// absent id looks present (a Pebble read) and the collision counts are exercised.
func TestDedupIndexHashCollisions(t *testing.T) {
	dedupHash = func(id RequestID) uint64 { return idHash(id)%3 + 1 } // never 0
	defer func() { dedupHash = idHash }()
	dedupEquivalence(t, 4, 300)
}

func dedupEquivalence(t *testing.T, seed uint64, n int) {
	logs := dedupLog(t, seed, n)
	ref := openState(t, vfs.NewMem(), "ref")
	defer ref.Close()
	ref.dedupRef = refExpire
	ref.cacheEntries = 0 // the reference reads everything from Pebble
	idx := openState(t, vfs.NewMem(), "idx")
	defer idx.Close()
	reFS := vfs.NewMem()
	reopen := openState(t, reFS, "reopen")
	reopen.cacheEntries = 2 // constant eviction
	defer func() { _ = reopen.Close() }()
	restored := openState(t, vfs.NewMem(), "restored")
	defer restored.Close()

	var want []string
	seen := map[RequestID]bool{}
	var dupSameEntry, dupAcross, reapplied int
	for i, l := range logs {
		r := applyAll(t, ref.Shard(1), []*raft.Log{l})[0]
		want = append(want, resultsString(r))
		cmds, _ := DecodeBatch(l.Data)
		inEntry := map[RequestID]bool{}
		for j, c := range cmds {
			if c.RequestID.IsZero() {
				continue
			}
			switch dup := r.Results[j].Duplicate; {
			case dup && inEntry[c.RequestID]:
				dupSameEntry++
			case dup:
				dupAcross++
			case seen[c.RequestID]:
				reapplied++ // its record expired
			}
			seen[c.RequestID], inEntry[c.RequestID] = true, true
		}
		for _, rep := range []*State{idx, reopen, restored} {
			if got := resultsString(applyAll(t, rep.Shard(1), []*raft.Log{l})[0]); got != want[i] {
				t.Fatalf("entry %d: results differ:\n%s\nwant\n%s", l.Index, got, want[i])
			}
			if i%7 == 0 {
				checkDedupIndex(t, rep, rep.Shard(1))
				checkReadCache(t, rep, rep.Shard(1))
			}
		}
		if i%10 == 0 || i == len(logs)-1 {
			w := dump(t, ref, 1)
			for _, rep := range []*State{idx, reopen, restored} {
				if got := dump(t, rep, 1); !slices.Equal(got, w) {
					t.Fatalf("after entry %d: states differ (%d vs %d keys)", l.Index, len(got), len(w))
				}
			}
		}
		if i%37 == 36 {
			if err := reopen.Close(); err != nil {
				t.Fatal(err)
			}
			reopen = openState(t, reFS, "reopen")
			reopen.cacheEntries = 2
		}
		if i%53 == 52 {
			if err := restored.Shard(1).Restore(io.NopCloser(bytes.NewReader(persist(t, ref.Shard(1))))); err != nil {
				t.Fatal(err)
			}
		}
	}
	if dupSameEntry == 0 || dupAcross == 0 || reapplied == 0 {
		t.Fatalf("log too tame: %d duplicates in one entry, %d across entries, %d re-applied after expiry",
			dupSameEntry, dupAcross, reapplied)
	}
	one := openState(t, vfs.NewMem(), "one")
	defer one.Close()
	rng := rand.New(rand.NewPCG(9, 9))
	for i := 0; i < len(logs); {
		n := min(1+rng.IntN(40), len(logs)-i)
		for j, r := range applyAll(t, one.Shard(1), logs[i:i+n]) {
			if got := resultsString(r); got != want[i+j] {
				t.Fatalf("grouped entry %d: results differ:\n%s\nwant\n%s", r.Index, got, want[i+j])
			}
		}
		checkDedupIndex(t, one, one.Shard(1))
		checkReadCache(t, one, one.Shard(1))
		i += n
	}
	if !slices.Equal(dump(t, one, 1), dump(t, ref, 1)) {
		t.Fatal("grouped replica differs from the reference")
	}
	if live := idx.Shard(1).dedup.len(); live == 0 || live > len(seen) {
		t.Fatalf("%d live records of %d ids: the log should expire some and keep some", live, len(seen))
	}
}

// TestDedupIndexAfterFailedBatch: ids of a batch that does not commit (failBatch) are not in the index, also
// when the duplicate was inside that batch; after a restart the same ids apply once, and old ones stay known.
func TestDedupIndexAfterFailedBatch(t *testing.T) {
	fs := vfs.NewMem()
	var fatals int
	st, err := Open("s", Options{FS: fs, OnFatal: func(error) { fatals++ }})
	if err != nil {
		t.Fatal(err)
	}
	registerTestAppliers(st)
	sm := st.Shard(1)
	a, b := RequestID{1}, RequestID{2}
	withID := func(c Command, id RequestID) Command { c.RequestID = id; return c }
	applyAll(t, sm, []*raft.Log{entry(t, 1, withID(put("a", "1"), a))})
	bad := Command{Type: 4343, Time: 1000} // no applier: fail-stop
	res := applyAll(t, sm, []*raft.Log{entry(t, 2, withID(put("b", "1"), b), withID(put("b", "2"), b)), entry(t, 3, bad)})
	if res[0].Err == nil || fatals != 1 {
		t.Fatalf("batch did not fail: %+v, %d fatals", res[0], fatals)
	}
	if sm.dedup.has(b) || !sm.dedup.has(a) || !sm.stale.Load() {
		t.Fatal("failed batch left its ids in the index, or lost committed ones")
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st = openState(t, fs, "s")
	defer st.Close()
	sm = st.Shard(1)
	r := applyAll(t, sm, []*raft.Log{entry(t, 2, withID(put("b", "1"), b), withID(put("b", "2"), b), withID(put("a", "x"), a))})[0]
	if r.Results[0].Duplicate || !r.Results[1].Duplicate || !r.Results[2].Duplicate {
		t.Fatalf("after restart: %s", resultsString(r))
	}
	checkDedupIndex(t, st, sm)
	if v, _, _ := st.Read(1, []byte("b")); string(v) != "1" {
		t.Fatalf("b = %q", v)
	}
}

// TestDedupIndexAfterRestoreAndDrop: after a restore the index is the snapshot's records (ids only the replaced
// state knew are new again), after DropShard it is empty.
func TestDedupIndexAfterRestoreAndDrop(t *testing.T) {
	src := openState(t, vfs.NewMem(), "src")
	defer src.Close()
	dst := openState(t, vfs.NewMem(), "dst")
	defer dst.Close()
	withID := func(c Command, id RequestID) Command { c.RequestID = id; return c }
	applyAll(t, src.Shard(1), []*raft.Log{entry(t, 1, withID(put("s", "1"), RequestID{'s'})), entry(t, 2, put("x", "1"))})
	applyAll(t, dst.Shard(1), []*raft.Log{entry(t, 1, withID(put("d", "1"), RequestID{'d'}))})
	if err := dst.Shard(1).Restore(io.NopCloser(bytes.NewReader(persist(t, src.Shard(1))))); err != nil {
		t.Fatal(err)
	}
	r := applyAll(t, dst.Shard(1), []*raft.Log{entry(t, 3, withID(put("d", "2"), RequestID{'d'}), withID(put("s", "2"), RequestID{'s'}))})[0]
	if r.Results[0].Duplicate || !r.Results[1].Duplicate {
		t.Fatalf("after restore: %s", resultsString(r))
	}
	checkDedupIndex(t, dst, dst.Shard(1))
	if err := dst.DropShard(1); err != nil {
		t.Fatal(err)
	}
	r = applyAll(t, dst.Shard(1), []*raft.Log{entry(t, 1, withID(put("s", "3"), RequestID{'s'}))})[0]
	if r.Results[0].Duplicate {
		t.Fatal("dropped shard still knows a request id")
	}
	checkDedupIndex(t, dst, dst.Shard(1))
}

// TestHashSet: the open-addressing set agrees with a map through inserts and removals that cluster (few home
// slots), wrap around the table, grow and shrink it.
func TestHashSet(t *testing.T) {
	var s hashSet
	model := map[uint64]bool{}
	rng := rand.New(rand.NewPCG(3, 3))
	for step := range 60000 {
		// Clustered low bits; later, homes at the end of the table, so that runs wrap around.
		h := uint64(rng.IntN(5000))<<20 | uint64(rng.IntN(4)) | 1
		if step > 30000 {
			h = uint64(rng.IntN(64))<<12 | uint64(4032+rng.IntN(64)) | 1
		}
		if rng.IntN(3) != 0 || step > 45000 && rng.IntN(4) != 0 {
			if model[h] {
				s.remove(h)
				delete(model, h)
			} else if step <= 45000 {
				s.insert(h)
				model[h] = true
			}
		} else if model[h] {
			s.remove(h)
			delete(model, h)
		}
		if s.n != len(model) {
			t.Fatalf("step %d: %d entries, want %d", step, s.n, len(model))
		}
		if probe := uint64(rng.IntN(5000))<<20 | uint64(rng.IntN(4)) | 1; s.has(probe) != model[probe] {
			t.Fatalf("step %d: has(%x) = %v", step, probe, !model[probe])
		}
	}
	for h := range model {
		if !s.has(h) {
			t.Fatalf("lost %x", h)
		}
	}
}

func cmpKeys(a, b dedupKey) int {
	switch {
	case a.before(&b):
		return -1
	case b.before(&a):
		return 1
	}
	return 0
}

// TestDedupOrder: the index's oldest key, membership and size follow a sorted model through random adds (times
// mostly growing, sometimes far back, sometimes equal), expiries, commits and aborts, ring wrap-around, growth
// and shrinking.
func TestDedupOrder(t *testing.T) {
	x := newDedupIndex()
	var committed, cur []dedupKey
	rng := rand.New(rand.NewPCG(1, 1))
	now := int64(1000)
	var ids []RequestID
	for step := range 30000 {
		addPct := 45
		if step < 8000 {
			addPct = 75 // grow past the ring's shrink threshold first
		}
		switch op := rng.IntN(100); {
		case op < addPct && step < 25000:
			now += int64(rng.IntN(3))
			tm := now
			if rng.IntN(20) == 0 {
				tm -= int64(rng.IntN(5000)) // a clock behind
			}
			id := RequestID{byte(step), byte(step >> 8), byte(step >> 16), byte(rng.IntN(2))}
			if x.has(id) {
				t.Fatalf("step %d: fresh id reported present", step)
			}
			k := dedupKey{t: tm, id: id}
			x.add(k)
			i, _ := slices.BinarySearchFunc(cur, k, cmpKeys)
			cur = slices.Insert(cur, i, k)
			ids = append(ids, id)
		case op < addPct+45:
			k, src := x.oldest()
			if len(cur) == 0 {
				if src != srcNone {
					t.Fatalf("step %d: oldest %v of an empty index", step, k)
				}
				continue
			}
			if src == srcNone || k != cur[0] {
				t.Fatalf("step %d: oldest %v (source %d), want %v", step, k, src, cur[0])
			}
			x.expire(src)
			cur = cur[1:]
		case op < addPct+52:
			x.commit()
			committed = slices.Clone(cur)
		default:
			x.abort()
			cur = slices.Clone(committed)
		}
		if len(ids) > 0 {
			id := ids[rng.IntN(len(ids))]
			want := slices.ContainsFunc(cur, func(k dedupKey) bool { return k.id == id })
			if x.has(id) != want {
				t.Fatalf("step %d: has(%x) = %v, want %v", step, id, !want, want)
			}
		}
	}
	x.commit()
	if x.len() != len(cur) || x.ids.n != len(cur) {
		t.Fatalf("%d keys, %d ids, want %d", x.len(), x.ids.n, len(cur))
	}
}

// BenchmarkDedupIndexMemory reports the heap bytes per live request id of a committed dedup index (1 M ids in
// time order, as a node holds after one DedupWindow at ~3.3k commands/s).
//
//	go test -run '^$' -bench DedupIndexMemory -benchtime 1x ./fsm/
func BenchmarkDedupIndexMemory(b *testing.B) {
	const n = 1 << 20
	for range b.N {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		x := newDedupIndex()
		rng := rand.New(rand.NewPCG(1, 2))
		for i := range n {
			var id RequestID
			binary.LittleEndian.PutUint64(id[:], rng.Uint64())
			binary.LittleEndian.PutUint64(id[8:], rng.Uint64())
			x.add(dedupKey{t: int64(i), id: id})
			if i%16 == 15 {
				x.commit()
			}
		}
		x.commit()
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "bytes/id")
		runtime.KeepAlive(x)
	}
}
