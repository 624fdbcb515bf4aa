package raftlog

import (
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/hashicorp/raft"
)

// TestCompactionBoundsDisk: raft's pattern of appends followed by prefix deletes (snapshot + TrailingLogs) keeps
// the store's disk footprint bounded while far more data flows through it. No manual compaction: range
// tombstones are reclaimed by Pebble's own compactions.
func TestCompactionBoundsDisk(t *testing.T) {
	s, err := Open("db", Options{FS: vfs.NewMem(), MemTableBytes: 64 << 10,
		OnFatal: func(err error) { t.Errorf("fatal: %v", err) }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const (
		groups   = 4
		perRound = 32
		keep     = 256 // TrailingLogs
	)
	rounds := 320
	if raceEnabled {
		rounds = 160
	}
	// Distinct incompressible payloads, or block compression would hide the footprint.
	rng := rand.New(rand.NewPCG(1, 2))
	pool := make([]byte, 1<<20)
	for i := range pool {
		pool[i] = byte(rng.Uint32())
	}
	const size = 256
	var maxDisk uint64
	next := make([]uint64, groups)
	for r := 0; r < rounds; r++ {
		for g := uint64(0); g < groups; g++ {
			gl := s.Group(g)
			logs := make([]*raft.Log, perRound)
			for i := range logs {
				next[g]++
				off := rng.IntN(len(pool) - size)
				logs[i] = &raft.Log{Index: next[g], Term: 1, Data: pool[off : off+size]}
			}
			if err := gl.StoreLogs(logs); err != nil {
				t.Fatal(err)
			}
			if r%8 == 7 && next[g] > keep { // a snapshot every 8 rounds, then compaction to TrailingLogs
				if err := gl.DeleteRange(0, next[g]-keep); err != nil {
					t.Fatal(err)
				}
			}
		}
		if r%4 != 3 {
			continue
		}
		if d := s.Metrics().DiskBytes; d > maxDisk {
			maxDisk = d
		}
	}
	written := uint64(groups * rounds * perRound * size)
	t.Logf("payload written %d KiB, max disk %d KiB, final disk %d KiB", written>>10, maxDisk>>10, s.Metrics().DiskBytes>>10)
	live := uint64(groups * keep * size)
	// Bounded: the footprint depends on the live log (plus memtable-sized WAL and L0 files), not on what flowed
	// through. Measured: 1.5..1.7 MiB max over 10 MiB written with 256 KiB live.
	if maxDisk > 10*live || written < 2*maxDisk {
		t.Fatalf("disk footprint %d KiB not bounded (written %d KiB)", maxDisk>>10, written>>10)
	}
}
