package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftgram/raftgram/fsm"
	"github.com/raftgram/raftgram/internal/freeport"
	"github.com/raftgram/raftgram/shard"
)

// freeAddr is nodetest.FreeAddr (which this package's internal tests cannot import).
func freeAddr(t *testing.T) string {
	t.Helper()
	a, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("RAFTGRAM_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func startNode(t *testing.T, dir string) *Node {
	t.Helper()
	return startNodeWith(t, dir, nil)
}

// startNodeWith starts a node extended by ext(n) (nil: none) before Start.
func startNodeWith(t *testing.T, dir string, ext func(*Node) Extension) *Node {
	t.Helper()
	n, err := New(Config{DataDir: dir, Logger: testLogger(t), DebugAPI: true, BalanceInterval: 500 * time.Millisecond,
		RaftConfig: func(g uint32, c *raft.Config) {
			c.SnapshotThreshold, c.TrailingLogs, c.SnapshotInterval = 128, 64, 300*time.Millisecond
		}})
	if err != nil {
		t.Fatal(err)
	}
	if ext != nil {
		if err := n.Extend(ext(n)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("close %s: %v", n.ID(), err)
		}
	})
	return n
}

func waitFor(t *testing.T, what string, d time.Duration, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestInProcessCluster runs three nodes in this process (so the race detector sees the node, mux and shard
// code): init + two joins, writes and linearizable reads through every node, a duplicate request id answered
// from the dedup table, and the status report.
func TestInProcessCluster(t *testing.T) {
	nodes := inProcessCluster(t, 3, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// A read before any command: the leader's read index points at its no-op/barrier entries, which the FSM
	// never sees; the read must still complete.
	for s := uint32(0); s < 3; s++ {
		if _, ok, err := nodes[int(s)].Read(ctx, s, []byte("absent")); err != nil || ok {
			t.Fatalf("read of an absent key in shard %d: %v %v", s, ok, err)
		}
	}
	for k := 0; k < 60; k++ {
		n := nodes[k%3]
		key := []byte(fmt.Sprintf("k%d", k))
		s := shard.OfBytes(key, 3)
		res, err := n.Propose(ctx, s, fsm.Command{Type: fsm.TypeKVPut, Payload: fsm.EncodeKVPut(key, []byte("v"))})
		if err != nil || res.Err != nil {
			t.Fatalf("put %s via %s: %v %v", key, n.ID(), err, res.Err)
		}
		for _, r := range nodes {
			v, ok, err := r.Read(ctx, s, key)
			if err != nil || !ok || string(v) != "v" {
				t.Fatalf("read %s via %s: %q %v %v", key, r.ID(), v, ok, err)
			}
		}
	}

	// The same request id through two different nodes: the second answer is the first outcome, flagged.
	id, _ := nodes[0].Manager().NewRequestID()
	cmd := fsm.Command{Type: fsm.TypeKVPut, RequestID: id, Payload: fsm.EncodeKVPut([]byte("dup"), []byte("1"))}
	if res, err := nodes[1].Propose(ctx, 0, cmd); err != nil || res.Duplicate {
		t.Fatalf("first: %+v %v", res, err)
	}
	if res, err := nodes[2].Propose(ctx, 0, cmd); err != nil || !res.Duplicate {
		t.Fatalf("retry must be answered as a duplicate: %+v %v", res, err)
	}

	checkUnknownTypeRejected(ctx, t, nodes)

	st := nodes[2].ClusterStatus(ctx)
	if len(st) != 3 {
		t.Fatalf("cluster status: %d nodes", len(st))
	}
	out := FormatStatus(st)
	for _, want := range []string{"n1", "n2", "n3", "meta"} {
		if !strings.Contains(out, want) {
			t.Fatalf("status lacks %s:\n%s", want, out)
		}
	}
}

// checkUnknownTypeRejected: a command type no node can apply is refused by the proposer, both when a node
// proposes it and when it arrives as a forwarded request at the leader (the type comes from the network), with
// a typed error that crosses RPC; nothing is committed, so no replica fail-stops and the shard keeps serving.
func checkUnknownTypeRejected(ctx context.Context, t *testing.T, nodes []*Node) {
	t.Helper()
	const unknown = fsm.CommandType(4000)
	const s = uint32(1)
	var leader *Node
	waitFor(t, "a leader of shard 1", 10*time.Second, func() bool {
		for _, n := range nodes {
			if g := n.Manager().Group(s); g != nil && g.Raft().State() == raft.Leader {
				leader = n
				return true
			}
		}
		return false
	})
	before := leader.Manager().Group(s).Raft().LastIndex()
	cmd := fsm.Command{Type: unknown, Payload: []byte("x")}

	cl := NewClient(nodes[0].DataDir())
	defer cl.Close()
	var uc *shard.UnknownCommandError
	_, err := cl.ProposeAt(ctx, leader.Addr(), s, cmd) // what a forwarding node sends
	if !errors.As(err, &uc) || uc.Type != unknown || uc.Shard != s || !errors.Is(err, shard.ErrUnknownCommand) {
		t.Fatalf("forwarded propose of type %d: want *shard.UnknownCommandError, got %v", unknown, err)
	}
	for _, n := range nodes { // locally on the leader, and forwarded-or-refused on followers
		if _, err := n.Propose(ctx, s, cmd); !errors.Is(err, shard.ErrUnknownCommand) {
			t.Fatalf("propose of type %d via %s: %v", unknown, n.ID(), err)
		}
	}
	if after := leader.Manager().Group(s).Raft().LastIndex(); after != before {
		t.Fatalf("a rejected command reached the log: last index %d -> %d", before, after)
	}
	// Every node still serves the shard (a committed unknown type would have halted them all).
	key := []byte("after-unknown")
	if _, err := nodes[2].Propose(ctx, s, fsm.Command{Type: fsm.TypeKVPut, Payload: fsm.EncodeKVPut(key, []byte("ok"))}); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if v, ok, err := n.Read(ctx, s, key); err != nil || !ok || string(v) != "ok" || !n.Ready() {
			t.Fatalf("%s after the rejected command: %q %v %v ready=%v", n.ID(), v, ok, err, n.Ready())
		}
		if m := n.State().Metrics(); m.CannotApply != 0 {
			t.Fatalf("%s: CannotApply = %d", n.ID(), m.CannotApply)
		}
	}
}

// inProcessCluster inits n1, joins the others with one token each, and waits until every node is ready with
// full replica sets.
func inProcessCluster(t *testing.T, count, shards int) []*Node {
	t.Helper()
	return inProcessClusterWith(t, count, shards, nil)
}

func inProcessClusterWith(t *testing.T, count, shards int, ext func(*Node) Extension) []*Node {
	t.Helper()
	base := t.TempDir()
	d1 := filepath.Join(base, "n1")
	dd, err := Init(InitOptions{Dir: d1, Shards: shards, Listen: freeAddr(t), Admin: freeAddr(t)})
	if err != nil {
		t.Fatal(err)
	}
	nodes := []*Node{startNodeWith(t, d1, ext)}
	waitFor(t, "n1 ready", 20*time.Second, nodes[0].Ready)
	for i := 2; i <= count; i++ {
		joinNode(t, dd, nodes, filepath.Join(base, fmt.Sprintf("n%d", i)), fmt.Sprintf("n%d", i))
		nodes = append(nodes, startNodeWith(t, filepath.Join(base, fmt.Sprintf("n%d", i)), ext))
		waitFullyReplicated(t, nodes)
	}
	return nodes
}

func joinNode(t *testing.T, dd *DataDir, nodes []*Node, dir, id string) {
	t.Helper()
	tok, err := dd.NewToken(nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := Join(ctx, JoinOptions{Dir: dir, Via: nodes[len(nodes)-1].Addr(), Token: tok, NodeID: id,
		Listen: freeAddr(t), Admin: freeAddr(t)}); err != nil {
		t.Fatal(err)
	}
}

func waitFullyReplicated(t *testing.T, nodes []*Node) {
	t.Helper()
	want := min(len(nodes), shard.ReplicationFactor)
	for _, n := range nodes {
		waitFor(t, n.ID()+" ready with full replica sets", 60*time.Second, func() bool {
			p := n.Manager().Placement()
			if !n.Ready() || p == nil || len(p.Nodes) != len(nodes) {
				return false
			}
			for _, g := range n.Manager().Status() {
				if g.Group != shard.MetaGroup && len(g.Voters) != want {
					return false
				}
			}
			return true
		})
	}
}

// TestFiveNodesSpreadShards: the 4th and 5th nodes take over replicas (add the new voter, remove the old one,
// close the old replica), every shard keeps 3 voters, and data written before the moves stays readable.
func TestFiveNodesSpreadShards(t *testing.T) {
	if testing.Short() {
		t.Skip("five in-process nodes")
	}
	nodes := inProcessCluster(t, 3, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	for k := 0; k < 30; k++ {
		key := []byte(fmt.Sprintf("m%d", k))
		if _, err := nodes[0].Propose(ctx, shard.OfBytes(key, 3), fsm.Command{Type: fsm.TypeKVPut,
			Payload: fsm.EncodeKVPut(key, []byte("v"))}); err != nil {
			t.Fatal(err)
		}
	}
	dd := nodes[0].DataDir()
	base := filepath.Dir(dd.Path)
	for _, id := range []string{"n4", "n5"} {
		joinNode(t, dd, nodes, filepath.Join(base, id), id)
		nodes = append(nodes, startNode(t, filepath.Join(base, id)))
		waitFullyReplicated(t, nodes)
	}
	p := nodes[4].Manager().Placement()
	load := map[string]int{}
	for s := uint32(0); s < 3; s++ {
		for _, r := range p.Replicas[s] {
			load[r]++
		}
		// A move may have removed the shard's leader: wait for the new one, then compare its voters.
		waitFor(t, fmt.Sprintf("shard %d voters = placement %v", s, p.Replicas[s]), 30*time.Second, func() bool {
			for _, n := range nodes {
				g := n.Manager().Group(s)
				if g == nil || g.Raft().State().String() != "Leader" {
					continue
				}
				v := g.Status().Voters
				if len(v) != 3 {
					return false
				}
				for _, r := range p.Replicas[s] {
					if !slices.Contains(v, r) {
						return false
					}
				}
				return true
			}
			return false
		})
	}
	if load["n4"] == 0 || load["n5"] == 0 {
		t.Fatalf("new nodes hold no replicas: %v", p.Replicas)
	}
	// A node that gave up a replica closes it.
	waitFor(t, "moved replicas closed", 30*time.Second, func() bool {
		for _, n := range nodes {
			for s := uint32(0); s < 3; s++ {
				if !p.Holds(n.ID(), s) && n.Manager().Group(s) != nil {
					return false
				}
			}
		}
		return true
	})
	for k := 0; k < 30; k++ {
		key := []byte(fmt.Sprintf("m%d", k))
		v, ok, err := nodes[4].Read(ctx, shard.OfBytes(key, 3), key)
		if err != nil || !ok || string(v) != "v" {
			t.Fatalf("read %s after the moves: %q %v %v", key, v, ok, err)
		}
	}
}

// TestWipedNodeRejoinsAsNewIncarnation: a node restarted with its raft and state data gone (identity and
// certificate kept) has forgotten its votes, so it must not answer as its old raft member. It comes back under
// a new incarnation: the cluster drops the old raft ID from every group before the node opens any group, adds
// the new one, and the node catches up (by snapshot: the leaders' logs are compacted past what it had).
func TestWipedNodeRejoinsAsNewIncarnation(t *testing.T) {
	nodes := inProcessCluster(t, 3, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	put := func(k int) {
		key := []byte(fmt.Sprintf("w%d", k))
		if _, err := nodes[0].Propose(ctx, shard.OfBytes(key, 3), fsm.Command{Type: fsm.TypeKVPut,
			Payload: fsm.EncodeKVPut(key, []byte("v"))}); err != nil {
			t.Fatal(err)
		}
	}
	for k := 0; k < 20; k++ {
		put(k)
	}
	victim := nodes[2]
	oldID := victim.raftID
	if shard.NodeOf(oldID) != "n3" || oldID == "n3" {
		t.Fatalf("raft id %q: want n3~incarnation", oldID)
	}
	dir := victim.DataDir().Path
	if err := victim.Close(); err != nil {
		t.Fatal(err)
	}
	for k := 20; k < 500; k++ { // ~160 per shard: past SnapshotThreshold and TrailingLogs
		put(k)
	}
	time.Sleep(time.Second) // a few snapshot intervals: the leaders compact their logs
	for _, d := range []string{"raft", "raftlog", "state"} {
		if err := os.RemoveAll(filepath.Join(dir, d)); err != nil {
			t.Fatal(err)
		}
	}
	nodes[2] = startNode(t, dir)
	newID := nodes[2].raftID
	if newID == oldID || shard.NodeOf(newID) != "n3" {
		t.Fatalf("wiped node came back as %q (was %q): want a new incarnation of n3", newID, oldID)
	}
	waitFullyReplicated(t, nodes)
	for _, g := range append([]uint32{shard.MetaGroup}, 0, 1, 2) {
		waitFor(t, fmt.Sprintf("group %d: old incarnation gone, new one a voter", g), 30*time.Second, func() bool {
			for _, n := range nodes {
				gr := n.Manager().Group(g)
				if gr == nil || gr.Raft().State() != raft.Leader {
					continue
				}
				v := gr.Status().RaftVoters
				return len(v) == 3 && slices.Contains(v, newID) && !slices.Contains(v, oldID)
			}
			return false
		})
	}
	// n3 holds every key in its own state (not forwarded reads), caught up by snapshot.
	waitFor(t, "n3 caught up", 30*time.Second, func() bool {
		for k := 0; k < 500; k++ {
			key := []byte(fmt.Sprintf("w%d", k))
			if _, ok, err := nodes[2].State().Read(shard.OfBytes(key, 3), key); err != nil || !ok {
				return false
			}
		}
		return true
	})
	if m := nodes[2].State().Metrics(); m.Restores == 0 {
		t.Fatalf("n3 caught up without a snapshot restore")
	}
	// And it serves: reads through it, writes through it.
	put(500)
	if _, ok, err := nodes[2].Read(ctx, shard.OfBytes([]byte("w500"), 3), []byte("w500")); err != nil || !ok {
		t.Fatalf("read via the rejoined node: %v %v", ok, err)
	}
	// A restart without wiping keeps the incarnation.
	if err := nodes[2].Close(); err != nil {
		t.Fatal(err)
	}
	nodes[2] = startNode(t, dir)
	if nodes[2].raftID != newID {
		t.Fatalf("plain restart changed the raft id %q -> %q", newID, nodes[2].raftID)
	}
	waitFullyReplicated(t, nodes)

	// The whole data dir lost (certificate included): `join` with a fresh token under the same node id, on a
	// new address, is the other way back; again a new incarnation replaces the old one everywhere.
	if err := nodes[2].Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	joinNode(t, nodes[0].DataDir(), nodes[:2], dir, "n3")
	nodes[2] = startNode(t, dir)
	third := nodes[2].raftID
	if third == newID || shard.NodeOf(third) != "n3" {
		t.Fatalf("re-joined node has raft id %q (was %q)", third, newID)
	}
	waitFullyReplicated(t, nodes)
	for _, g := range append([]uint32{shard.MetaGroup}, 0, 1, 2) {
		waitFor(t, fmt.Sprintf("group %d: only the newest incarnation", g), 30*time.Second, func() bool {
			for _, n := range nodes {
				gr := n.Manager().Group(g)
				if gr == nil || gr.Raft().State() != raft.Leader {
					continue
				}
				v := gr.Status().RaftVoters
				return len(v) == 3 && slices.Contains(v, third) && !slices.Contains(v, newID)
			}
			return false
		})
	}
	if p := nodes[0].Manager().Placement(); p == nil || len(p.Nodes) != 3 {
		t.Fatalf("placement after the re-join: %+v", p)
	}
}

// TestLostStateRestoredFromSnapshot: a node whose state dir is gone (or whose state is otherwise behind its
// newest snapshot) restores the snapshot on start instead of replaying only the log after it, which would skip
// every entry the snapshot covers.
func TestLostStateRestoredFromSnapshot(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "n1")
	if _, err := Init(InitOptions{Dir: dir, Shards: 1, Listen: freeAddr(t), Admin: freeAddr(t)}); err != nil {
		t.Fatal(err)
	}
	n, err := New(Config{DataDir: dir, Logger: testLogger(t), RaftConfig: func(g uint32, c *raft.Config) {
		c.SnapshotThreshold, c.TrailingLogs, c.SnapshotInterval = 64, 16, 200*time.Millisecond
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "ready", 20*time.Second, n.Ready)
	for k := 0; k < 300; k++ {
		key := []byte(fmt.Sprintf("k%d", k))
		if res, err := n.Propose(ctx, 0, fsm.Command{Type: fsm.TypeKVPut, Payload: fsm.EncodeKVPut(key, key)}); err != nil || res.Err != nil {
			t.Fatalf("put: %v %v", err, res.Err)
		}
	}
	waitFor(t, "a snapshot of shard 0 past the first entries", 20*time.Second, func() bool {
		metas, _ := filepath.Glob(filepath.Join(dir, "raft", "group-0", "snapshots", "*", "meta.json"))
		return len(metas) > 0
	})
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dir, "state")); err != nil {
		t.Fatal(err)
	}
	n2 := startNode(t, dir)
	waitFor(t, "ready after restart", 20*time.Second, n2.Ready)
	for k := 0; k < 300; k++ {
		key := []byte(fmt.Sprintf("k%d", k))
		v, ok, err := n2.Read(ctx, 0, key)
		if err != nil || !ok || string(v) != string(key) {
			t.Fatalf("after losing the state dir, %s = %q %v %v", key, v, ok, err)
		}
	}
}
