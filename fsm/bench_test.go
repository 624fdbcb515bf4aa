package fsm

import (
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"

	"github.com/raftgram/raftgram/shard/raftlog"
)

// benchNode is one cluster member holding a replica of every group: one State (all shards) and, in "shared"
// mode, one raftlog.Store for all groups' logs; in "bolt" mode one raft-boltdb file per group for the log.
type benchNode struct {
	state  *State
	logs   *raftlog.Store
	closer []io.Closer
}

// BenchmarkRaftGroups: 3 replicas (in one process, InmemTransport, real disk) of G raft groups, 64 writers
// each proposing one 256-byte KV put at a time, spread over the groups. Compares the shared Pebble log store
// with one raft-boltdb/v2 log file per group and replica. Raft config as node/ sets it (BatchApplyCh,
// MaxAppendEntries 512, NoSnapshotRestoreOnStart); no proposer-side batching (one command per entry).
//
//	go test -run '^$' -bench RaftGroups -benchtime 20000x ./fsm/
func BenchmarkRaftGroups(b *testing.B) {
	for _, mode := range []string{"shared-pebble", "bolt-per-group"} {
		for _, groups := range []int{1, 4, 16} {
			b.Run(fmt.Sprintf("%s/groups=%d", mode, groups), func(b *testing.B) {
				benchRaftGroups(b, mode, groups, 64, 1)
			})
		}
	}
}

// BenchmarkRaftGroupsBatched is BenchmarkRaftGroups with every entry carrying 16 commands, the upper bound of
// what proposer-side batching (shard/) gains: b.N counts commands, writes/s is commands per second.
//
//	go test -run '^$' -bench RaftGroupsBatched -benchtime 100000x ./fsm/
func BenchmarkRaftGroupsBatched(b *testing.B) {
	for _, groups := range []int{1, 4} {
		b.Run(fmt.Sprintf("shared-pebble/groups=%d/per=16", groups), func(b *testing.B) {
			benchRaftGroups(b, "shared-pebble", groups, 64, 16)
		})
	}
}

func benchRaftGroups(b *testing.B, mode string, groups, writers, per int) {
	const replicas = 3
	nodes := make([]*benchNode, replicas)
	for i := range nodes {
		dir := b.TempDir()
		st, err := Open(filepath.Join(dir, "state"), Options{})
		if err != nil {
			b.Fatal(err)
		}
		n := &benchNode{state: st, closer: []io.Closer{st}}
		if mode == "shared-pebble" {
			n.logs, err = raftlog.Open(filepath.Join(dir, "raftlog"), raftlog.Options{})
			if err != nil {
				b.Fatal(err)
			}
			n.closer = append(n.closer, n.logs)
		}
		nodes[i] = n
	}
	type grp struct{ rafts [replicas]*raft.Raft }
	gs := make([]*grp, groups)
	var shutdown []func()
	for g := 0; g < groups; g++ {
		gr := &grp{}
		var trans [replicas]*raft.InmemTransport
		var addrs [replicas]raft.ServerAddress
		var servers []raft.Server
		for i := range nodes {
			addrs[i], trans[i] = raft.NewInmemTransport(raft.ServerAddress(fmt.Sprintf("g%d-n%d", g, i)))
			servers = append(servers, raft.Server{ID: raft.ServerID(fmt.Sprint("n", i)), Address: addrs[i]})
		}
		for i := range nodes {
			for j := range nodes {
				if i != j {
					trans[i].Connect(addrs[j], trans[j])
				}
			}
		}
		for i, n := range nodes {
			dir := b.TempDir()
			stable, err := raftboltdb.NewBoltStore(filepath.Join(dir, "stable.bolt"))
			if err != nil {
				b.Fatal(err)
			}
			n.closer = append(n.closer, stable)
			var logs raft.LogStore
			if n.logs != nil {
				logs = n.logs.Group(uint64(g))
			} else {
				bl, err := raftboltdb.NewBoltStore(filepath.Join(dir, "log.bolt"))
				if err != nil {
					b.Fatal(err)
				}
				n.closer = append(n.closer, bl)
				logs = bl
			}
			cache, _ := raft.NewLogCache(512, logs)
			snaps := raft.NewInmemSnapshotStore()
			c := raft.DefaultConfig()
			c.LocalID = servers[i].ID
			c.LogOutput = io.Discard
			c.NoSnapshotRestoreOnStart = true
			c.BatchApplyCh = true
			c.MaxAppendEntries = 512
			// Loaded 2-core machine: avoid elections that would invalidate the numbers.
			c.HeartbeatTimeout = time.Second
			c.ElectionTimeout = time.Second
			c.LeaderLeaseTimeout = 500 * time.Millisecond
			r, err := raft.NewRaft(c, n.state.Shard(uint32(g)), cache, stable, snaps, trans[i])
			if err != nil {
				b.Fatal(err)
			}
			gr.rafts[i] = r
			shutdown = append(shutdown, func() { _ = r.Shutdown().Error(); _ = trans[i].Close() })
		}
		if err := gr.rafts[g%replicas].BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil {
			b.Fatal(err)
		}
		gs[g] = gr
	}
	defer func() {
		for _, f := range shutdown {
			f()
		}
		for _, n := range nodes {
			for i := len(n.closer) - 1; i >= 0; i-- {
				_ = n.closer[i].Close()
			}
		}
	}()
	leader := func(g int) *raft.Raft {
		for {
			for _, r := range gs[g].rafts {
				if r.State() == raft.Leader {
					return r
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	terms := func() (out []string) {
		for g := range gs {
			out = append(out, leader(g).Stats()["term"])
		}
		return out
	}
	before := terms()
	payload := EncodeKVPut([]byte("key"), make([]byte, 256))
	cmds := make([]Command, per)
	for i := range cmds {
		cmds[i] = Command{Type: TypeKVPut, Time: 1, Payload: payload}
	}
	entryData, err := EncodeBatch(cmds)
	if err != nil {
		b.Fatal(err)
	}
	var left, retries atomic.Int64
	left.Store(int64(b.N / per))
	lat := make([][]time.Duration, writers)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := w % groups
			r := leader(g)
			for left.Add(-1) >= 0 {
				t0 := time.Now()
				f := r.Apply(entryData, 10*time.Second)
				if err := f.Error(); err != nil { // leadership moved: count it, find the new leader
					retries.Add(1)
					r = leader(g)
					continue
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "writes/s")
	if len(all) > 0 {
		b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
	}
	if after := terms(); fmt.Sprint(after) != fmt.Sprint(before) {
		b.Logf("INVALID RUN: raft terms moved (elections): %v -> %v, %d failed proposals", before, after, retries.Load())
	}
}

// BenchmarkApplyBatch: the FSM alone on the real disk; one op = one ApplyBatch of `entries` raft entries of
// `per` 256-byte KV puts each (what raft hands over with BatchApplyCh), half of them with request ids.
// Proposer times are real unix milliseconds advancing `step` ms per command; with step > 0 the shard is first
// warmed through one DedupWindow, so every measured command runs in the steady state where dedup records
// expire as fast as they are made (what a leader does after 5 minutes of load). step 0 keeps every command at
// the same millisecond (expiry never due: the dedup lookup alone).
//
//	go test -run '^$' -bench ApplyBatch ./fsm/
func BenchmarkApplyBatch(b *testing.B) {
	for _, shape := range []struct {
		entries, per int
		step         int64
	}{{512, 1, 0}, {64, 16, 0}, {512, 1, 20}, {64, 16, 20}} {
		b.Run(fmt.Sprintf("entries=%d/per=%d/step=%dms", shape.entries, shape.per, shape.step), func(b *testing.B) {
			st, err := Open(b.TempDir(), Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			sm := st.Shard(1)
			value := make([]byte, 256)
			idx := uint64(0)
			var n int
			const base = int64(1_700_000_000_000)
			batch := func() []*raft.Log {
				logs := make([]*raft.Log, shape.entries)
				for e := range logs {
					idx++
					cmds := make([]Command, shape.per)
					for j := range cmds {
						n++
						cmds[j] = Command{Type: TypeKVPut, Time: base + int64(n)*shape.step,
							Payload: EncodeKVPut([]byte(fmt.Sprint("k", n%100000)), value)}
						if n%2 == 0 {
							cmds[j].RequestID = RequestID{byte(n), byte(n >> 8), byte(n >> 16), byte(n >> 24), 1}
						}
					}
					data, _ := EncodeBatch(cmds)
					logs[e] = &raft.Log{Index: idx, Term: 1, Type: raft.LogCommand, Data: data}
				}
				return logs
			}
			if shape.step > 0 {
				warm := int(DedupWindow.Milliseconds()/shape.step) * 11 / 10
				for n < warm {
					sm.ApplyBatch(batch())
				}
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				logs := batch()
				b.StartTimer()
				sm.ApplyBatch(logs)
			}
			b.ReportMetric(float64(b.N*shape.entries*shape.per)/b.Elapsed().Seconds(), "commands/s")
		})
	}
}
