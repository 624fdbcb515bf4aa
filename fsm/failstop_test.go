package fsm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/hashicorp/raft"
)

// TestStorageFailureIsFatal: when the state's WAL fails, the replica stops (OnFatal), waiting proposers get an
// error instead of a result, and the applied index does not move.
func TestStorageFailureIsFatal(t *testing.T) {
	var failing atomic.Bool
	inj := errorfs.InjectorFunc(func(op errorfs.Op) error {
		if failing.Load() && strings.HasSuffix(op.Path, ".log") &&
			(op.Kind == errorfs.OpFileWrite || op.Kind == errorfs.OpFileSync || op.Kind == errorfs.OpFileSyncData) {
			return errorfs.ErrInjected
		}
		return nil
	})
	var fatals atomic.Int32
	st, err := Open("s", Options{FS: errorfs.Wrap(vfs.NewMem(), inj), OnFatal: func(error) { fatals.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sm := st.Shard(1)
	applyAll(t, sm, []*raft.Log{entry(t, 1, put("a", "1"))})
	failing.Store(true)
	// Persist's sync is the first write that must reach the disk.
	snap, err := sm.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var sink memSink
	if err := snap.Persist(&sink); err == nil || !sink.cancelled {
		t.Fatal("snapshot persisted although the state could not be synced")
	}
	snap.Release()
	res := applyAll(t, sm, []*raft.Log{entry(t, 2, put("b", "2"))})
	if res[0].Err == nil {
		t.Fatal("apply reported success after a storage failure")
	}
	if sm.AppliedIndex() != 1 {
		t.Fatalf("applied index moved to %d", sm.AppliedIndex())
	}
	if fatals.Load() != 1 {
		t.Fatalf("OnFatal called %d times", fatals.Load())
	}
}

// typeNew is a command type that an "older binary" in these tests does not know.
const typeNew CommandType = 4242

// newerDecode stands in for a binary that also applies envelope version 2 (here: the version 1 format).
func newerDecode(b []byte) ([]Command, error) {
	if len(b) > 0 && b[0] == 2 {
		return DecodeBatch(append([]byte{EnvelopeVersion}, b[1:]...))
	}
	return DecodeBatch(b)
}

// registerNew registers typeNew as a newer binary would: it counts its applications in "news".
func registerNew(st *State) {
	st.Register(typeNew, ApplierFunc(func(tx *Tx, cmd Command) ([]byte, error) {
		v, _, err := tx.Get([]byte("news"))
		if err != nil {
			return nil, err
		}
		var n uint64
		if len(v) == 8 {
			n = binary.BigEndian.Uint64(v)
		}
		return nil, tx.Set([]byte("news"), binary.BigEndian.AppendUint64(nil, n+1))
	}))
}

// cannotApplyCases: entries an older binary cannot apply, with what a newer binary needs to apply them.
func cannotApplyCases(t *testing.T) []struct {
	name    string
	bad     *raft.Log // at index 3
	cause   error
	logged  string // attribute of the ERROR line naming the version or type
	upgrade func(st *State)
} {
	v2 := entry(t, 3, Command{Type: typeIncr, Time: 1, Payload: []byte("v2")})
	v2.Data[0] = 2
	return []struct {
		name    string
		bad     *raft.Log
		cause   error
		logged  string
		upgrade func(st *State)
	}{
		{"unknown version", v2, ErrUnknownVersion, "version=2", func(st *State) { st.decode = newerDecode }},
		{"unknown type", entry(t, 3, put("same-entry", "1"), Command{Type: typeNew, Time: 1}), ErrUnknownType,
			"type=4242", registerNew},
		// A newer binary might define flag bit 1; here "upgrading" cannot help, but the node must still stop.
		{"malformed", &raft.Log{Index: 3, Term: 1, Type: raft.LogCommand, Data: []byte{1, 1, 1, 2, 0, 0}},
			ErrMalformed, "version=1", nil},
	}
}

// TestCannotApplyHalts: an entry this binary cannot apply (unknown envelope version or command type, malformed
// envelope) is fail-stop: the batch holding it is not committed (nothing of it or of its neighbours), the
// applied index stays, OnFatal is called once, one clear ERROR line is logged, proposers get a clear error,
// later entries are refused too, and Snapshot refuses so raft cannot compact past the entry.
func TestCannotApplyHalts(t *testing.T) {
	for _, tc := range cannotApplyCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			var logBuf bytes.Buffer
			var fatals []error
			st, err := Open("s", Options{FS: vfs.NewMem(), Logger: slog.New(slog.NewTextHandler(&logBuf, nil)),
				OnFatal: func(err error) { fatals = append(fatals, err) }})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			registerTestAppliers(st)
			sm := st.Shard(9)
			applyAll(t, sm, []*raft.Log{entry(t, 1, put("before", "1"))})
			before := dump(t, st, 9)

			res := applyAll(t, sm, []*raft.Log{entry(t, 2, put("same-batch", "1")), tc.bad, entry(t, 4, put("after", "1"))})
			for _, r := range res {
				if r.Err == nil || r.Results != nil {
					t.Fatalf("entry %d: %+v, want an error", r.Index, r)
				}
			}
			err = res[1].Err
			if !errors.Is(err, tc.cause) || !strings.Contains(err.Error(), "shard 9 entry 3 (term 1)") ||
				!strings.Contains(err.Error(), "upgrade this node's binary") {
				t.Fatalf("error not clear: %v", err)
			}
			if sm.AppliedIndex() != 1 {
				t.Fatalf("applied index moved to %d", sm.AppliedIndex())
			}
			if got := dump(t, st, 9); !reflect.DeepEqual(got, before) {
				t.Fatalf("state changed:\n%v\nwas\n%v", got, before)
			}
			if len(fatals) != 1 || !errors.Is(fatals[0], tc.cause) {
				t.Fatalf("OnFatal calls: %v", fatals)
			}
			if m := st.Metrics(); m.CannotApply != 1 {
				t.Fatalf("metrics: %+v", m)
			}
			var errorLines []string
			for _, line := range strings.Split(strings.TrimSpace(logBuf.String()), "\n") {
				if strings.Contains(line, "level=ERROR") {
					errorLines = append(errorLines, line)
				}
			}
			if len(errorLines) != 1 {
				t.Fatalf("ERROR lines: %q", errorLines)
			}
			for _, want := range []string{"upgrade this node's binary", "shard=9", "index=3", "term=1", tc.logged} {
				if !strings.Contains(errorLines[0], want) {
					t.Fatalf("ERROR line lacks %q: %s", want, errorLines[0])
				}
			}
			if tc.cause == ErrUnknownType && (st.Applies(typeNew) || !st.Applies(TypeKVPut) || !st.Applies(typeIncr)) {
				t.Fatal("Applies disagrees with the registered appliers")
			}
			if _, err := sm.Snapshot(); !errors.Is(err, tc.cause) {
				t.Fatalf("Snapshot on a halted FSM: %v", err)
			}
			// If OnFatal returns, raft keeps handing over entries: all refused, nothing moves, no second fatal.
			res = applyAll(t, sm, []*raft.Log{entry(t, 4, put("after", "1"))})
			if res[0].Err == nil || sm.AppliedIndex() != 1 || len(fatals) != 1 {
				t.Fatalf("after the halt: %+v, applied %d, fatals %d", res[0], sm.AppliedIndex(), len(fatals))
			}
		})
	}
}

// TestNewBinaryAppliesOnce: the mixed-version scenario. An older binary halts on an entry; the node restarts
// with a newer binary over the same state, raft replays its log (NoSnapshotRestoreOnStart), and the entry is
// applied exactly once: the final state is byte-identical to that of a replica that ran the newer binary
// throughout, and a further restart and replay changes nothing.
func TestNewBinaryAppliesOnce(t *testing.T) {
	for _, tc := range cannotApplyCases(t) {
		if tc.upgrade == nil {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			logs := []*raft.Log{
				entry(t, 1, Command{Type: typeIncr, Time: 1, Payload: []byte("1")}),
				entry(t, 2, put("two", "2")),
				tc.bad,
				entry(t, 4, Command{Type: typeIncr, Time: 1, Payload: []byte("4")}),
			}
			ref := openState(t, vfs.NewMem(), "ref")
			defer ref.Close()
			tc.upgrade(ref)
			for _, r := range applyAll(t, ref.Shard(1), logs) {
				if r.Err != nil {
					t.Fatal(r.Err)
				}
			}
			want := dump(t, ref, 1)

			fs := vfs.NewMem()
			var fatals atomic.Int32
			old, err := Open("s", Options{FS: fs, OnFatal: func(error) { fatals.Add(1) }})
			if err != nil {
				t.Fatal(err)
			}
			registerTestAppliers(old)
			applyAll(t, old.Shard(1), logs[:2])
			applyAll(t, old.Shard(1), logs[2:])
			if fatals.Load() != 1 || old.Shard(1).AppliedIndex() != 2 {
				t.Fatalf("old binary: fatals %d, applied %d", fatals.Load(), old.Shard(1).AppliedIndex())
			}
			if err := old.Close(); err != nil {
				t.Fatal(err)
			}

			for restart := 0; restart < 2; restart++ {
				st := openState(t, fs, "s")
				tc.upgrade(st)
				wantApplied := uint64(2)
				if restart > 0 {
					wantApplied = 4
				}
				if got := st.Shard(1).AppliedIndex(); got != wantApplied {
					t.Fatalf("restart %d: applied %d, want %d", restart, got, wantApplied)
				}
				for _, r := range applyAll(t, st.Shard(1), logs) {
					if r.Err != nil {
						t.Fatal(r.Err)
					}
					if applied := r.Index > wantApplied; applied == r.Skipped {
						t.Fatalf("restart %d: entry %d skipped=%v", restart, r.Index, r.Skipped)
					}
					for _, c := range r.Results {
						if c.Err != nil {
							t.Fatalf("entry %d: %v", r.Index, c.Err)
						}
					}
				}
				if got := dump(t, st, 1); !reflect.DeepEqual(got, want) {
					t.Fatalf("restart %d: state differs from a replica that always ran the newer binary", restart)
				}
				if err := st.Close(); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}
