package authkeys

import (
	"context"
	"errors"
	"fmt"

	"github.com/raftgram/raftgram/fsm"
	"github.com/raftgram/raftgram/gateway/handshake"
	"github.com/raftgram/raftgram/gateway/session"
	"github.com/raftgram/raftgram/shard"
)

// Cluster is what Store needs of a node (*node.Node implements it).
type Cluster interface {
	// Propose commits cmd in shard s on its leader and returns its result; the proposer stamps the request id
	// and time when they are zero.
	Propose(ctx context.Context, s uint32, cmd fsm.Command) (fsm.Result, error)
	// Read is a linearizable read of one domain key of shard s.
	Read(ctx context.Context, s uint32, key []byte) ([]byte, bool, error)
	// Shards is the cluster's shard count.
	Shards() int
}

// Store is a handshake.AuthKeyStore over the cluster. It is safe for concurrent use and holds no state.
type Store struct {
	c Cluster
}

var _ handshake.AuthKeyStore = (*Store)(nil)

// NewStore returns a Store over c.
func NewStore(c Cluster) *Store { return &Store{c: c} }

func (s *Store) shard(id int64) uint32 { return shard.Of(id, s.c.Shards()) }

// propose commits one op and turns a deterministic rejection into an *fsm.ApplyError.
func (s *Store) propose(ctx context.Context, id int64, payload []byte) ([]byte, error) {
	res, err := s.c.Propose(ctx, s.shard(id), fsm.Command{Type: TypeV1, Payload: payload})
	if err != nil {
		return nil, err
	}
	if res.Err != nil {
		return nil, res.Err
	}
	return res.Value, nil
}

func code(err error) string {
	var ae *fsm.ApplyError
	if errors.As(err, &ae) {
		return ae.Code
	}
	return ""
}

// Put implements handshake.AuthKeyStore: the key is committed on a majority of its shard before Put returns.
func (s *Store) Put(ctx context.Context, k handshake.AuthKey) error {
	_, err := s.propose(ctx, k.ID, EncodePut(k))
	if code(err) == CodeKeyExists {
		return handshake.ErrKeyExists
	}
	if err != nil {
		return fmt.Errorf("authkeys: put %016x: %w", uint64(k.ID), err)
	}
	return nil
}

// Get implements handshake.AuthKeyStore with a linearizable read: a deleted key is never returned.
func (s *Store) Get(ctx context.Context, id int64) (handshake.AuthKey, bool, error) {
	v, found, err := s.c.Read(ctx, s.shard(id), Key(id))
	if err != nil {
		return handshake.AuthKey{}, false, fmt.Errorf("authkeys: get %016x: %w", uint64(id), err)
	}
	if !found {
		return handshake.AuthKey{}, false, nil
	}
	k, err := DecodeRecord(id, v)
	if err != nil {
		return handshake.AuthKey{}, false, fmt.Errorf("authkeys: get %016x: %w", uint64(id), err)
	}
	return k, true, nil
}

// Bind implements handshake.AuthKeyStore. The permanent key is checked first (it lives in another shard,
// which Apply cannot read). A temporary key already bound to another permanent key gets 400
// TEMP_AUTH_KEY_ALREADY_BOUND, as Telegram answers.
func (s *Store) Bind(ctx context.Context, tempID, permID int64) error {
	perm, found, err := s.Get(ctx, permID)
	if err != nil {
		return err
	}
	if !found || perm.Temp {
		return fmt.Errorf("authkeys: bind: %016x is not a permanent key", uint64(permID))
	}
	_, err = s.propose(ctx, tempID, EncodeBind(tempID, permID))
	if code(err) == CodeAlreadyBound {
		return &session.RPCError{Code: 400, Message: CodeAlreadyBound}
	}
	if err != nil {
		return fmt.Errorf("authkeys: bind %016x to %016x: %w", uint64(tempID), uint64(permID), err)
	}
	return nil
}

// Delete implements handshake.AuthKeyStore.
func (s *Store) Delete(ctx context.Context, id int64) error {
	if _, err := s.propose(ctx, id, EncodeDelete(id)); err != nil {
		return fmt.Errorf("authkeys: delete %016x: %w", uint64(id), err)
	}
	return nil
}

// SetUser records the signed-in user of a permanent key (0 signs it out), so that the key, loaded again on any
// node, comes back signed in.
func (s *Store) SetUser(ctx context.Context, id, userID int64) error {
	if _, err := s.propose(ctx, id, EncodeSetUser(id, userID)); err != nil {
		return fmt.Errorf("authkeys: set user of %016x: %w", uint64(id), err)
	}
	return nil
}
