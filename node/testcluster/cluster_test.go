package testcluster_test

import (
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	crand "crypto/rand"
	"crypto/tls"

	"github.com/raftgram/raftgram/node"
	"github.com/raftgram/raftgram/node/mux"
	"github.com/raftgram/raftgram/node/pki"
	"github.com/raftgram/raftgram/node/testcluster"
	"github.com/raftgram/raftgram/shard"
)

const shards = 3

// keep leaves the cluster's data dirs and process logs (n1.log, ...) on disk for a post-mortem:
// go test -run TestCluster ./node/testcluster/ -args -keep
var keep = flag.Bool("keep", false, "keep the cluster's data dirs and process logs (the path is logged)")

func startCluster(t *testing.T) *testcluster.Cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("starts 3 processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	dir := t.TempDir()
	if *keep {
		d, err := os.MkdirTemp("", "TestCluster")
		if err != nil {
			t.Fatal(err)
		}
		dir = d
		t.Logf("cluster dir (kept): %s", dir)
	}
	c, err := testcluster.Start(ctx, testcluster.Options{Nodes: 3, Shards: shards, Dir: dir,
		// Small snapshot threshold so a wiped node must catch up by snapshot, not by log.
		ServeArgs: []string{"--raft-snapshot-threshold=64", "--raft-trailing-logs=16", "--raft-snapshot-interval=500ms",
			"--balance-interval=1s"}})
	if err != nil {
		testcluster.LogTails(t, dir, 6000)
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		if t.Failed() {
			testcluster.LogTails(t, dir, 6000)
		}
	})
	return c
}

func tctx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func rid() string {
	var b [16]byte
	_, _ = crand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// putRetry writes through random running nodes until acknowledged or ctx ends; the same request id every time.
func putRetry(ctx context.Context, c *testcluster.Cluster, rng *rand.Rand, key, val string) error {
	id := rid()
	var last error
	for ctx.Err() == nil {
		i := rng.IntN(len(c.Nodes))
		if !c.Nodes[i].Running() {
			continue
		}
		r, err := c.Put(ctx, i, key, val, id)
		if err == nil && r.Error == "" {
			return nil
		}
		last = fmt.Errorf("%v %s", err, r.Error)
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("put %s: %w (last %v)", key, ctx.Err(), last)
}

func TestCluster(t *testing.T) {
	c := startCluster(t)

	t.Run("StatusCommand", func(t *testing.T) {
		ctx := tctx(t, 30*time.Second)
		var out string
		// A status is a snapshot: during a leadership transfer a group briefly has no leader. Poll.
		for {
			o, err := c.Run(ctx, "status", "--data-dir", c.Nodes[1].Dir)
			if err != nil {
				t.Fatalf("status: %v\n%s", err, o)
			}
			out = o
			if !strings.Contains(out, "?") || ctx.Err() != nil {
				break
			}
			time.Sleep(300 * time.Millisecond)
		}
		for _, want := range []string{"n1", "n2", "n3", "meta", "GROUP", "LEADER"} {
			if !strings.Contains(out, want) {
				t.Fatalf("status output lacks %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, "?") {
			t.Fatalf("group without leader:\n%s", out)
		}
		t.Logf("\n%s", out)
	})

	t.Run("WritesThroughAnyNode", func(t *testing.T) {
		ctx := tctx(t, 60*time.Second)
		before := 0.0
		for i := range c.Nodes {
			v, _ := c.Metric(ctx, i, "raftgram_shard_forwarded_requests_total", "")
			before += v
		}
		const n = 30
		for k := 0; k < n; k++ {
			key := fmt.Sprintf("any-%d", k)
			if _, err := c.Put(ctx, k%3, key, "v"+key, ""); err != nil {
				t.Fatal(err)
			}
		}
		for k := 0; k < n; k++ {
			key := fmt.Sprintf("any-%d", k)
			for i := range c.Nodes {
				r, err := c.Get(ctx, i, key)
				if err != nil || !r.Found || r.Value != "v"+key {
					t.Fatalf("get %s via n%d: %+v %v", key, i+1, r, err)
				}
				if r.Shard != shard.OfBytes([]byte(key), shards) {
					t.Fatalf("key %s landed on shard %d", key, r.Shard)
				}
			}
		}
		after := 0.0
		for i := range c.Nodes {
			v, _ := c.Metric(ctx, i, "raftgram_shard_forwarded_requests_total", "")
			after += v
		}
		if after <= before {
			t.Fatalf("no request was forwarded to a leader (forwarded %v -> %v)", before, after)
		}
	})

	t.Run("CompareAndSet", func(t *testing.T) {
		ctx := tctx(t, 30*time.Second)
		if r, err := c.CAS(ctx, 0, "cas-key", "", true, "a", ""); err != nil || r.Error != "" {
			t.Fatalf("create: %+v %v", r, err)
		}
		if r, err := c.CAS(ctx, 1, "cas-key", "zzz", false, "b", ""); err != nil || !strings.Contains(r.Error, "CAS_MISMATCH") {
			t.Fatalf("mismatch must be reported: %+v %v", r, err)
		}
		if r, err := c.CAS(ctx, 2, "cas-key", "a", false, "b", ""); err != nil || r.Error != "" {
			t.Fatalf("swap: %+v %v", r, err)
		}
		if r, err := c.Get(ctx, 0, "cas-key"); err != nil || r.Value != "b" {
			t.Fatalf("after swap: %+v %v", r, err)
		}
	})

	t.Run("LeadershipSpread", func(t *testing.T) {
		ctx := tctx(t, 30*time.Second)
		for {
			lead := map[int]int{}
			for s := uint32(0); s < shards; s++ {
				lead[c.Leader(ctx, s)]++
			}
			if len(lead) == 3 && lead[-1] == 0 {
				return
			}
			if ctx.Err() != nil {
				t.Fatalf("leaderships not spread over the 3 nodes: %v", lead)
			}
			time.Sleep(200 * time.Millisecond)
		}
	})

	t.Run("OutsiderRejected", func(t *testing.T) {
		ctx := tctx(t, 30*time.Second)
		evilCA, _ := pki.NewCA("evil", time.Now(), crand.Reader)
		key, keyPEM, _ := pki.GenerateKey(crand.Reader)
		certPEM, _ := evilCA.Issue("n1", key.Public(), time.Now(), crand.Reader)
		evil, err := pki.LoadIdentity(evilCA, certPEM, keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		termsBefore := terms(t, c)
		cfg := &tls.Config{MinVersion: tls.VersionTLS13, InsecureSkipVerify: true, Certificates: []tls.Certificate{evil.Cert}}
		for _, kind := range []byte{mux.KindRaft, mux.KindRPC} {
			conn, err := mux.Dial(ctx, c.Nodes[0].Addr, cfg, kind, 0)
			if err != nil {
				continue
			}
			// A vote request's worth of bytes with a huge term: it must not reach Raft.
			_, _ = conn.Write([]byte{1, 0x81, 0xa4, 'T', 'e', 'r', 'm', 0xcf, 0x7f, 0, 0, 0, 0, 0, 0, 0})
			_ = conn.SetReadDeadline(time.Now().Add(3 * time.Second))
			buf := make([]byte, 64)
			if n, _ := conn.Read(buf); n > 0 {
				t.Fatalf("outsider read %d bytes from a kind-%d stream", n, kind)
			}
			conn.Close()
		}
		// A bad token and a replayed token are both refused.
		dd, err := node.OpenDataDir(c.Nodes[0].Dir)
		if err != nil {
			t.Fatal(err)
		}
		good, _ := dd.NewToken(nil)
		tok, _ := pki.ParseToken(good)
		tok.MAC[0] ^= 1
		_, err = node.Join(ctx, node.JoinOptions{Dir: t.TempDir(), Via: c.Nodes[0].Addr, Token: tok.String(),
			NodeID: "n9", Listen: "127.0.0.1:1"})
		if err == nil || !strings.Contains(err.Error(), "refused") {
			t.Fatalf("forged token: %v", err)
		}
		if _, err := node.Join(ctx, node.JoinOptions{Dir: t.TempDir(), Via: c.Nodes[1].Addr, Token: good,
			NodeID: "n9", Listen: "127.0.0.1:1"}); err != nil {
			t.Fatalf("first use of a token: %v", err)
		}
		_, err = node.Join(ctx, node.JoinOptions{Dir: t.TempDir(), Via: c.Nodes[2].Addr, Token: good,
			NodeID: "n10", Listen: "127.0.0.1:1"})
		if err == nil || !strings.Contains(err.Error(), "already used") {
			t.Fatalf("replayed token: %v", err)
		}
		if after := terms(t, c); !maps.Equal(termsBefore, after) {
			t.Fatalf("terms moved after outsider traffic: %v -> %v", termsBefore, after)
		}
	})

	t.Run("PausedLeaderServesNoStaleRead", func(t *testing.T) {
		ctx := tctx(t, 60*time.Second)
		key := "stale-probe-0"
		for shard.OfBytes([]byte(key), shards) != 0 {
			key += "x"
		}
		rng := rand.New(rand.NewPCG(5, 5))
		if err := putRetry(ctx, c, rng, key, "old"); err != nil {
			t.Fatal(err)
		}
		old := c.Leader(ctx, 0)
		if old < 0 {
			t.Fatal("shard 0 has no leader")
		}
		if err := c.Pause(old); err != nil {
			t.Fatal(err)
		}
		// The old leader is frozen and still believes it leads. A new leader takes the next write.
		other := (old + 1) % len(c.Nodes)
		id := rid()
		for {
			r, err := c.Put(ctx, other, key, "new", id)
			if err == nil && r.Error == "" {
				break
			}
			if ctx.Err() != nil {
				_ = c.Resume(old)
				t.Fatalf("no write while the old leader was paused: %v", err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		// Ask the frozen node before it wakes: the request waits in its socket and is served the moment it
		// resumes, while its Raft still thinks it leads. It must not answer "old".
		got := make(chan testcluster.KV, 1)
		gerr := make(chan error, 1)
		go func() {
			r, err := c.Get(ctx, old, key)
			got <- r
			gerr <- err
		}()
		time.Sleep(300 * time.Millisecond)
		if err := c.Resume(old); err != nil {
			t.Fatal(err)
		}
		r, err := <-got, <-gerr
		if err == nil && r.Value != "new" {
			t.Fatalf("the deposed leader served a stale read: %+v", r)
		}
		t.Logf("read through the deposed leader: %+v err=%v", r, err)
		if err := c.WaitReady(ctx); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("KillLeaderMidWrite", func(t *testing.T) {
		ctx := tctx(t, 90*time.Second)
		victim := c.Leader(ctx, 0)
		if victim < 0 {
			t.Fatal("shard 0 has no leader")
		}
		var mu sync.Mutex
		acked := map[string]string{}
		var killedAt time.Time
		firstAfterKill := map[uint32]time.Duration{}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for w := 0; w < 6; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(w), 7))
				for seq := 0; ; seq++ {
					select {
					case <-stop:
						return
					default:
					}
					key, val := fmt.Sprintf("kill-%d-%d", w, seq), fmt.Sprintf("v%d", seq)
					invoked := time.Now()
					if err := putRetry(ctx, c, rng, key, val); err != nil {
						errs <- err
						return
					}
					mu.Lock()
					acked[key] = val
					// Count only writes invoked after the old leader was dead.
					if !killedAt.IsZero() && invoked.After(killedAt) {
						s := shard.OfBytes([]byte(key), shards)
						if _, ok := firstAfterKill[s]; !ok {
							firstAfterKill[s] = time.Since(killedAt)
						}
					}
					mu.Unlock()
				}
			}()
		}
		time.Sleep(1500 * time.Millisecond)
		if err := c.Kill(victim); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		killedAt = time.Now()
		mu.Unlock()
		t.Logf("killed n%d (leader of shard 0)", victim+1)
		deadline := time.Now().Add(15 * time.Second)
		for {
			mu.Lock()
			_, ok := firstAfterKill[0]
			mu.Unlock()
			if ok || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		time.Sleep(time.Second)
		close(stop)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		mu.Lock()
		d, ok := firstAfterKill[0]
		mu.Unlock()
		if !ok {
			t.Fatal("shard 0 accepted no write within 15 s of killing its leader")
		}
		t.Logf("shard 0 served a write %v after its leader was killed; %d writes acknowledged", d, len(acked))
		if d > 5*time.Second {
			t.Fatalf("new leader of shard 0 served only after %v (want <= 5 s)", d)
		}
		if err := c.Restart(victim); err != nil {
			t.Fatal(err)
		}
		if err := c.WaitReady(ctx); err != nil {
			t.Fatal(err)
		}
		checkAcked(ctx, t, c, acked)
	})

	t.Run("WipedNodeCatchesUpBySnapshot", func(t *testing.T) {
		// The rejoining node is a new raft incarnation at the old one's address. Leaders go on running the old
		// incarnation's replication for seconds after removing it (hashicorp/raft's failure backoff), with a
		// stale next index: stale snapshots are refused, and an install never leaves raft and the log store out
		// of step (shard/DESIGN.md "Snapshot installs"; TestSnapshotInstallKeepsRaftAndLogConsistent).
		ctx := tctx(t, 120*time.Second)
		const victim = 2
		oldIDs := raftIDsOf(mustStatus(ctx, t, c, 0), c.Nodes[victim].ID)
		if len(oldIDs) != 1 {
			t.Fatalf("%s has raft ids %v, want exactly one incarnation", c.Nodes[victim].ID, oldIDs)
		}
		if err := c.Stop(victim); err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(9, 9))
		acked := map[string]string{}
		for k := 0; k < 240; k++ {
			key, val := fmt.Sprintf("wipe-%d", k), fmt.Sprintf("w%d", k)
			if err := putRetry(ctx, c, rng, key, val); err != nil {
				t.Fatal(err)
			}
			acked[key] = val
		}
		// Wait until every shard leader has taken a snapshot beyond what n3 had, so the log alone cannot serve it.
		time.Sleep(1500 * time.Millisecond)
		if err := c.Wipe(victim); err != nil {
			t.Fatal(err)
		}
		if err := c.Restart(victim); err != nil {
			t.Fatal(err)
		}
		if err := c.WaitReady(ctx); err != nil {
			t.Fatal(err)
		}
		// n3 holds every shard again, caught up to its leader's commit index.
		waitCaughtUp(ctx, t, c, victim)
		// The leaders' replication goroutines of n3's OLD incarnation still send for seconds after its removal
		// (raft sleeps out its failure backoff, up to ~10 s, then sends with the old next index to this same
		// address). Keep writing for longer than that: n3 must neither crash nor fall behind.
		for k := 0; k < 60; k++ {
			key, val := fmt.Sprintf("wipe-late-%d", k), fmt.Sprintf("l%d", k)
			if err := putRetry(ctx, c, rng, key, val); err != nil {
				t.Fatal(err)
			}
			acked[key] = val
			time.Sleep(200 * time.Millisecond)
		}
		waitCaughtUp(ctx, t, c, victim)
		snaps, _ := filepath.Glob(filepath.Join(c.Nodes[victim].Dir, "raft", "group-*", "snapshots", "*", "meta.json"))
		if len(snaps) < shards {
			t.Fatalf("n3 installed %d snapshots, want one per shard at least: %v", len(snaps), snaps)
		}
		// It forgot its votes, so it came back as a new raft member: its old incarnation is in no group.
		newIDs := raftIDsOf(mustStatus(ctx, t, c, victim), c.Nodes[victim].ID)
		if len(newIDs) != 1 || newIDs[0] == oldIDs[0] {
			t.Fatalf("after the wipe %s has raft ids %v (before: %v): want one new incarnation", c.Nodes[victim].ID,
				newIDs, oldIDs)
		}
		for i := range c.Nodes {
			for _, g := range mustStatus(ctx, t, c, i).Groups {
				if g.State == "Leader" && (slices.Contains(g.RaftVoters, oldIDs[0]) || !slices.Contains(g.RaftVoters, newIDs[0])) {
					t.Fatalf("group %d voters %v: want %s, not %s", g.Group, g.RaftVoters, newIDs[0], oldIDs[0])
				}
			}
		}
		checkAcked(ctx, t, c, acked)
	})

	t.Run("ReplaceDeadNode", func(t *testing.T) { replaceNode(t, c, 2) })
}

// replaceNode: a dead node is removed with `raftgram remove-node`, a new node joins with a fresh token, and
// every shard re-replicates to it.
func replaceNode(t *testing.T, c *testcluster.Cluster, dead int) {
	ctx := tctx(t, 120*time.Second)
	rng := rand.New(rand.NewPCG(3, 3))
	acked := map[string]string{}
	for k := 0; k < 50; k++ {
		key := fmt.Sprintf("replace-%d", k)
		if err := putRetry(ctx, c, rng, key, "r"+key); err != nil {
			t.Fatal(err)
		}
		acked[key] = "r" + key
	}
	if err := c.Kill(dead); err != nil {
		t.Fatal(err)
	}
	deadID := c.Nodes[dead].ID
	out, err := c.Run(ctx, "remove-node", deadID, "--data-dir", c.Nodes[0].Dir)
	if err != nil {
		t.Fatalf("remove-node: %v\n%s", err, out)
	}
	for _, g := range mustStatus(ctx, t, c, 0).Groups {
		for _, v := range g.Voters {
			if v == deadID {
				t.Fatalf("group %d still has voter %s after remove-node", g.Group, deadID)
			}
		}
	}
	n, err := c.AddNode(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	newID := c.Nodes[n].ID
	for _, g := range mustStatus(ctx, t, c, n).Groups {
		found := false
		for _, v := range g.Voters {
			found = found || v == newID
		}
		if !found || len(g.Voters) != 3 {
			t.Fatalf("group %d voters %v: want 3 including %s", g.Group, g.Voters, newID)
		}
	}
	checkAcked(ctx, t, c, acked)
}

// waitCaughtUp waits until node i has applied, in every shard, its leader's commit index.
func waitCaughtUp(ctx context.Context, t *testing.T, c *testcluster.Cluster, i int) {
	t.Helper()
	for {
		st, err := c.Status(ctx, i)
		if err == nil {
			behind := 0
			for s := uint32(0); s < shards; s++ {
				l := c.Leader(ctx, s)
				if l < 0 {
					behind++
					continue
				}
				ls, err := c.Status(ctx, l)
				if err != nil {
					behind++
					continue
				}
				if applied(st, s) < commit(ls, s) {
					behind++
				}
			}
			if behind == 0 {
				return
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("n%d did not catch up: %+v", i+1, st)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// raftIDsOf lists the distinct raft server IDs of node id in a node's view of its groups.
func raftIDsOf(st node.NodeStatus, id string) []string {
	var out []string
	for _, g := range st.Groups {
		for _, r := range g.RaftVoters {
			if shard.NodeOf(r) == id && !slices.Contains(out, r) {
				out = append(out, r)
			}
		}
	}
	return out
}

func mustStatus(ctx context.Context, t *testing.T, c *testcluster.Cluster, i int) node.NodeStatus {
	t.Helper()
	st, err := c.Status(ctx, i)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func checkAcked(ctx context.Context, t *testing.T, c *testcluster.Cluster, acked map[string]string) {
	t.Helper()
	var live []int
	for i, n := range c.Nodes {
		if n.Running() {
			live = append(live, i)
		}
	}
	i := 0
	for k, v := range acked {
		i++
		var r testcluster.KV
		var err error
		for try := 0; try < 50; try++ {
			if r, err = c.Get(ctx, live[i%len(live)], k); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil || !r.Found || r.Value != v {
			t.Fatalf("acknowledged write %s=%s lost: %+v %v", k, v, r, err)
		}
	}
}

func applied(st node.NodeStatus, g uint32) uint64 {
	for _, gs := range st.Groups {
		if gs.Group == g {
			return gs.AppliedIndex
		}
	}
	return 0
}

func commit(st node.NodeStatus, g uint32) uint64 {
	for _, gs := range st.Groups {
		if gs.Group == g {
			return gs.CommitIndex
		}
	}
	return 0
}

func terms(t *testing.T, c *testcluster.Cluster) map[string]uint64 {
	out := map[string]uint64{}
	for i := range c.Nodes {
		st, err := c.Status(context.Background(), i)
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range st.Groups {
			out[fmt.Sprintf("n%d/%d", i+1, g.Group)] = g.Term
		}
	}
	return out
}
