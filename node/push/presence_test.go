package push

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/raftgram/raftgram/node"
	"github.com/raftgram/raftgram/node/handler"
	"github.com/raftgram/raftgram/tl"
	"github.com/raftgram/raftgram/tl/api"
)

const (
	testPushMethod     byte = 70
	testPresenceMethod byte = 71
)

// pmesh is a mesh of Pushers with presence: CallRPC dispatches by method; a node can be cut off (calls to it
// fail) or replaced (a restart: a new Pusher under the same address).
type pmesh struct {
	mu      sync.Mutex
	pushers map[string]*Pusher
	edges   map[string]*fakeEdge
	cut     map[string]bool
}

type pnode struct {
	m    *pmesh
	self string
}

var errCut = errors.New("cut off")

func (n pnode) Peers() []node.Peer {
	n.m.mu.Lock()
	defer n.m.mu.Unlock()
	var out []node.Peer
	for id := range n.m.pushers {
		out = append(out, node.Peer{ID: id, Addr: id, Self: id == n.self})
	}
	return out
}

func (n pnode) CallRPC(ctx context.Context, addr string, method byte, body []byte) ([]byte, error) {
	n.m.mu.Lock()
	p, cut := n.m.pushers[addr], n.m.cut[addr] || n.m.cut[n.self]
	n.m.mu.Unlock()
	if cut || p == nil {
		return nil, errCut
	}
	if method == testPresenceMethod {
		return p.HandlePresence(ctx, body)
	}
	return p.Handle(ctx, body)
}

func (m *pmesh) start(t *testing.T, id string) *Pusher {
	t.Helper()
	e := &fakeEdge{}
	p := New(Options{Cluster: pnode{m: m, self: id}, Method: testPushMethod, PresenceMethod: testPresenceMethod,
		PeersTTL: 20 * time.Millisecond, PresenceKeepalive: 50 * time.Millisecond,
		Edge: func() handler.Edge { return e }})
	m.mu.Lock()
	if old := m.pushers[id]; old != nil {
		m.mu.Unlock()
		_ = old.Close()
		m.mu.Lock()
	}
	m.pushers[id], m.edges[id] = p, e
	m.mu.Unlock()
	p.Start()
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func (m *pmesh) edge(id string) *fakeEdge {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.edges[id]
}

func eventually(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatal("never:", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestPresenceDirectsPushes: pushes go only to nodes that announced the user (DESIGN.md invariants 1-3);
// an arrival's wait ends once the peers acknowledged it; a departure stops pushes; a peer with no view
// (fresh, restarted, or cut off) gets everything; a restarted node's peers resync.
func TestPresenceDirectsPushes(t *testing.T) {
	m := &pmesh{pushers: map[string]*Pusher{}, edges: map[string]*fakeEdge{}, cut: map[string]bool{}}
	// Before any view exists every push goes everywhere (the conservative default).
	fresh := New(Options{Cluster: pnode{m: m, self: "x"}, PresenceMethod: testPresenceMethod})
	if !fresh.mayHave("b", 1) {
		t.Fatal("a pusher without a view of b must push to b")
	}
	a, b, _ := m.start(t, "a"), m.start(t, "b"), m.start(t, "c")
	eventually(t, "a synced with b and c", func() bool {
		return len(a.peerList()) == 3 && !a.mayHave("b", 1) && !a.mayHave("c", 1)
	})

	// User 1 arrives on b: the wait returns once a and c have acknowledged (both healthy), so a's very next
	// push for user 1 is directed at b only.
	if wait := b.Presence(1, true); wait != nil {
		wait()
	} else {
		t.Fatal("an arrival after Start must return a wait")
	}
	if !a.mayHave("b", 1) || a.mayHave("c", 1) {
		t.Fatal("after the wait, a must know user 1 is on b and not on c")
	}
	m.start(t, "c").Presence(2, true)() // c restarts (a new incarnation) with user 2
	up := &api.UpdateShort{Update: &api.UpdateUserTyping{UserID: 5, Action: &api.SendMessageTypingAction{}}, Date: 1}
	a.Push(context.Background(), 1, 0, up)
	a.Push(context.Background(), 2, 0, up)
	eventually(t, "b got user 1's push", func() bool { return len(m.edge("b").list()) == 1 })
	eventually(t, "c got user 2's push", func() bool { return len(m.edge("c").list()) == 1 })
	// Queues per peer are FIFO: c got the later push only, so user 1's was never sent to c; b likewise.
	if got := m.edge("c").list()[0]; got != tl.Name(up)+":2:0" {
		t.Fatalf("c got %q", got)
	}
	if got := m.edge("b").list()[0]; got != tl.Name(up)+":1:0" {
		t.Fatalf("b got %q", got)
	}

	// Departure: a stops pushing user 1 to b.
	b.Presence(1, false)
	eventually(t, "a learns user 1 left b", func() bool { return !a.mayHave("b", 1) })

	// a restarts: it has no views, and b and c resync it with snapshots (b's keepalive gets "resync").
	b.Presence(3, true)()
	a = m.start(t, "a")
	if !a.mayHave("b", 99) {
		t.Fatal("a restarted node must push everything until it has views")
	}
	eventually(t, "restarted a resynced", func() bool {
		return a.mayHave("b", 3) && !a.mayHave("b", 99) && a.mayHave("c", 2) && !a.mayHave("c", 99)
	})

	// b is cut off: an arrival on c does not wait for it beyond the first failure, and b catches up after.
	m.mu.Lock()
	m.cut["b"] = true
	m.mu.Unlock()
	cc := m.pushers["c"]
	eventually(t, "c notices b is unreachable", func() bool {
		cc.pmu.Lock()
		defer cc.pmu.Unlock()
		return cc.announcers["b"] != nil && !cc.announcers["b"].healthy
	})
	start := time.Now()
	cc.Presence(4, true)()
	if time.Since(start) >= PresenceWait {
		t.Fatal("an arrival waited for an unreachable peer")
	}
	m.mu.Lock()
	m.cut["b"] = false
	bb := m.pushers["b"]
	m.mu.Unlock()
	eventually(t, "b learns user 4 after the cut heals", func() bool { return bb.mayHave("c", 4) })

	// Every announcer acknowledged everything: the log is trimmed.
	eventually(t, "c's log trimmed", func() bool {
		cc.pmu.Lock()
		defer cc.pmu.Unlock()
		return len(cc.log) == 0
	})
}

// TestPresenceBodies: malformed bodies are refused; a delta that does not follow the view drops it.
func TestPresenceBodies(t *testing.T) {
	p := New(Options{PresenceMethod: testPresenceMethod})
	good := encodePresence(presenceDelta, 7, 0, 1, "n1", []presenceEntry{{user: 1, present: true}})
	for name, b := range map[string][]byte{
		"empty":         nil,
		"short":         good[:20],
		"kind":          append([]byte{9}, good[1:]...),
		"count":         good[:len(good)-1],
		"trailing":      append(append([]byte(nil), good...), 0),
		"delta span":    encodePresence(presenceDelta, 7, 0, 2, "n1", []presenceEntry{{user: 1}}),
		"present byte":  append(append([]byte(nil), good[:len(good)-1]...), 2),
		"backwards ver": encodePresence(presenceDelta, 7, 3, 2, "n1", nil),
	} {
		if _, err := p.HandlePresence(context.Background(), b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// No view of n1: a delta gets "resync"; a snapshot then a following delta apply.
	if r, err := p.HandlePresence(context.Background(), good); err != nil || r[0] != presenceResync {
		t.Fatalf("delta without a view: %v %v", r, err)
	}
	snap := encodePresence(presenceSnapshot, 7, 0, 5, "n1", []presenceEntry{{user: 10, present: true}})
	if r, err := p.HandlePresence(context.Background(), snap); err != nil || r[0] != presenceOK {
		t.Fatalf("snapshot: %v %v", r, err)
	}
	d := encodePresence(presenceDelta, 7, 5, 7, "n1", []presenceEntry{{user: 11, present: true}, {user: 10}})
	if r, err := p.HandlePresence(context.Background(), d); err != nil || r[0] != presenceOK {
		t.Fatalf("delta: %v %v", r, err)
	}
	if !p.mayHave("n1", 11) || p.mayHave("n1", 10) {
		t.Fatal("delta not applied")
	}
	if r, _ := p.HandlePresence(context.Background(), d); r[0] != presenceOK || !p.mayHave("n1", 11) {
		t.Fatal("a repeated delta must be acknowledged and ignored")
	}
	gap := encodePresence(presenceDelta, 7, 9, 10, "n1", []presenceEntry{{user: 12, present: true}})
	if r, _ := p.HandlePresence(context.Background(), gap); r[0] != presenceResync || !p.mayHave("n1", 99) {
		t.Fatal("a gap must drop the view (push everything) and ask for a snapshot")
	}
}
