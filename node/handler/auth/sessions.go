package auth

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/raftgram/raftgram/fsm/account"
	"github.com/raftgram/raftgram/gateway/session"
	"github.com/raftgram/raftgram/node"
	"github.com/raftgram/raftgram/node/authkeys"
	"github.com/raftgram/raftgram/node/handler"
	"github.com/raftgram/raftgram/node/handler/users"
)

// Sessions implements handler.Sessions: the signed-in user of a permanent key in Raft (authkeys), the user's
// list of authorizations (account state), and every node's gateway told at once.
//
// Order (fsm/account/DESIGN.md "Authorizations"): sign-in writes the authorization, then binds the key, then
// tells the gateways; sign-out unbinds the key, tells the gateways, then drops the authorization. A cut leaves
// at worst a listed authorization whose key is not signed in, never a signed-in key that cannot be revoked.
type Sessions struct {
	n     *node.Node
	keys  *authkeys.Store
	store *users.Store
	svc   *handler.Services
	log   *slog.Logger
	rand  io.Reader

	wg sync.WaitGroup // late re-broadcasts
}

var _ handler.Sessions = (*Sessions)(nil)

// SignIn implements handler.Sessions (no device information).
func (s *Sessions) SignIn(ctx context.Context, permKeyID, userID int64) error {
	return s.signIn(ctx, permKeyID, userID, nil)
}

func (s *Sessions) randInt63() (int64, error) { return handler.RandomID(s.rand) }

func (s *Sessions) signIn(ctx context.Context, perm, uid int64, init *session.InitInfo) error {
	hash, err := s.randInt63()
	if err != nil {
		return err
	}
	a := account.Auth{PermKey: perm, Hash: hash}
	if init != nil {
		a.APIID, a.DeviceModel, a.SystemVersion = init.APIID, clip(init.DeviceModel), clip(init.SystemVersion)
		a.AppVersion, a.LangCode, a.Platform = clip(init.AppVersion), clip(init.LangCode), clip(init.LangPack)
	}
	if _, err := s.store.Propose(ctx, s.store.UserShard(uid), account.AddAuth{UserID: uid, Auth: a},
		fsmZero); err != nil {
		return fmt.Errorf("sessions: record authorization: %w", err)
	}
	if err := s.keys.SetUser(ctx, perm, uid); err != nil {
		return fmt.Errorf("sessions: sign in: %w", err)
	}
	s.broadcast(ctx, perm, uid)
	return nil
}

func clip(s string) string {
	if len(s) > 128 {
		return s[:128]
	}
	return s
}

// SignOut implements handler.Sessions.
func (s *Sessions) SignOut(ctx context.Context, permKeyID int64) error {
	k, found, err := s.keys.Get(ctx, permKeyID)
	if err != nil {
		return fmt.Errorf("sessions: sign out: %w", err)
	}
	if !found {
		return nil
	}
	return s.revoke(ctx, k.UserID, permKeyID)
}

// revoke signs key perm out of user uid (if it is still signed in as uid) and drops uid's authorization.
func (s *Sessions) revoke(ctx context.Context, uid, perm int64) error {
	k, found, err := s.keys.Get(ctx, perm)
	if err != nil {
		return fmt.Errorf("sessions: revoke: %w", err)
	}
	if found && k.UserID != 0 && (k.UserID == uid || uid == 0) {
		if err := s.keys.SetUser(ctx, perm, 0); err != nil {
			return fmt.Errorf("sessions: revoke: %w", err)
		}
		s.broadcast(ctx, perm, 0)
		// A gateway that was loading the key from the store while the first broadcast passed could cache the
		// old binding; a second broadcast a moment later closes that window.
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			time.Sleep(time.Second)
			bctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			s.broadcast(bctx, perm, 0)
		}()
	}
	if uid != 0 {
		if _, err := s.store.Propose(ctx, s.store.UserShard(uid), account.DelAuth{UserID: uid, PermKey: perm},
			fsmZero); err != nil {
			return fmt.Errorf("sessions: drop authorization: %w", err)
		}
	}
	return nil
}

// broadcast tells every node's gateway that perm is signed in as uid (0: signed out). A node that cannot be
// reached is logged: its gateway loads keys from the replicated state when it (re)starts, but a live node that
// missed the call keeps its cached binding until the key's sessions end (the report lists this).
func (s *Sessions) broadcast(ctx context.Context, perm, uid int64) {
	body := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, uint64(perm)), uint64(uid))
	// Bounded: a partitioned peer must not hold the client's call until its deadline.
	ctx, cancel := context.WithTimeout(ctx, broadcastTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, p := range s.n.Peers() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			for attempt := 0; attempt < 3; attempt++ {
				if _, err = s.n.CallRPC(ctx, p.Addr, RPCBindUser, body); err == nil {
					return
				}
				if ctx.Err() != nil {
					break
				}
				time.Sleep(time.Duration(100*(attempt+1)) * time.Millisecond)
			}
			s.log.Warn("tell a gateway about a key's user", "node", p.ID, "key", perm, "user", uid, "err", err)
		}()
	}
	wg.Wait()
}

const broadcastTimeout = 3 * time.Second

var errBindBody = errors.New("sessions: malformed bind request")

// handleBind is RPCBindUser: bind the key on this node's gateway, if there is one.
func (s *Sessions) handleBind(_ context.Context, body []byte) ([]byte, error) {
	if len(body) != 16 {
		return nil, errBindBody
	}
	perm := int64(binary.BigEndian.Uint64(body))
	uid := int64(binary.BigEndian.Uint64(body[8:]))
	if s.svc.Edge != nil {
		if e := s.svc.Edge(); e != nil {
			e.BindUser(perm, uid)
		}
	}
	return nil, nil
}
