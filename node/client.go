package node

import (
	"context"
	"encoding/json"
	"errors"
	"net"

	"github.com/raftgram/raftgram/fsm"
	"github.com/raftgram/raftgram/node/mux"
	"github.com/raftgram/raftgram/node/rpc"
)

// Client talks internal RPC to cluster members with a data dir's certificate (status, remove-node, bench,
// test harness). It holds a connection pool; Close releases it.
type Client struct {
	rpc *rpc.Client
}

// NewClient returns a client authenticated as the data dir's node.
func NewClient(dd *DataDir) *Client {
	cfg := dd.ID.ClientTLS()
	return &Client{rpc: rpc.NewClient(func(ctx context.Context, addr string) (net.Conn, error) {
		return mux.Dial(ctx, addr, cfg, mux.KindRPC, 0)
	}, 4)}
}

// Close releases pooled connections.
func (c *Client) Close() { c.rpc.Close() }

// Status returns addr's own status.
func (c *Client) Status(ctx context.Context, addr string) (NodeStatus, error) {
	var st NodeStatus
	b, err := c.rpc.Call(ctx, addr, methodStatus, nil)
	if err != nil {
		return st, err
	}
	return st, json.Unmarshal(b, &st)
}

// ClusterStatus asks addr for every node's status.
func (c *Client) ClusterStatus(ctx context.Context, addr string) ([]NodeStatus, error) {
	var st []NodeStatus
	b, err := c.rpc.Call(ctx, addr, methodClusterStatus, nil)
	if err != nil {
		return nil, err
	}
	return st, json.Unmarshal(b, &st)
}

// RemoveNode asks addr to remove node id from the cluster.
func (c *Client) RemoveNode(ctx context.Context, addr, id string) error {
	_, err := c.rpc.Call(ctx, addr, methodRemoveNode, []byte(id))
	return err
}

// ProposeAt sends cmd to addr, which must lead shard s (no forwarding): *shard.NotLeaderError carries the hint.
func (c *Client) ProposeAt(ctx context.Context, addr string, s uint32, cmd fsm.Command) (fsm.Result, error) {
	return forwarderCall(ctx, c.rpc, addr, s, cmd)
}

// ReadAt reads key of shard s linearizably on addr, which must lead s.
func (c *Client) ReadAt(ctx context.Context, addr string, s uint32, key []byte) ([]byte, bool, error) {
	out, err := c.rpc.Call(ctx, addr, methodRead, encodeReadReq(s, key))
	if err != nil {
		return nil, false, mapRPCErr(s, err)
	}
	if len(out) < 1 {
		return nil, false, errors.New("read: short response")
	}
	return out[1:], out[0] == 1, nil
}

func forwarderCall(ctx context.Context, cl *rpc.Client, addr string, s uint32, cmd fsm.Command) (fsm.Result, error) {
	body, err := encodeProposeReq(s, cmd)
	if err != nil {
		return fsm.Result{}, err
	}
	out, err := cl.Call(ctx, addr, methodPropose, body)
	if err != nil {
		return fsm.Result{}, mapRPCErr(s, err)
	}
	return decodeResult(out)
}
