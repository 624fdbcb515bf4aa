package relay

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftgram/raftgram/fsm"
	"github.com/raftgram/raftgram/fsm/box"
	"github.com/raftgram/raftgram/node"
	"github.com/raftgram/raftgram/shard"
)

const shards = 2

// fakeCluster applies commands to the shards of one fsm.State, as one node leading every shard.
type fakeCluster struct {
	t     *testing.T
	st    *fsm.State
	mu    sync.Mutex
	sms   map[uint32]*fsm.ShardFSM
	index map[uint32]uint64
	// afterDeliver, if set, runs after a DeliverBatch was applied; an error is returned to the proposer
	// instead of the result (the proposer's node died after the destination committed).
	afterDeliver func() error
	offer        atomic.Pointer[func(uint32, []box.Pending)] // the relay's Offer, as the domain wires it
}

func newFake(t *testing.T) *fakeCluster {
	st, err := fsm.Open(t.TempDir(), fsm.Options{OnFatal: func(err error) { t.Errorf("fatal: %v", err) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	c := &fakeCluster{t: t, st: st, sms: map[uint32]*fsm.ShardFSM{}, index: map[uint32]uint64{}}
	for typ, a := range box.New(box.Config{Shards: shards, OnOutbox: func(src uint32, items []box.Pending) {
		if f := c.offer.Load(); f != nil {
			(*f)(src, items)
		}
	}}).Appliers() {
		st.Register(typ, a)
	}
	for s := range uint32(shards) {
		c.sms[s] = st.Shard(s)
	}
	return c
}

func (c *fakeCluster) IsLeader(uint32) bool { return true }
func (c *fakeCluster) Shards() int          { return shards }

func (c *fakeCluster) Query(_ context.Context, s uint32, _ node.QueryType, p []byte) ([]byte, error) {
	var out []byte
	err := c.st.View(s, func(r fsm.Reader) error {
		var err error
		out, err = box.QueryOutbox(r, p)
		return err
	})
	return out, err
}

func (c *fakeCluster) Propose(_ context.Context, s uint32, cmd fsm.Command) (fsm.Result, error) {
	c.mu.Lock()
	c.index[s]++
	cmd.Time = 1_700_000_000_000 + int64(c.index[s])
	out := c.sms[s].ApplyBatch([]*raft.Log{{Index: c.index[s], Term: 1, Type: raft.LogCommand, Data: fsm.EncodeCommand(cmd)}})
	hook := c.afterDeliver
	c.mu.Unlock()
	er := out[0].(*fsm.EntryResult)
	if er.Err != nil {
		return fsm.Result{}, er.Err
	}
	if cmd.Type == box.TypeDeliverBatch && hook != nil {
		if err := hook(); err != nil {
			return fsm.Result{}, err
		}
	}
	return er.Results[0], nil
}

func (c *fakeCluster) history(u, peer int64) []box.Message {
	var v *box.View
	err := c.st.View(shard.Of(u, shards), func(r fsm.Reader) error {
		b, err := box.QueryHistory(r, box.HistoryReq{User: u, Peer: peer, Limit: box.MaxPage}.Encode())
		if err == nil {
			v, err = box.DecodeView(b)
		}
		return err
	})
	if err != nil {
		c.t.Fatal(err)
	}
	return v.Msgs
}

func userOf(s uint32) int64 {
	for u := int64(5000); ; u++ {
		if shard.Of(u, shards) == s {
			return u
		}
	}
}

// TestRelayExactlyOnceAcrossRestart: the relay's node "dies" right after the destination committed a batch
// (before the relay learned the watermark or trimmed); a new relay started from the replicated outbox resends,
// the destination's watermark drops the duplicates: every message is in the recipient's box once, in order,
// and the outbox is trimmed.
func TestRelayExactlyOnceAcrossRestart(t *testing.T) {
	c := newFake(t)
	a, b := userOf(0), userOf(1)
	const n = 50
	for i := range n {
		s := box.Send{From: a, To: b, RandomID: int64(i + 1), Text: fmt.Sprint(i)}
		if r, err := c.Propose(context.Background(), 0, s.Command()); err != nil || r.Err != nil {
			t.Fatal(err, r.Err)
		}
	}
	died := make(chan struct{})
	var once sync.Once
	c.mu.Lock()
	c.afterDeliver = func() error {
		once.Do(func() { close(died) })
		return errors.New("node died")
	}
	c.mu.Unlock()
	r1 := New(Options{Cluster: c, Batch: 20, Depth: 1, Poll: 5 * time.Millisecond})
	r1.Start()
	<-died
	r1.Close()
	if got := len(c.history(b, a)); got != 20 {
		t.Fatalf("after the first batch the recipient has %d messages, want 20", got)
	}
	c.mu.Lock()
	c.afterDeliver = nil
	c.mu.Unlock()
	var pushed atomic.Int64
	r2 := New(Options{Cluster: c, Batch: 5, Poll: 5 * time.Millisecond, OnDelivered: func(_ context.Context, _ []box.Item, ap []box.Applied) {
		pushed.Add(int64(len(ap)))
	}})
	offer := r2.Offer
	c.offer.Store(&offer)
	r2.Start()
	defer r2.Close()
	// More sends while r2 runs: handed over by apply (the fast path) or read by its queries.
	for i := n; i < 2*n; i++ {
		s := box.Send{From: a, To: b, RandomID: int64(i + 1), Text: fmt.Sprint(i)}
		if r, err := c.Propose(context.Background(), 0, s.Command()); err != nil || r.Err != nil {
			t.Fatal(err, r.Err)
		}
		if i%10 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		hs := c.history(b, a)
		if len(hs) == 2*n {
			for i, m := range hs {
				if m.Text != fmt.Sprint(2*n-1-i) {
					t.Fatalf("recipient message %d is %q", i, m.Text)
				}
			}
			break
		}
		if len(hs) > 2*n || time.Now().After(deadline) {
			t.Fatalf("recipient has %d messages, want %d", len(hs), 2*n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	for {
		b, _ := c.Query(context.Background(), 0, 0, box.OutboxReq{}.Encode())
		ps, err := box.DecodeOutbox(b)
		if err != nil {
			t.Fatal(err)
		}
		if len(ps) == 1 && len(ps[0].Items) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("outbox not trimmed: %d items", len(ps[0].Items))
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("%d items went the fast path (offered by apply, no query)", r2.fastItems.Load())
	if got := pushed.Load(); got != 2*n-20 { // every item once, though batches (4 in flight) may overtake each other
		t.Fatalf("second relay reported %d newly applied items, want %d", got, 2*n-20)
	}
}
