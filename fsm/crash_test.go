package fsm

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/hashicorp/raft"
)

// incrLog: entries 1..n, each with 1..3 typeIncr commands named "<index>.<j>" (typeIncr fails with REAPPLIED if
// a name is applied twice) and a put.
func incrLog(t testing.TB, n int) (logs []*raft.Log, incrsThrough []uint64) {
	rng := rand.New(rand.NewPCG(99, 1))
	incrsThrough = make([]uint64, n+1)
	for i := 1; i <= n; i++ {
		var cmds []Command
		k := 1 + rng.IntN(3)
		for j := 0; j < k; j++ {
			cmds = append(cmds, Command{Type: typeIncr, Time: int64(i), Payload: []byte(fmt.Sprintf("%d.%d", i, j))})
		}
		cmds = append(cmds, put(fmt.Sprint("p", i%17), fmt.Sprint(i)))
		logs = append(logs, entry(t, uint64(i), cmds...))
		incrsThrough[i] = incrsThrough[i-1] + uint64(k)
	}
	return logs, incrsThrough
}

// checkConsistent: the state holds exactly the effects of entries 1..applied.
func checkConsistent(t *testing.T, st *State, shard uint32, incrsThrough []uint64) uint64 {
	t.Helper()
	applied := st.Shard(shard).AppliedIndex()
	v, _, err := st.Read(shard, []byte("counter"))
	if err != nil {
		t.Fatal(err)
	}
	var counter uint64
	if len(v) == 8 {
		counter = binary.BigEndian.Uint64(v)
	}
	if counter != incrsThrough[applied] {
		t.Fatalf("applied index %d but counter %d (want %d): state and applied index out of step",
			applied, counter, incrsThrough[applied])
	}
	return applied
}

func replay(t *testing.T, sm *ShardFSM, logs []*raft.Log, rng *rand.Rand) {
	t.Helper()
	for i := 0; i < len(logs); {
		n := min(1+rng.IntN(9), len(logs)-i)
		for _, r := range applyAll(t, sm, logs[i:i+n]) {
			if r.Err != nil {
				t.Fatal(r.Err)
			}
			for _, c := range r.Results {
				if c.Err != nil {
					t.Fatalf("entry %d: %v", r.Index, c.Err)
				}
			}
		}
		i += n
	}
}

// TestCrashNeitherReappliesNorSkips: power is cut at random points while a shard applies with NoSync. After
// restart the applied index always matches the state, and replaying the whole log (what raft does from its last
// snapshot) converges to the state of a replica that never crashed, without applying anything twice.
func TestCrashNeitherReappliesNorSkips(t *testing.T) {
	logs, incrs := incrLog(t, 120)
	ref := openState(t, vfs.NewMem(), "ref")
	defer ref.Close()
	replay(t, ref.Shard(1), logs, rand.New(rand.NewPCG(1, 1)))
	want := dump(t, ref, 1)

	for round, unsynced := range []int{0, 20, 50, 80, 100} {
		fs := vfs.NewCrashableMem()
		st := openState(t, fs, "st")
		rng := rand.New(rand.NewPCG(uint64(round), 7))
		cutAt := 20 + rng.IntN(90)
		replay(t, st.Shard(1), logs[:cutAt], rng)
		crashed := fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: unsynced, RNG: rng})
		replay(t, st.Shard(1), logs[cutAt:], rng) // the original keeps going; the clone is frozen at the cut
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}

		st2 := openState(t, crashed, "st")
		applied := checkConsistent(t, st2, 1, incrs)
		if applied > uint64(cutAt) {
			t.Fatalf("round %d: applied %d beyond the cut %d", round, applied, cutAt)
		}
		replay(t, st2.Shard(1), logs, rng)
		if got := dump(t, st2, 1); !reflect.DeepEqual(got, want) {
			t.Fatalf("round %d (unsynced %d%%, cut %d, recovered %d): state differs from the reference",
				round, unsynced, cutAt, applied)
		}
		if err := st2.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCrashAfterPersistKeepsSnapshotState: once Persist returned for a snapshot at index X, losing every unsynced
// write still leaves the state at >= X (raft may already have dropped the log up to X).
func TestCrashAfterPersistKeepsSnapshotState(t *testing.T) {
	logs, incrs := incrLog(t, 60)
	fs := vfs.NewCrashableMem()
	st := openState(t, fs, "st")
	defer st.Close()
	rng := rand.New(rand.NewPCG(3, 3))
	replay(t, st.Shard(1), logs[:40], rng)
	persist(t, st.Shard(1))
	replay(t, st.Shard(1), logs[40:], rng)
	crashed := fs.CrashClone(vfs.CrashCloneCfg{})
	st2 := openState(t, crashed, "st")
	defer st2.Close()
	if applied := checkConsistent(t, st2, 1, incrs); applied < 40 {
		t.Fatalf("state lost below the persisted snapshot: applied %d < 40", applied)
	}
}
