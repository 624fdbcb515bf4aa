package messages_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/raftgram/raftgram/fsm/box"
	"github.com/raftgram/raftgram/node/handler/messages"
	"github.com/raftgram/raftgram/shard"
)

func (c *cluster) boxView(t *testing.T, u int64, q box.HistoryReq) *box.View {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := c.n.Query(ctx, shard.Of(u, c.n.Shards()), messages.QueryHistory, q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	v, err := box.DecodeView(b)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// allHistory reads u's dialog with peer, oldest first.
func (c *cluster) allHistory(t *testing.T, u, peer int64) []box.Message {
	t.Helper()
	var out []box.Message
	offset := int32(0)
	for {
		v := c.boxView(t, u, box.HistoryReq{User: u, Peer: peer, OffsetID: offset, Limit: 100})
		if len(v.Msgs) == 0 {
			break
		}
		out = append(out, v.Msgs...)
		offset = v.Msgs[len(v.Msgs)-1].ID
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// TestDeliveryExactlyOnceAcrossRestart: a burst of cross-shard sends is acknowledged, the node is closed while
// its relay is delivering, and started again from its data dir: the new relay resumes from the replicated
// outbox and the recipient's watermark, so every acknowledged send is in the recipient's box exactly once, in
// the sender's order, and the recipient's pts tile 1..N.
func TestDeliveryExactlyOnceAcrossRestart(t *testing.T) {
	c := startCluster(t, 3)
	a, b := usersOnShards(3)
	const n = 200
	var wg sync.WaitGroup
	sem := make(chan struct{}, 1) // one in flight: the sender's order is the seq order
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			s := box.Send{From: a, To: b, RandomID: int64(i + 1), Text: fmt.Sprint(i)}
			s.Fingerprint = box.Fingerprint(b, s.Text, nil, 0)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			res, err := c.n.Propose(ctx, shard.Of(a, 3), s.Command())
			if err != nil || res.Err != nil {
				t.Errorf("send %d: %v %v", i, err, res.Err)
			}
		}()
	}
	wg.Wait()
	before := c.boxView(t, b, box.HistoryReq{User: b, Peer: a, Limit: 1}).Count
	dir := c.n.DataDir().Path
	if err := c.n.Close(); err != nil { // the relay is in the middle of the burst
		t.Fatal(err)
	}
	t.Logf("the recipient had %d of %d messages when the node closed", before, n)
	c = openCluster(t, dir)
	deadline := time.Now().Add(30 * time.Second)
	var hb []box.Message
	for {
		hb = c.allHistory(t, b, a)
		if len(hb) >= n || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(hb) != n {
		t.Fatalf("recipient has %d messages, want %d", len(hb), n)
	}
	for i, m := range hb {
		if m.Text != fmt.Sprint(i) || m.PeerMsgID != int32(i+1) || m.ID != int32(i+1) {
			t.Fatalf("recipient message %d: %+v", i, m)
		}
	}
	if ha := c.allHistory(t, a, b); len(ha) != n {
		t.Fatalf("sender has %d messages", len(ha))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	raw, err := c.n.Query(ctx, shard.Of(b, 3), messages.QueryDifference, box.DifferenceReq{User: b}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	v, err := box.DecodeView(raw)
	if err != nil {
		t.Fatal(err)
	}
	for i, u := range v.Updates {
		if u.Pts != int32(i+1) || u.Count != 1 {
			t.Fatalf("recipient's log entry %d: %+v", i, u)
		}
	}
	if v.Meta.Pts != n || len(v.Updates) != n {
		t.Fatalf("recipient's pts %d, %d entries", v.Meta.Pts, len(v.Updates))
	}
}
