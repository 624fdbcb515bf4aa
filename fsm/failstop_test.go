package fsm

import (
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
