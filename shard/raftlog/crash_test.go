package raftlog

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestCrashKeepsSyncedAppends cuts power (vfs.MemFS CrashClone: synced data stays, a random part of the
// unsynced data survives) while many groups append and compact concurrently. After reopening, every group's
// log must be contiguous (no hole), hold every append acknowledged before the cut, and carry the right bytes.
func TestCrashKeepsSyncedAppends(t *testing.T) {
	for round, unsynced := range []int{0, 30, 70, 100} {
		fs := vfs.NewCrashableMem()
		s := openMem(t, fs)
		const groups = 6
		var acked [groups]atomic.Uint64
		var appends atomic.Int64
		crashAt := int64(40 + 25*round)
		cut := make(chan struct{})
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for gid := uint64(0); gid < groups; gid++ {
			g := s.Group(gid)
			wg.Add(1)
			go func() {
				defer wg.Done()
				next := uint64(1)
				for b := 0; ; b++ {
					select {
					case <-stop:
						return
					default:
					}
					n := uint64(1 + b%7)
					if err := g.StoreLogs(entries(gid, next, next+n-1, 1)); err != nil {
						t.Error(err)
						return
					}
					next += n
					acked[gid].Store(next - 1)
					if appends.Add(1) == crashAt {
						close(cut)
					}
					if b%5 == 4 && next > 10 {
						if err := g.DeleteRange(0, next-10); err != nil { // unsynced compaction
							t.Error(err)
							return
						}
					}
				}
			}()
		}
		<-cut
		var want [groups]uint64
		for i := range want {
			want[i] = acked[i].Load()
		}
		rng := rand.New(rand.NewPCG(uint64(round), 42))
		crashed := fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: unsynced, RNG: rng})
		close(stop)
		wg.Wait()
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}

		s2 := openMem(t, crashed)
		for gid := uint64(0); gid < groups; gid++ {
			_, last := checkContiguous(t, s2, gid)
			if last < want[gid] {
				t.Fatalf("round %d (unsynced %d%%): group %d lost acknowledged appends: last %d < acked %d",
					round, unsynced, gid, last, want[gid])
			}
		}
		// The recovered store keeps working: appends continue the log.
		g := s2.Group(0)
		last, _ := g.LastIndex()
		if err := g.StoreLogs(entries(0, last+1, last+3, 2)); err != nil {
			t.Fatal(err)
		}
		if err := s2.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
