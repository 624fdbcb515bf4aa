package shard

import (
	"errors"
	"fmt"

	"github.com/hashicorp/raft"

	"github.com/raftgram/raftgram/fsm"
)

// ErrNotLeader is returned (wrapped in *NotLeaderError) when this node cannot serve a request for a shard
// because it is not that shard's leader.
var ErrNotLeader = errors.New("not the shard leader")

// ErrNoGroup means this node holds no replica of the shard.
var ErrNoGroup = errors.New("shard not held by this node")

// ErrUnknownCommand is returned (wrapped in *UnknownCommandError) when a command's type has no Applier in this
// binary. It is rejected before it reaches the batcher: once committed, such a command would halt every replica
// that lacks the type (fsm/DESIGN.md invariant 6). Not retryable.
var ErrUnknownCommand = errors.New("unknown command type")

// UnknownCommandError names the shard and the rejected type.
type UnknownCommandError struct {
	Shard uint32
	Type  fsm.CommandType
}

func (e *UnknownCommandError) Error() string {
	return fmt.Sprintf("shard %d: %v %d: rejected before proposing", e.Shard, ErrUnknownCommand, e.Type)
}

func (e *UnknownCommandError) Unwrap() error { return ErrUnknownCommand }

// ErrClosed is returned after Close.
var ErrClosed = errors.New("shard manager closed")

// NotLeaderError carries the leader hint (may be empty).
type NotLeaderError struct {
	Shard  uint32
	Leader string // address of the believed leader, "" if unknown
}

func (e *NotLeaderError) Error() string {
	return fmt.Sprintf("shard %d: %v (leader hint %q)", e.Shard, ErrNotLeader, e.Leader)
}

func (e *NotLeaderError) Unwrap() error { return ErrNotLeader }

// Retryable reports whether a proposal failed in a way that a retry (same request id, maybe another leader)
// can fix.
func Retryable(err error) bool {
	return errors.Is(err, ErrNotLeader) || errors.Is(err, raft.ErrNotLeader) ||
		errors.Is(err, raft.ErrLeadershipLost) || errors.Is(err, raft.ErrEnqueueTimeout) ||
		errors.Is(err, raft.ErrLeadershipTransferInProgress) || errors.Is(err, raft.ErrAbortedByRestore) ||
		errors.Is(err, raft.ErrRaftShutdown) || errors.Is(err, ErrClosed)
}
