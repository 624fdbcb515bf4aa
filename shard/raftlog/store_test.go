package raftlog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/hashicorp/raft"
)

// payload is the deterministic content of entry (group, index): crash tests compare against it.
func payload(group, index uint64) []byte {
	b := make([]byte, 16, 40)
	binary.BigEndian.PutUint64(b, group)
	binary.BigEndian.PutUint64(b[8:], index)
	return append(b, "raftgram-entry-payload"...)
}

func entries(group, from, to uint64, term uint64) []*raft.Log {
	var ls []*raft.Log
	for i := from; i <= to; i++ {
		ls = append(ls, &raft.Log{Index: i, Term: term, Type: raft.LogCommand, Data: payload(group, i)})
	}
	return ls
}

func openMem(t *testing.T, fs vfs.FS) *Store {
	t.Helper()
	s, err := Open("db", Options{FS: fs, OnFatal: func(err error) { t.Errorf("fatal: %v", err) }})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustBounds(t *testing.T, g *GroupLog, first, last uint64) {
	t.Helper()
	f, err := g.FirstIndex()
	if err != nil {
		t.Fatal(err)
	}
	l, err := g.LastIndex()
	if err != nil {
		t.Fatal(err)
	}
	if f != first || l != last {
		t.Fatalf("group %d bounds = %d..%d, want %d..%d", g.ID(), f, l, first, last)
	}
}

func TestStoreAndGet(t *testing.T) {
	s := openMem(t, vfs.NewMem())
	defer s.Close()
	g := s.Group(7)
	mustBounds(t, g, 0, 0)
	at := time.Unix(1700000000, 123)
	in := &raft.Log{Index: 1, Term: 3, Type: raft.LogConfiguration, Data: []byte("conf"), Extensions: []byte("x"), AppendedAt: at}
	if err := g.StoreLog(in); err != nil {
		t.Fatal(err)
	}
	if err := g.StoreLogs(entries(7, 2, 10, 4)); err != nil {
		t.Fatal(err)
	}
	mustBounds(t, g, 1, 10)
	var out raft.Log
	if err := g.GetLog(1, &out); err != nil {
		t.Fatal(err)
	}
	if out.Index != 1 || out.Term != 3 || out.Type != raft.LogConfiguration || string(out.Data) != "conf" ||
		string(out.Extensions) != "x" || !out.AppendedAt.Equal(at) {
		t.Fatalf("round trip: got %+v", out)
	}
	if err := g.GetLog(5, &out); err != nil || !bytes.Equal(out.Data, payload(7, 5)) || out.Term != 4 {
		t.Fatalf("get 5: %v %+v", err, out)
	}
	// The error must be raft.ErrLogNotFound itself: raft compares by identity.
	if err := g.GetLog(11, &out); err != raft.ErrLogNotFound { //nolint:errorlint
		t.Fatalf("missing index: err = %v", err)
	}
	if err := s.Group(8).GetLog(1, &out); err != raft.ErrLogNotFound { //nolint:errorlint
		t.Fatalf("other group: err = %v", err)
	}
	if s.Group(7) != g {
		t.Fatal("Group must return the same pointer for the same id")
	}
}

func TestAppendMustContinueLog(t *testing.T) {
	s := openMem(t, vfs.NewMem())
	defer s.Close()
	g := s.Group(1)
	// An empty log accepts any start: that is where raft resumes after a snapshot install.
	if err := g.StoreLogs(entries(1, 100, 105, 1)); err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]*raft.Log{
		entries(1, 105, 106, 1),                        // overwrite
		entries(1, 99, 106, 1),                         // overwrite, starting before the log
		{{Index: 106, Term: 1}, {Index: 108, Term: 1}}, // not consecutive
		{{Index: 0, Term: 1}},                          // index 0
	} {
		if err := g.StoreLogs(bad); err == nil {
			t.Fatalf("append %d.. accepted", bad[0].Index)
		}
	}
	mustBounds(t, g, 100, 105)
}

// TestAppendPastEndStartsNewRun: raft appends past the end only after installing a snapshot that covers the gap
// (IsMonotonic is false, see DESIGN.md "Snapshot installs"); the older run goes in the same batch, so the log
// stays one contiguous run, also across a reopen.
func TestAppendPastEndStartsNewRun(t *testing.T) {
	fs := vfs.NewMem()
	s := openMem(t, fs)
	g, other := s.Group(1), s.Group(2)
	if err := g.StoreLogs(entries(1, 1, 10, 1)); err != nil {
		t.Fatal(err)
	}
	if err := other.StoreLogs(entries(2, 1, 10, 1)); err != nil {
		t.Fatal(err)
	}
	if g.IsMonotonic() {
		t.Fatal("the store must not report IsMonotonic (raft would wipe entries past an installed snapshot)")
	}
	if err := g.StoreLogs(entries(1, 50, 52, 2)); err != nil {
		t.Fatal(err)
	}
	mustBounds(t, g, 50, 52)
	var l raft.Log
	for _, i := range []uint64{1, 10, 49} {
		if err := g.GetLog(i, &l); err != raft.ErrLogNotFound { //nolint:errorlint
			t.Fatalf("entry %d of the older run: %v", i, err)
		}
	}
	if err := g.GetLog(51, &l); err != nil || l.Term != 2 || !bytes.Equal(l.Data, payload(1, 51)) {
		t.Fatalf("entry 51: %+v %v", l, err)
	}
	mustBounds(t, other, 1, 10)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openMem(t, fs)
	defer s.Close()
	mustBounds(t, s.Group(1), 50, 52)
	mustBounds(t, s.Group(2), 1, 10)
}

func TestDeleteRange(t *testing.T) {
	s := openMem(t, vfs.NewMem())
	defer s.Close()
	g, other := s.Group(1), s.Group(2)
	if err := g.StoreLogs(entries(1, 1, 100, 1)); err != nil {
		t.Fatal(err)
	}
	if err := other.StoreLogs(entries(2, 1, 100, 1)); err != nil {
		t.Fatal(err)
	}
	// Prefix (compaction), with min below first as raft may pass.
	if err := g.DeleteRange(0, 30); err != nil {
		t.Fatal(err)
	}
	mustBounds(t, g, 31, 100)
	var l raft.Log
	if err := g.GetLog(30, &l); err != raft.ErrLogNotFound { //nolint:errorlint
		t.Fatalf("compacted entry: %v", err)
	}
	// Hole in the middle: refused.
	if err := g.DeleteRange(40, 50); err == nil {
		t.Fatal("hole accepted")
	}
	// Suffix (follower conflict truncation), then the log continues from the cut.
	if err := g.DeleteRange(91, 200); err != nil {
		t.Fatal(err)
	}
	mustBounds(t, g, 31, 90)
	if err := g.StoreLogs(entries(1, 91, 95, 2)); err != nil {
		t.Fatal(err)
	}
	if err := g.GetLog(91, &l); err != nil || l.Term != 2 {
		t.Fatalf("rewritten entry: %v term %d", err, l.Term)
	}
	// Whole log (monotonic store after snapshot install).
	if err := g.DeleteRange(31, 95); err != nil {
		t.Fatal(err)
	}
	mustBounds(t, g, 0, 0)
	if err := g.StoreLogs(entries(1, 500, 501, 3)); err != nil {
		t.Fatal(err)
	}
	mustBounds(t, g, 500, 501)
	// The other group was never touched.
	mustBounds(t, other, 1, 100)
	for i := uint64(1); i <= 100; i++ {
		if err := other.GetLog(i, &l); err != nil || !bytes.Equal(l.Data, payload(2, i)) {
			t.Fatalf("other group entry %d: %v", i, err)
		}
	}
}

func TestReopenRebuildsBounds(t *testing.T) {
	fs := vfs.NewMem()
	s := openMem(t, fs)
	for g := uint64(0); g < 5; g++ {
		if err := s.Group(g).StoreLogs(entries(g, 1, 10*g+1, 1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Group(3).DeleteRange(1, 5); err != nil {
		t.Fatal(err)
	}
	if err := s.Group(^uint64(0)).StoreLogs(entries(^uint64(0), 7, 9, 1)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Group(1).StoreLog(&raft.Log{Index: 12}); !errors.Is(err, ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
	s = openMem(t, fs)
	defer s.Close()
	for g := uint64(0); g < 5; g++ {
		first := uint64(1)
		if g == 3 {
			first = 6
		}
		mustBounds(t, s.Group(g), first, 10*g+1)
	}
	mustBounds(t, s.Group(^uint64(0)), 7, 9)
	mustBounds(t, s.Group(77), 0, 0)
}

func TestDropGroup(t *testing.T) {
	s := openMem(t, vfs.NewMem())
	defer s.Close()
	if err := s.Group(1).StoreLogs(entries(1, 1, 10, 1)); err != nil {
		t.Fatal(err)
	}
	if err := s.Group(2).StoreLogs(entries(2, 1, 10, 1)); err != nil {
		t.Fatal(err)
	}
	if err := s.DropGroup(1); err != nil {
		t.Fatal(err)
	}
	mustBounds(t, s.Group(1), 0, 0)
	mustBounds(t, s.Group(2), 1, 10)
}

// TestConcurrentGroups runs appends of many groups at once, with compaction and readers racing them, the way
// raft's main, snapshot and replication goroutines do.
func TestConcurrentGroups(t *testing.T) {
	s := openMem(t, vfs.NewMem())
	defer s.Close()
	const groups, batches, per = 8, 40, 5
	var wg sync.WaitGroup
	errc := make(chan error, groups*3)
	for gid := uint64(0); gid < groups; gid++ {
		g := s.Group(gid)
		wg.Add(3)
		go func() { // main goroutine: appends
			defer wg.Done()
			for b := uint64(0); b < batches; b++ {
				if err := g.StoreLogs(entries(gid, b*per+1, b*per+per, 1)); err != nil {
					errc <- err
					return
				}
			}
		}()
		go func() { // snapshot goroutine: prefix compaction
			defer wg.Done()
			for i := 0; i < 20; i++ {
				last, _ := g.LastIndex()
				if last > 20 {
					if err := g.DeleteRange(0, last-20); err != nil {
						errc <- err
						return
					}
				}
			}
		}()
		go func() { // replication: reads of anything in bounds
			defer wg.Done()
			var l raft.Log
			for i := 0; i < 200; i++ {
				last, _ := g.LastIndex()
				if last == 0 {
					continue
				}
				err := g.GetLog(last, &l)
				if err != nil && err != raft.ErrLogNotFound { //nolint:errorlint
					errc <- err
					return
				}
				if err == nil && !bytes.Equal(l.Data, payload(gid, last)) {
					errc <- fmt.Errorf("group %d index %d: wrong payload", gid, last)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	for gid := uint64(0); gid < groups; gid++ {
		last, _ := s.Group(gid).LastIndex()
		if last != batches*per {
			t.Fatalf("group %d last = %d", gid, last)
		}
		checkContiguous(t, s, gid)
	}
}

// checkContiguous scans a group's whole key range: keys must be exactly first..last with the expected payload,
// and first/last must match the cache.
func checkContiguous(t *testing.T, s *Store, gid uint64) (first, last uint64) {
	t.Helper()
	lo, hi := groupBounds(gid)
	it, err := s.db.NewIter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var prev uint64
	n := 0
	for ok := it.SeekGE(lo); ok && bytes.Compare(it.Key(), hi) < 0; ok = it.Next() {
		idx, err := keyIndex(it.Key())
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 && idx != prev+1 {
			t.Fatalf("group %d: hole between %d and %d", gid, prev, idx)
		}
		var l raft.Log
		if err := decodeEntry(it.Value(), idx, &l); err != nil {
			t.Fatalf("group %d index %d: %v", gid, idx, err)
		}
		if !bytes.Equal(l.Data, payload(gid, idx)) {
			t.Fatalf("group %d index %d: wrong payload", gid, idx)
		}
		if n == 0 {
			first = idx
		}
		prev, last = idx, idx
		n++
	}
	mustBounds(t, s.Group(gid), first, last)
	return first, last
}

// FuzzDecodeEntry: corrupt values never panic; what decodes re-encodes to the same bytes.
func FuzzDecodeEntry(f *testing.F) {
	f.Add(encodeEntry(nil, &raft.Log{Term: 3, Type: raft.LogCommand, Data: []byte("x"), AppendedAt: time.Unix(5, 6)}))
	f.Add([]byte{1, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		var l raft.Log
		if err := decodeEntry(b, 7, &l); err != nil {
			return
		}
		var again raft.Log
		if err := decodeEntry(encodeEntry(nil, &l), 7, &again); err != nil {
			t.Fatal(err)
		}
		if again.Term != l.Term || again.Type != l.Type || !bytes.Equal(again.Data, l.Data) ||
			!bytes.Equal(again.Extensions, l.Extensions) || !again.AppendedAt.Equal(l.AppendedAt) {
			t.Fatalf("round trip: %+v vs %+v", l, again)
		}
	})
}
