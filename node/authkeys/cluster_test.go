package authkeys_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/raftgram/raftgram/node"
	"github.com/raftgram/raftgram/node/authkeys"
	"github.com/raftgram/raftgram/node/nodetest"
	"github.com/raftgram/raftgram/shard"
)

// TestStoreAcrossCluster: three in-process nodes (init + two joins, as node's TestInProcessCluster does); a key
// put through one node is read through the others, and binding, sign-in and deletion made through one node are
// what every other node reads next (linearizable reads: a deleted key is gone everywhere at once).
func TestStoreAcrossCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("three nodes")
	}
	base := t.TempDir()
	d1 := filepath.Join(base, "n1")
	dd, err := node.Init(node.InitOptions{Dir: d1, Shards: 3, Listen: nodetest.FreeAddr(t), Admin: nodetest.FreeAddr(t)})
	if err != nil {
		t.Fatal(err)
	}
	nodes := []*node.Node{startNode(t, d1)}
	defer func() {
		for _, n := range nodes {
			n.Close()
		}
	}()
	for i := 2; i <= 3; i++ {
		tok, err := dd.NewToken(nil)
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(base, fmt.Sprintf("n%d", i))
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err = node.Join(ctx, node.JoinOptions{Dir: dir, Via: nodes[0].Addr(), Token: tok,
			NodeID: fmt.Sprintf("n%d", i), Listen: nodetest.FreeAddr(t), Admin: nodetest.FreeAddr(t)})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, startNode(t, dir))
	}
	deadline := time.Now().Add(90 * time.Second)
	for _, n := range nodes {
		for !fullyReplicated(n, len(nodes)) {
			if time.Now().After(deadline) {
				t.Fatalf("%s not fully replicated", n.ID())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	stores := make([]*authkeys.Store, len(nodes))
	for i, n := range nodes {
		stores[i] = authkeys.NewStore(n)
	}
	var ids []int64
	for i := int64(1); i <= 9; i++ {
		id := i * 0x0102030405
		ids = append(ids, id)
		if err := stores[i%3].Put(ctx, key(id, i%3 == 0)); err != nil {
			t.Fatalf("put via %d: %v", i%3, err)
		}
	}
	for _, s := range stores {
		for i, id := range ids {
			k, ok, err := s.Get(ctx, id)
			if err != nil || !ok || k.Key != key(id, (i+1)%3 == 0).Key {
				t.Fatalf("get %d: %v %v", i, ok, err)
			}
		}
	}
	perm, temp := ids[0], ids[2] // ids[2] was put with i = 3: temporary
	if err := stores[2].Bind(ctx, temp, perm); err != nil {
		t.Fatal(err)
	}
	if err := stores[1].SetUser(ctx, perm, 99); err != nil {
		t.Fatal(err)
	}
	if err := stores[2].Delete(ctx, ids[1]); err != nil {
		t.Fatal(err)
	}
	for i, s := range stores {
		if k, _, err := s.Get(ctx, temp); err != nil || k.PermID != perm {
			t.Fatalf("node %d: binding %d %v", i, k.PermID, err)
		}
		if k, _, err := s.Get(ctx, perm); err != nil || k.UserID != 99 {
			t.Fatalf("node %d: user %d %v", i, k.UserID, err)
		}
		if _, ok, err := s.Get(ctx, ids[1]); err != nil || ok {
			t.Fatalf("node %d: deleted key: %v %v", i, ok, err)
		}
	}
}

func fullyReplicated(n *node.Node, count int) bool {
	p := n.Manager().Placement()
	if !n.Ready() || p == nil || len(p.Nodes) != count {
		return false
	}
	for _, g := range n.Manager().Status() {
		if g.Group != shard.MetaGroup && len(g.Voters) != min(count, shard.ReplicationFactor) {
			return false
		}
	}
	return true
}
