package node

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/raftgram/raftgram/fsm"
	"github.com/raftgram/raftgram/node/rpc"
	"github.com/raftgram/raftgram/shard"
)

const (
	testQueryGet QueryType = 7
	testRPCWho   byte      = FirstDomainRPC + 1
)

// TestDomainSeams: a domain query runs on the shard leader whichever node is asked (forwarded over RPC) and
// sees every acknowledged write; domain RPC methods reach every peer; client addresses published by each node
// are listed by every node; Extend refuses duplicates and late calls.
func TestDomainSeams(t *testing.T) {
	ext := func(n *Node) Extension {
		return Extension{
			Queries: map[QueryType]QueryFunc{testQueryGet: func(r fsm.Reader, key []byte) ([]byte, error) {
				v, ok, err := r.Get(key)
				if err != nil || !ok {
					return nil, fmt.Errorf("get %q: %v %v", key, ok, err)
				}
				return v, nil
			}},
			RPC: map[byte]rpc.HandlerFunc{testRPCWho: func(ctx context.Context, body []byte) ([]byte, error) {
				return []byte(n.ID() + ":" + string(body)), nil
			}},
		}
	}
	nodes := inProcessClusterWith(t, 3, 3, ext)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	for k := 0; k < 9; k++ {
		key := []byte(fmt.Sprintf("q%d", k))
		s := shard.OfBytes(key, 3)
		val := []byte(fmt.Sprintf("v%d", k))
		if res, err := nodes[k%3].Propose(ctx, s, fsm.Command{Type: fsm.TypeKVPut, Payload: fsm.EncodeKVPut(key, val)}); err != nil || res.Err != nil {
			t.Fatalf("put: %v %v", err, res.Err)
		}
		for _, n := range nodes {
			v, err := n.Query(ctx, s, testQueryGet, key)
			if err != nil || string(v) != string(val) {
				t.Fatalf("query %s via %s: %q %v", key, n.ID(), v, err)
			}
		}
	}
	// A failing query reaches the caller as an error, from any node, without retries hanging.
	for _, n := range nodes {
		if _, err := n.Query(ctx, 0, testQueryGet, []byte("absent")); err == nil {
			t.Fatalf("query of an absent key via %s succeeded", n.ID())
		}
		if _, err := n.Query(ctx, 0, 999, nil); err == nil {
			t.Fatalf("unknown query type via %s succeeded", n.ID())
		}
	}

	peers := nodes[0].Peers()
	if len(peers) != 3 {
		t.Fatalf("peers: %+v", peers)
	}
	for _, p := range peers {
		out, err := nodes[0].CallRPC(ctx, p.Addr, testRPCWho, []byte("hi"))
		if err != nil || string(out) != p.ID+":hi" || p.Self != (p.ID == nodes[0].ID()) {
			t.Fatalf("rpc to %+v: %q %v", p, out, err)
		}
	}

	for i, n := range nodes {
		if err := n.PublishClientAddrs(ctx, ClientAddrs{TCP: fmt.Sprintf("127.0.0.1:%d", 9000+i)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range nodes {
		all, err := n.AllClientAddrs(ctx)
		if err != nil || len(all) != 3 || all[0].NodeID != "n1" || all[2].TCP != "127.0.0.1:9002" {
			t.Fatalf("client addrs via %s: %+v %v", n.ID(), all, err)
		}
	}

	if err := nodes[0].Extend(Extension{}); err == nil {
		t.Fatal("Extend after Start accepted")
	}
	fresh, err := New(Config{DataDir: nodes[0].DataDir().Path})
	if err != nil {
		t.Fatal(err)
	}
	e := Extension{RPC: map[byte]rpc.HandlerFunc{testRPCWho: nil}}
	if err := fresh.Extend(e); err != nil {
		t.Fatal(err)
	}
	if err := fresh.Extend(e); err == nil {
		t.Fatal("duplicate RPC method accepted")
	}
	if err := fresh.Extend(Extension{RPC: map[byte]rpc.HandlerFunc{3: nil}}); err == nil {
		t.Fatal("reserved RPC method accepted")
	}
}
