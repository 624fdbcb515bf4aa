package messages_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/gotd/td/tg"

	"github.com/raftgram/raftgram/fsm/box"
	"github.com/raftgram/raftgram/node"
	"github.com/raftgram/raftgram/node/handler/messages"
	"github.com/raftgram/raftgram/node/nodetest"
	"github.com/raftgram/raftgram/shard"
)

// startThree starts three in-process nodes (init + two joins), each with the messages domain and a gateway,
// and waits until every shard is replicated on all three and has a leader.
func startThree(t *testing.T) []*cluster {
	t.Helper()
	base := t.TempDir()
	d1 := filepath.Join(base, "n1")
	dd, err := node.Init(node.InitOptions{Dir: d1, NodeID: "n1", Shards: 3, Listen: nodetest.FreeAddr(t)})
	if err != nil {
		t.Fatal(err)
	}
	cs := []*cluster{openNode(t, d1)}
	for !cs[0].n.Ready() {
		time.Sleep(20 * time.Millisecond)
	}
	for i := 2; i <= 3; i++ {
		tok, err := dd.NewToken(nil)
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(base, fmt.Sprintf("n%d", i))
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err = node.Join(ctx, node.JoinOptions{Dir: dir, Via: cs[0].n.Addr(), Token: tok, NodeID: fmt.Sprintf("n%d", i),
			Listen: nodetest.FreeAddr(t)})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		cs = append(cs, openNode(t, dir))
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		ok := true
		for _, c := range cs {
			if !replicated(c.n, 3) {
				ok = false
			}
		}
		for s := range uint32(3) {
			leaders := 0
			for _, c := range cs {
				if c.n.IsLeader(s) {
					leaders++
				}
			}
			ok = ok && leaders == 1
		}
		if ok {
			return cs
		}
		if time.Now().After(deadline) {
			t.Fatal("cluster not replicated")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func replicated(n *node.Node, count int) bool {
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

// TestThreeNodes: users on different shards, each device on a different node of a three-node cluster:
// proposals are forwarded to the shards' leaders, the relay runs wherever the sender's shard leads, and pushes
// cross nodes over the push RPC; both directions arrive in order, the retried send is stored once.
func TestThreeNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("three nodes")
	}
	cs := startThree(t)
	a, b := usersOnShards(3)
	a1, a2, b1 := cs[0].device(t, a), cs[1].device(t, a), cs[2].device(t, b)
	for i := range 5 {
		a1.send(cs[0], b, int64(10+i), fmt.Sprint("a", i))
		b1.send(cs[2], a, int64(20+i), fmt.Sprint("b", i))
	}
	first := a1.send(cs[0], b, 10, "a0") // a retry
	b1.waitNew(func(m newMsg) bool { return m.Message.Message == "a4" })
	a2.waitNew(func(m newMsg) bool { return m.Message.Message == "b4" })
	a2.waitNew(func(m newMsg) bool { return m.Message.Message == "a4" && m.Out })
	ha, hb := a2.history(cs[1], b), b1.history(cs[2], a)
	if len(ha) != 10 || len(hb) != 10 || first.ID != 1 {
		t.Fatalf("histories %d / %d, retry id %d", len(ha), len(hb), first.ID)
	}
	for _, from := range []int64{a, b} {
		if sa, sb := bySender(ha, a, from), bySender(hb, b, from); fmt.Sprint(sa) != fmt.Sprint(sb) || len(sa) != 5 {
			t.Fatalf("messages of %d: %q vs %q", from, sa, sb)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := b1.api.UpdatesGetState(ctx)
	if err != nil || st.Pts != 10 {
		t.Fatalf("B's state: %+v %v", st, err)
	}
}

// TestLeaderKilledMidBurst: the node leading the sender's shard is closed during a burst of 100 sends made
// through another node (each send retried with its random_id until acknowledged): every message is in both
// boxes exactly once, in order, and the recipient's pts tile 1..100.
func TestLeaderKilledMidBurst(t *testing.T) {
	if testing.Short() {
		t.Skip("three nodes")
	}
	cs := startThree(t)
	a, b := usersOnShards(3)
	ga := shard.Of(a, 3)
	leader := 0
	for i, c := range cs {
		if c.n.IsLeader(ga) {
			leader = i
		}
	}
	live := []int{}
	for i := range cs {
		if i != leader {
			live = append(live, i)
		}
	}
	ca, cb := cs[live[0]], cs[live[1]]
	a1 := ca.device(t, a)
	const n = 100
	retries := 0
	for i := range n {
		if i == 20 {
			go cs[leader].n.Close()
		}
		deadline := time.Now().Add(60 * time.Second)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, err := a1.api.MessagesSendMessage(ctx, &tg.MessagesSendMessageRequest{Peer: ca.peer(a, b),
				Message: fmt.Sprint(i), RandomID: int64(1000 + i)})
			cancel()
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("send %d: %v", i, err)
			}
			retries++
			time.Sleep(50 * time.Millisecond)
		}
	}
	t.Logf("the leader of shard %d (node %d) closed after send 20; %d sends were retried", ga, leader+1, retries)
	deadline := time.Now().Add(60 * time.Second)
	var hb []box.Message
	for {
		hb = cb.allHistory(t, b, a)
		if len(hb) >= n || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(hb) != n {
		t.Fatalf("recipient has %d messages, want %d", len(hb), n)
	}
	for i, m := range hb {
		if m.Text != fmt.Sprint(i) {
			t.Fatalf("recipient message %d is %q", i, m.Text)
		}
	}
	if ha := ca.allHistory(t, a, b); len(ha) != n {
		t.Fatalf("sender has %d messages", len(ha))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	raw, err := cb.n.Query(ctx, shard.Of(b, 3), messages.QueryDifference, box.DifferenceReq{User: b}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	v, err := box.DecodeView(raw)
	if err != nil {
		t.Fatal(err)
	}
	for i, u := range v.Updates {
		if u.Pts != int32(i+1) {
			t.Fatalf("recipient's log entry %d: %+v", i, u)
		}
	}
	if v.Meta.Pts != n {
		t.Fatalf("recipient's pts %d", v.Meta.Pts)
	}
}
