package raftlog

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/hashicorp/raft"
)

// TestWALFailureIsFatal: once a WAL write or fsync fails, the store calls OnFatal and never acknowledges an
// append again, and no later call reports success.
func TestWALFailureIsFatal(t *testing.T) {
	var failing atomic.Bool
	inj := errorfs.InjectorFunc(func(op errorfs.Op) error {
		if failing.Load() && strings.HasSuffix(op.Path, ".log") {
			switch op.Kind {
			case errorfs.OpFileWrite, errorfs.OpFileSync, errorfs.OpFileSyncData, errorfs.OpFileSyncTo:
				return errorfs.ErrInjected
			}
		}
		return nil
	})
	var mu sync.Mutex
	var fatals []error
	s, err := Open("db", Options{FS: errorfs.Wrap(vfs.NewMem(), inj), OnFatal: func(err error) {
		mu.Lock()
		fatals = append(fatals, err)
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	g := s.Group(1)
	if err := g.StoreLogs(entries(1, 1, 5, 1)); err != nil {
		t.Fatal(err)
	}
	failing.Store(true)
	if err := g.StoreLogs(entries(1, 6, 8, 1)); err == nil {
		t.Fatal("append acknowledged although the WAL failed")
	}
	mustBounds(t, g, 1, 5)
	failing.Store(false) // the disk "recovers": the store must stay failed
	if err := g.StoreLogs(entries(1, 6, 8, 1)); err == nil {
		t.Fatal("append acknowledged after a WAL failure")
	}
	if err := s.Group(2).StoreLog(&raft.Log{Index: 1}); err == nil {
		t.Fatal("other group acknowledged after a WAL failure")
	}
	mu.Lock()
	n := len(fatals)
	mu.Unlock()
	if n != 1 {
		t.Fatalf("OnFatal called %d times, want 1", n)
	}
	if !strings.Contains(fatals[0].Error(), "injected") {
		t.Fatalf("fatal error does not carry the cause: %v", fatals[0])
	}
	t.Logf("fatal: %v", fatals[0])
	_ = s.Close()
}
