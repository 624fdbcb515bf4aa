package auth_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"

	"github.com/raftgram/raftgram/node"
	"github.com/raftgram/raftgram/node/handler/auth"
	"github.com/raftgram/raftgram/node/nodetest"
	"github.com/raftgram/raftgram/shard"
)

// TestRevokeAcrossNodes: three in-process nodes, each with a gateway. A signs up through node 1, B signs in to
// the same user through node 2 (code delivered to A's sessions); A resets B's authorization through node 1 and
// B's next call through node 2 is refused with AUTH_KEY_UNREGISTERED (node 2's gateway was told over internal
// RPC; the key's record says signed out on every node).
func TestRevokeAcrossNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("three nodes")
	}
	base := t.TempDir()
	d1 := filepath.Join(base, "n1")
	dd, err := node.Init(node.InitOptions{Dir: d1, NodeID: "n1", Shards: 3, Listen: nodetest.FreeAddr(t),
		Admin: nodetest.FreeAddr(t)})
	if err != nil {
		t.Fatal(err)
	}
	envs := []*env{startMember(t, d1, "", auth.Limits{}, nil)}
	for i := 2; i <= 3; i++ {
		tok, err := dd.NewToken(nil)
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(base, fmt.Sprintf("n%d", i))
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err = node.Join(ctx, node.JoinOptions{Dir: dir, Via: envs[0].n.Addr(), Token: tok,
			NodeID: fmt.Sprintf("n%d", i), Listen: nodetest.FreeAddr(t), Admin: nodetest.FreeAddr(t)})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		envs = append(envs, startMember(t, dir, "", auth.Limits{}, nil))
	}
	deadline := time.Now().Add(90 * time.Second)
	for _, e := range envs {
		for !fullyReplicated(e.n, len(envs)) {
			if time.Now().After(deadline) {
				t.Fatalf("%s not fully replicated", e.n.ID())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	e1, e2 := envs[0], envs[1]
	const phone = "15550600"
	ca, cb := e1.client("A"), e2.client("B")
	e1.run(ca, func(ctx context.Context, a *tg.Client) error {
		me, err := e1.login(ctx, ca, phone, "Ann", 0)
		if err != nil {
			return err
		}
		e2.run(cb, func(ctx context.Context, b *tg.Client) error {
			// B's code goes to A's sessions through node 2's ServiceMessages.
			if _, err := e2.login(ctx, cb, phone, "", me.ID); err != nil {
				return err
			}
			list, err := a.AccountGetAuthorizations(ctx)
			if err != nil {
				return err
			}
			var hashB int64
			for _, au := range list.Authorizations {
				if !au.Current {
					hashB = au.Hash
				}
			}
			if len(list.Authorizations) != 2 || hashB == 0 {
				t.Fatalf("authorizations: %+v", list.Authorizations)
			}
			if _, err := b.UsersGetUsers(ctx, []tg.InputUserClass{&tg.InputUserSelf{}}); err != nil {
				t.Fatalf("B before reset: %v", err)
			}
			if _, err := a.AccountResetAuthorization(ctx, hashB); err != nil {
				return err
			}
			if _, err := b.UsersGetUsers(ctx, []tg.InputUserClass{&tg.InputUserSelf{}}); !tgerr.Is(err, "AUTH_KEY_UNREGISTERED") {
				t.Errorf("B through node 2 after reset through node 1: %v", err)
			}
			return nil
		})
		return nil
	})
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
