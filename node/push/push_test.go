package push

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/raftgram/raftgram/node"
	"github.com/raftgram/raftgram/node/handler"
	"github.com/raftgram/raftgram/tl"
	"github.com/raftgram/raftgram/tl/api"
)

// fakeEdge records pushes.
type fakeEdge struct {
	mu  sync.Mutex
	got []string
}

func (e *fakeEdge) BindUser(int64, int64) {}
func (e *fakeEdge) PushExcept(user, except int64, u tl.Object) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.got = append(e.got, tl.Name(u)+":"+string(rune('0'+user))+":"+string(rune('0'+except)))
	return nil
}

func (e *fakeEdge) list() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.got...)
}

// mesh connects Pushers of fake nodes: CallRPC runs the target's Handle (blocked while gate is held).
type mesh struct {
	self    string
	pushers map[string]*Pusher
	gate    *sync.RWMutex
}

func (m *mesh) Peers() []node.Peer {
	var out []node.Peer
	for id := range m.pushers {
		out = append(out, node.Peer{ID: id, Addr: id, Self: id == m.self})
	}
	return out
}

func (m *mesh) CallRPC(ctx context.Context, addr string, _ byte, body []byte) ([]byte, error) {
	m.gate.RLock()
	defer m.gate.RUnlock()
	return m.pushers[addr].Handle(ctx, body)
}

// TestPushFanOutAndDrop: a push reaches the sessions of every node (this one directly, others over the RPC
// method); a node that does not answer costs the caller nothing: its queue fills and later pushes to it are
// dropped and counted, while the other nodes keep getting theirs.
func TestPushFanOutAndDrop(t *testing.T) {
	gate := &sync.RWMutex{}
	pushers := map[string]*Pusher{}
	edges := map[string]*fakeEdge{}
	for _, id := range []string{"a", "b", "c"} {
		e := &fakeEdge{}
		edges[id] = e
		pushers[id] = New(Options{Cluster: &mesh{self: id, pushers: pushers, gate: gate}, Queue: 4, MaxBatch: 2,
			Edge: func() handler.Edge { return e }})
	}
	for _, p := range pushers {
		p.Start()
		defer p.Close()
	}
	up := &api.UpdateShort{Update: &api.UpdateUserTyping{UserID: 5, Action: &api.SendMessageTypingAction{}}, Date: 1}
	pushers["a"].Push(context.Background(), 1, 2, up)
	wait := func(id string, n int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for len(edges[id].list()) < n {
			if time.Now().After(deadline) {
				t.Fatalf("node %s got %v, want %d pushes", id, edges[id].list(), n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	for _, id := range []string{"a", "b", "c"} {
		wait(id, 1)
		if got := edges[id].list()[0]; got != tl.Name(up)+":1:2" {
			t.Fatalf("node %s got %q", id, got)
		}
	}
	// Remote nodes stop answering: Push never blocks, the queues fill, the rest is dropped.
	gate.Lock()
	done := make(chan struct{})
	go func() {
		for range 50 {
			pushers["a"].Push(context.Background(), 3, 0, up)
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Push blocked on a slow node")
	}
	gate.Unlock()
	if pushers["a"].Dropped() == 0 {
		t.Fatal("nothing dropped with full queues")
	}
	if n := len(edges["a"].list()); n != 51 {
		t.Fatalf("local sessions got %d pushes, want 51", n)
	}
	if _, err := pushers["b"].Handle(context.Background(), []byte{0, 0, 0, 1, 1}); err == nil {
		t.Fatal("malformed frame accepted")
	}
}
