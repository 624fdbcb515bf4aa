package node

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"time"

	"github.com/raftgram/raftgram/fsm"
	"github.com/raftgram/raftgram/node/rpc"
	"github.com/raftgram/raftgram/shard"
)

// This file is the seam domain code (the messenger) builds on besides Propose and Read: multi-key linearizable
// queries, its own internal RPC methods, and the list of peers and their client addresses.

// QueryType names a domain query (a read that is more than one key: a page of history, a dialog list).
type QueryType uint16

// QueryFunc runs a query against one shard's state on its leader, after the read barrier. It must only read.
type QueryFunc func(r fsm.Reader, payload []byte) ([]byte, error)

// FirstDomainRPC is the lowest internal RPC method number domain code may register (Extension.RPC).
const FirstDomainRPC byte = 64

// Query runs query t of shard s on the shard's leader (forwarded if needed) after a read barrier: the answer
// reflects every write acknowledged before Query was called.
func (n *Node) Query(ctx context.Context, s uint32, t QueryType, payload []byte) ([]byte, error) {
	q := make([]byte, 2, 2+len(payload))
	binary.BigEndian.PutUint16(q, uint16(t))
	return n.shards.Query(ctx, s, append(q, payload...))
}

// runQuery is shard.Options.Query.
func (n *Node) runQuery(s uint32, q []byte) ([]byte, error) {
	if len(q) < 2 {
		return nil, errors.New("query: short request")
	}
	t := QueryType(binary.BigEndian.Uint16(q))
	f, ok := n.cfg.Queries[t]
	if !ok {
		return nil, fmt.Errorf("query: unknown type %d", t)
	}
	var out []byte
	err := n.state.View(s, func(r fsm.Reader) error {
		var err error
		out, err = f(r, q[2:])
		return err
	})
	return out, err
}

// handleRPC registers an internal RPC method (>= FirstDomainRPC, checked by Extend) served on this node's
// cluster port. Call it before Start.
func (n *Node) handleRPC(method byte, h rpc.HandlerFunc) {
	if n.domainRPC == nil {
		n.domainRPC = map[byte]rpc.HandlerFunc{}
	}
	n.domainRPC[method] = h
}

// CallRPC calls a domain RPC method on the node at addr (a cluster address from Peers; this node's own address
// works too). Transport failures wrap shard.ErrUnavailable.
func (n *Node) CallRPC(ctx context.Context, addr string, method byte, body []byte) ([]byte, error) {
	if addr == n.Addr() {
		h := n.domainRPC[method]
		if h == nil {
			return nil, fmt.Errorf("rpc method %d not registered", method)
		}
		return h(ctx, body)
	}
	out, err := n.rpcCli.Call(ctx, addr, method, body)
	var re *rpc.Error
	if err != nil && !errors.As(err, &re) {
		return nil, fmt.Errorf("%w: %v", shard.ErrUnavailable, err)
	}
	return out, err
}

// Peer is a cluster member as domain code sees it.
type Peer struct {
	ID   string
	Addr string // cluster (internal RPC) address
	Self bool
}

// Peers lists the cluster's members, this node included, sorted by id.
func (n *Node) Peers() []Peer {
	var out []Peer
	for _, m := range n.members() {
		out = append(out, Peer{ID: m.ID, Addr: m.Addr, Self: m.ID == n.ID()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// IsLeader reports whether this node leads shard s right now.
func (n *Node) IsLeader(s uint32) bool { return n.shards.IsLeader(s) }

// ClientAddrs are the MTProto addresses clients can use on one node.
type ClientAddrs struct {
	NodeID string `json:"node"`
	TCP    string `json:"tcp"`          // host:port of the MTProto listener (every TCP transport)
	WS     string `json:"ws,omitempty"` // host:port serving WebSocket (/apiws); same port as TCP here
}

const clientAddrsKey = "clientaddrs/"

// PublishClientAddrs records this node's client addresses in the meta group, so every node can list every
// node's addresses (help.getConfig's dc_options).
func (n *Node) PublishClientAddrs(ctx context.Context, a ClientAddrs) error {
	a.NodeID = n.ID()
	v, err := json.Marshal(a)
	if err != nil {
		return err
	}
	key := clientAddrsKey + n.ID()
	for {
		cur, ok, err := n.shards.Read(ctx, shard.MetaGroup, []byte(key))
		if err != nil {
			return err
		}
		if ok && string(cur) == string(v) {
			return nil
		}
		if !ok {
			cur = nil // absent, for the CAS (a forwarded read returns an empty slice)
		}
		swapped, _, err := n.casMeta(ctx, key, cur, v)
		if err != nil {
			return err
		}
		if swapped {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// AllClientAddrs lists the published client addresses of the cluster's current members, sorted by node id.
func (n *Node) AllClientAddrs(ctx context.Context) ([]ClientAddrs, error) {
	var out []ClientAddrs
	for _, p := range n.Peers() {
		v, ok, err := n.shards.Read(ctx, shard.MetaGroup, []byte(clientAddrsKey+p.ID))
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		var a ClientAddrs
		if err := json.Unmarshal(v, &a); err != nil {
			return nil, fmt.Errorf("client addrs of %s: %w", p.ID, err)
		}
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b ClientAddrs) int {
		if a.NodeID < b.NodeID {
			return -1
		}
		if a.NodeID > b.NodeID {
			return 1
		}
		return 0
	})
	return out, nil
}

// Extension is what domain code adds to a node before it starts (node/messenger builds one).
type Extension struct {
	Appliers map[fsm.CommandType]fsm.Applier
	Queries  map[QueryType]QueryFunc
	// RPC are internal RPC methods (>= FirstDomainRPC).
	RPC   map[byte]rpc.HandlerFunc
	Admin map[string]http.Handler
	// Gateway, if not nil, replaces Config.Gateway.
	Gateway Gateway
}

// Extend adds e to the node. Call it after New and before Start; a duplicate applier type, query type, RPC
// method or admin path is an error (two domains claiming one number is a wiring bug).
func (n *Node) Extend(e Extension) error {
	if n.ctx != nil {
		return errors.New("node: Extend after Start")
	}
	if n.cfg.Appliers == nil {
		n.cfg.Appliers = map[fsm.CommandType]fsm.Applier{}
	}
	if n.cfg.Queries == nil {
		n.cfg.Queries = map[QueryType]QueryFunc{}
	}
	if n.cfg.AdminHandlers == nil {
		n.cfg.AdminHandlers = map[string]http.Handler{}
	}
	for t, a := range e.Appliers {
		if _, dup := n.cfg.Appliers[t]; dup {
			return fmt.Errorf("node: command type %d registered twice", t)
		}
		n.cfg.Appliers[t] = a
	}
	for t, q := range e.Queries {
		if _, dup := n.cfg.Queries[t]; dup {
			return fmt.Errorf("node: query type %d registered twice", t)
		}
		n.cfg.Queries[t] = q
	}
	for m, h := range e.RPC {
		if m < FirstDomainRPC {
			return fmt.Errorf("node: RPC method %d is reserved for the node itself", m)
		}
		if _, dup := n.domainRPC[m]; dup {
			return fmt.Errorf("node: RPC method %d registered twice", m)
		}
		n.handleRPC(m, h)
	}
	for p, h := range e.Admin {
		if _, dup := n.cfg.AdminHandlers[p]; dup {
			return fmt.Errorf("node: admin path %s registered twice", p)
		}
		n.cfg.AdminHandlers[p] = h
	}
	if e.Gateway != nil {
		n.cfg.Gateway = e.Gateway
	}
	return nil
}
