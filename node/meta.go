package node

import (
	"context"
	"errors"
	"fmt"

	"github.com/raftgram/raftgram/fsm"
	"github.com/raftgram/raftgram/shard"
)

// casMeta sets key in the meta group to value if it currently holds old (nil: absent). When the swap does not
// happen it returns the current value, read linearizably.
func (n *Node) casMeta(ctx context.Context, key string, old, value []byte) (bool, []byte, error) {
	res, err := n.shards.Propose(ctx, shard.MetaGroup, fsm.Command{Type: fsm.TypeKVCAS,
		Payload: fsm.EncodeKVCAS([]byte(key), old, value)})
	if err != nil {
		return false, nil, err
	}
	if res.Err == nil {
		return true, nil, nil
	}
	var ae *fsm.ApplyError
	if !errors.As(res.Err, &ae) || ae.Code != fsm.CodeCASMismatch {
		return false, nil, fmt.Errorf("meta %s: %w", key, res.Err)
	}
	cur, _, err := n.shards.Read(ctx, shard.MetaGroup, []byte(key))
	if err != nil {
		return false, nil, err
	}
	return false, cur, nil
}
