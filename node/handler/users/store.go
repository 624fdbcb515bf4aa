package users

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/raftgram/raftgram/fsm"
	"github.com/raftgram/raftgram/fsm/account"
	"github.com/raftgram/raftgram/node"
	"github.com/raftgram/raftgram/node/handler"
)

// Cluster is what Store needs of a node (*node.Node implements it).
type Cluster interface {
	Propose(ctx context.Context, s uint32, cmd fsm.Command) (fsm.Result, error)
	Query(ctx context.Context, s uint32, t node.QueryType, payload []byte) ([]byte, error)
	Shards() int
}

// Store proposes account commands and runs account queries. It holds no state.
type Store struct {
	c     Cluster
	clock func() time.Time
}

// NewStore returns a Store over c; clock stamps every command (the FSM's only clock).
func NewStore(c Cluster, clock func() time.Time) *Store {
	if clock == nil {
		clock = time.Now
	}
	return &Store{c: c, clock: clock}
}

// Shards is the cluster's shard count.
func (s *Store) Shards() int { return s.c.Shards() }

// Now is the store's clock.
func (s *Store) Now() time.Time { return s.clock() }

// UserShard is the shard of a user.
func (s *Store) UserShard(uid int64) uint32 { return account.UserShard(uid, s.c.Shards()) }

// Propose commits op in shard sh. A deterministic rejection comes back as *fsm.ApplyError (see Code).
// reqID, if not zero, makes a retry of the same logical request the same command.
func (s *Store) Propose(ctx context.Context, sh uint32, op account.Op, reqID fsm.RequestID) ([]byte, error) {
	res, err := s.c.Propose(ctx, sh, fsm.Command{Type: account.TypeV1, RequestID: reqID,
		Time: s.clock().UnixMilli(), Payload: account.Payload(op)})
	if err != nil {
		return nil, fmt.Errorf("account: propose %T: %w", op, err)
	}
	if res.Err != nil {
		return nil, res.Err
	}
	return res.Value, nil
}

// Query runs account query q in shard sh.
func (s *Store) Query(ctx context.Context, sh uint32, q uint16, payload []byte) ([]byte, error) {
	out, err := s.c.Query(ctx, sh, node.QueryType(q), payload)
	if err != nil {
		return nil, fmt.Errorf("account: query %d on shard %d: %w", q, sh, err)
	}
	return out, nil
}

// Code is the ApplyError code of err ("" if none).
func Code(err error) string {
	var ae *fsm.ApplyError
	if errors.As(err, &ae) {
		return ae.Code
	}
	return ""
}

// User reads one user record (linearizable); ok false if there is none.
func (s *Store) User(ctx context.Context, uid int64) (account.User, bool, error) {
	v, err := s.Query(ctx, s.UserShard(uid), account.QUsers, account.UsersQuery{IDs: []int64{uid}}.Encode())
	if err != nil {
		return account.User{}, false, err
	}
	view, err := account.DecodeUsersView(v)
	if err != nil || len(view.Users) == 0 {
		return account.User{}, false, err
	}
	return view.Users[0].User, true, nil
}

// PhoneUsers resolves phones (normalized) to user ids (0: none), one query per phone shard.
func (s *Store) PhoneUsers(ctx context.Context, phones []string) (map[string]int64, error) {
	by := map[uint32][]string{}
	for _, p := range phones {
		sh := account.PhoneShard(p, s.c.Shards())
		by[sh] = append(by[sh], p)
	}
	out := make(map[string]int64, len(phones))
	for sh, ps := range by {
		v, err := s.Query(ctx, sh, account.QPhones, account.EncodeStrings(ps))
		if err != nil {
			return nil, err
		}
		ids, err := account.DecodeIDs(v)
		if err != nil || len(ids) != len(ps) {
			return nil, fmt.Errorf("account: phones answer: %v", err)
		}
		for i, p := range ps {
			if ids[i] != 0 {
				out[p] = ids[i]
			}
		}
	}
	return out, nil
}

// NameUser resolves a username (any case) to its owner (0: none).
func (s *Store) NameUser(ctx context.Context, name string) (int64, error) {
	lower := toLower(name)
	v, err := s.Query(ctx, account.NameShard(lower, s.c.Shards()), account.QName, []byte(lower))
	if err != nil {
		return 0, err
	}
	return account.DecodeID(v)
}

// NameClaim reads a username's claim: its owner and the nonce of the owner's attempt (0, 0: free).
func (s *Store) NameClaim(ctx context.Context, name string) (uid, nonce int64, err error) {
	lower := toLower(name)
	v, err := s.Query(ctx, account.NameShard(lower, s.c.Shards()), account.QNameClaim, []byte(lower))
	if err != nil {
		return 0, 0, err
	}
	return account.DecodeNameClaim(v)
}

// Contacts lists a user's contacts.
func (s *Store) Contacts(ctx context.Context, owner int64) ([]account.Contact, error) {
	v, err := s.Query(ctx, s.UserShard(owner), account.QContacts, account.EncodeID(owner))
	if err != nil {
		return nil, err
	}
	return account.DecodeContacts(v)
}

// Auths lists a user's authorizations.
func (s *Store) Auths(ctx context.Context, uid int64) ([]account.Auth, error) {
	v, err := s.Query(ctx, s.UserShard(uid), account.QAuths, account.EncodeID(uid))
	if err != nil {
		return nil, err
	}
	return account.DecodeAuths(v)
}

// Watchers lists the users who have uid as a contact (best effort reverse index).
func (s *Store) Watchers(ctx context.Context, uid int64) ([]int64, error) {
	v, err := s.Query(ctx, s.UserShard(uid), account.QRev, account.EncodeID(uid))
	if err != nil {
		return nil, err
	}
	return account.DecodeIDs(v)
}

var zeroID fsm.RequestID

// RequestID derives the request id of the i-th command of a client call from its key and msg_id, so that the
// gateway's re-delivery of the same call maps to the same commands (fsm dedup).
func RequestID(c *handler.Call, i uint32) fsm.RequestID {
	h := sha256.New()
	var b [20]byte
	binary.BigEndian.PutUint64(b[:], uint64(c.PermKeyID))
	binary.BigEndian.PutUint64(b[8:], uint64(c.MsgID))
	binary.BigEndian.PutUint32(b[16:], i)
	h.Write([]byte("raftgram account request v1"))
	h.Write(b[:])
	var id fsm.RequestID
	copy(id[:], h.Sum(nil))
	return id
}

func requestID(c *handler.Call) fsm.RequestID { return RequestID(c, 0) }
