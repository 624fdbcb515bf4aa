package node

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/raftgram/raftgram/shard"
)

func (n *Node) registerRPC() {
	n.rpcSrv.Handle(methodPropose, func(ctx context.Context, body []byte) ([]byte, error) {
		s, cmd, err := decodeProposeReq(body)
		if err != nil {
			return nil, err
		}
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		res, err := n.shards.ProposeLocal(ctx, s, cmd)
		if err != nil {
			return nil, localErr(err)
		}
		return encodeResult(res)
	})
	n.rpcSrv.Handle(methodRead, func(ctx context.Context, body []byte) ([]byte, error) {
		if len(body) < 4 {
			return nil, errors.New("read: short request")
		}
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		v, ok, err := n.shards.ReadLocal(ctx, binary.BigEndian.Uint32(body), body[4:])
		if err != nil {
			return nil, localErr(err)
		}
		out := make([]byte, 1, 1+len(v))
		if ok {
			out[0] = 1
		}
		return append(out, v...), nil
	})
	n.rpcSrv.Handle(methodQuery, func(ctx context.Context, body []byte) ([]byte, error) {
		if len(body) < 4 {
			return nil, errors.New("query: short request")
		}
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		out, err := n.shards.QueryLocal(ctx, binary.BigEndian.Uint32(body), body[4:])
		if err != nil {
			return nil, localErr(err)
		}
		return out, nil
	})
	for m, h := range n.domainRPC {
		n.rpcSrv.Handle(m, h)
	}
	n.rpcSrv.Handle(methodConfig, func(ctx context.Context, body []byte) ([]byte, error) {
		var req configReq
		if err := json.Unmarshal(body, &req); err != nil {
			return nil, fmt.Errorf("config request: %w", err)
		}
		return nil, localErr(n.shards.ChangeConfigLocal(req.Group, req.Change))
	})
	n.rpcSrv.Handle(methodStatus, func(ctx context.Context, body []byte) ([]byte, error) {
		return json.Marshal(n.LocalStatus())
	})
	n.rpcSrv.Handle(methodClusterStatus, func(ctx context.Context, body []byte) ([]byte, error) {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		return json.Marshal(n.ClusterStatus(ctx))
	})
	n.rpcSrv.Handle(methodJoinCommit, func(ctx context.Context, body []byte) ([]byte, error) {
		var req admitReq
		if err := json.Unmarshal(body, &req); err != nil {
			return nil, fmt.Errorf("join commit: %w", err)
		}
		ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		if req.Prepare {
			return nil, n.forgetIncarnations(ctx, req)
		}
		p, err := n.admitNode(ctx, req)
		if err != nil {
			return nil, err
		}
		return p.Marshal()
	})
	n.rpcSrv.Handle(methodCloseGroup, func(ctx context.Context, body []byte) ([]byte, error) {
		if len(body) != 4 {
			return nil, errors.New("close group: bad request")
		}
		g := binary.BigEndian.Uint32(body)
		if g == shard.MetaGroup {
			return nil, errors.New("close group: not the meta group")
		}
		n.log.Info("closing replica of a shard moved away", "group", g, "by", peerID(ctx))
		return nil, n.shards.CloseGroup(g)
	})
	n.rpcSrv.Handle(methodRemoveNode, func(ctx context.Context, body []byte) ([]byte, error) {
		ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		return nil, n.RemoveNode(ctx, string(body))
	})
}

// NodeStatus is one node's report.
type NodeStatus struct {
	ID     string              `json:"id"`
	Addr   string              `json:"addr"`
	Admin  string              `json:"admin,omitempty"`
	Ready  bool                `json:"ready"`
	Groups []shard.GroupStatus `json:"groups"`
	Error  string              `json:"error,omitempty"`
}

// LocalStatus reports this node.
func (n *Node) LocalStatus() NodeStatus {
	return NodeStatus{ID: n.ID(), Addr: n.Addr(), Admin: n.AdminAddr(), Ready: n.Ready(), Groups: n.shards.Status()}
}

// ClusterStatus asks every node of the placement for its status (unreachable nodes carry Error).
func (n *Node) ClusterStatus(ctx context.Context) []NodeStatus {
	nodes := n.members()
	out := make([]NodeStatus, len(nodes))
	var wg sync.WaitGroup
	for i, ni := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ni.ID == n.ID() {
				out[i] = n.LocalStatus()
				return
			}
			b, err := n.rpcCli.Call(ctx, ni.Addr, methodStatus, nil)
			if err == nil {
				err = json.Unmarshal(b, &out[i])
			}
			if err != nil {
				out[i] = NodeStatus{ID: ni.ID, Addr: ni.Addr, Error: err.Error()}
			}
		}()
	}
	wg.Wait()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// members lists the cluster's nodes: the meta group's Raft configuration (authoritative and current as soon as
// a membership change commits) merged with the placement (which may also name nodes that are not voters yet).
func (n *Node) members() []shard.NodeInfo {
	seen := map[string]bool{n.ID(): true}
	out := []shard.NodeInfo{{ID: n.ID(), Addr: n.Addr()}}
	if g := n.shards.Group(shard.MetaGroup); g != nil {
		if f := g.Raft().GetConfiguration(); f.Error() == nil {
			for _, s := range f.Configuration().Servers {
				if id := shard.NodeOf(string(s.ID)); !seen[id] {
					seen[id] = true
					out = append(out, shard.NodeInfo{ID: id, Addr: string(s.Address)})
				}
			}
		}
	}
	if p := n.shards.Placement(); p != nil {
		for _, ni := range p.Nodes {
			if !seen[ni.ID] {
				seen[ni.ID] = true
				out = append(out, ni)
			}
		}
	}
	return out
}
