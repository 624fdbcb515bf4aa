package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/raftgram/raftgram/fsm"
	"github.com/raftgram/raftgram/node/rpc"
	"github.com/raftgram/raftgram/shard"
)

// Internal RPC methods.
const (
	methodPropose       byte = 1
	methodRead          byte = 2
	methodConfig        byte = 3
	methodStatus        byte = 4
	methodJoinCommit    byte = 5
	methodRemoveNode    byte = 6
	methodClusterStatus byte = 7
	methodCloseGroup    byte = 8
	methodQuery         byte = 9
)

// forwarder implements shard.Forwarder over internal RPC.
type forwarder struct{ n *Node }

func (f forwarder) ForwardPropose(ctx context.Context, addr string, s uint32, cmd fsm.Command) (fsm.Result, error) {
	return forwarderCall(ctx, f.n.rpcCli, addr, s, cmd)
}

func (f forwarder) ForwardRead(ctx context.Context, addr string, s uint32, key []byte) ([]byte, bool, error) {
	out, err := f.n.rpcCli.Call(ctx, addr, methodRead, encodeReadReq(s, key))
	if err != nil {
		return nil, false, mapRPCErr(s, err)
	}
	if len(out) < 1 {
		return nil, false, errors.New("read: short response")
	}
	return out[1:], out[0] == 1, nil
}

func (f forwarder) ForwardQuery(ctx context.Context, addr string, s uint32, query []byte) ([]byte, error) {
	out, err := f.n.rpcCli.Call(ctx, addr, methodQuery, encodeReadReq(s, query))
	if err != nil {
		return nil, mapRPCErr(s, err)
	}
	return out, nil
}

func (f forwarder) ForwardConfig(ctx context.Context, addr string, g uint32, ch shard.ConfigChange) error {
	body, _ := json.Marshal(configReq{Group: g, Change: ch})
	_, err := f.n.rpcCli.Call(ctx, addr, methodConfig, body)
	return mapRPCErr(g, err)
}

type configReq struct {
	Group  uint32             `json:"group"`
	Change shard.ConfigChange `json:"change"`
}

// mapRPCErr turns remote statuses into the errors shard.route branches on.
func mapRPCErr(s uint32, err error) error {
	if err == nil {
		return nil
	}
	var re *rpc.Error
	if errors.As(err, &re) {
		switch re.Status {
		case rpc.StatusNotLeader:
			return &shard.NotLeaderError{Shard: s, Leader: re.Msg}
		case rpc.StatusUnknownCommand:
			t, _ := strconv.ParseUint(re.Msg, 10, 32)
			return &shard.UnknownCommandError{Shard: s, Type: fsm.CommandType(t)}
		}
		return err
	}
	return fmt.Errorf("%w: %v", shard.ErrUnavailable, err)
}

// localErr turns a local error into what the RPC caller should see.
func localErr(err error) error {
	var nl *shard.NotLeaderError
	if errors.As(err, &nl) {
		return &rpc.Error{Status: rpc.StatusNotLeader, Msg: nl.Leader}
	}
	var uc *shard.UnknownCommandError
	if errors.As(err, &uc) {
		return &rpc.Error{Status: rpc.StatusUnknownCommand, Msg: strconv.FormatUint(uint64(uc.Type), 10)}
	}
	if shard.Retryable(err) {
		return &rpc.Error{Status: rpc.StatusNotLeader}
	}
	return err
}
