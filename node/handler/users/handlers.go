package users

import (
	"context"

	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/raftgram/raftgram/fsm/account"
	"github.com/raftgram/raftgram/node/access"
	"github.com/raftgram/raftgram/node/handler"
	"github.com/raftgram/raftgram/tl"
	"github.com/raftgram/raftgram/tl/api"
)

// Handlers serve users.*, contacts.* and the profile part of account.*.
type Handlers struct {
	store  *Store
	dir    *Directory
	access access.Hasher
	svc    *handler.Services
	log    *slog.Logger
	rand   io.Reader

	wg sync.WaitGroup // background pushes
}

// NewHandlers returns the handlers; svc is read at call time (Pusher).
func NewHandlers(s *Store, dir *Directory, h access.Hasher, svc *handler.Services, log *slog.Logger,
	rand io.Reader) *Handlers {
	return &Handlers{store: s, dir: dir, access: h, svc: svc, log: log, rand: rand}
}

// Register adds the handlers to r.
func (h *Handlers) Register(r *handler.Router) {
	handler.Handle(r, h.getUsers)
	handler.Handle(r, h.getFullUser)
	handler.Handle(r, h.updateProfile)
	handler.Handle(r, h.checkUsername)
	handler.Handle(r, h.updateUsername)
	handler.Handle(r, h.updateStatus)
	handler.Handle(r, h.resolveUsername)
	handler.Handle(r, h.resolvePhone)
	handler.Handle(r, h.importContacts)
	handler.Handle(r, h.deleteContacts)
	handler.Handle(r, h.addContact)
	handler.Handle(r, h.getContacts)
	handler.Handle(r, h.getStatuses)
	handler.Handle(r, h.search)
	handler.Handle(r, h.block)
	handler.Handle(r, h.unblock)
	handler.Handle(r, h.getBlocked)
	handler.Handle(r, h.getPeerSettings)
	handler.Handle(r, h.getUserPhotos)
}

// Close waits for background pushes.
func (h *Handlers) Close() { h.wg.Wait() }

// nonce is a random non-zero int64 (username attempts).
func (h *Handlers) nonce() (int64, error) { return handler.RandomID(h.rand) }

func (h *Handlers) date() int32 { return int32(h.store.Now().Unix()) }

// self is the caller's user, as themselves.
func (h *Handlers) self(ctx context.Context, uid int64) (*api.User, error) {
	us, err := h.dir.Users(ctx, uid, []int64{uid})
	if err != nil {
		return nil, err
	}
	if len(us) == 0 {
		return nil, handler.ErrUnregistered // the user record is gone: the key is not usable
	}
	return us[0].(*api.User), nil
}

// pushLater delivers u to users in the background (best effort; bounded by a timeout).
func (h *Handlers) pushLater(users []int64, exceptSession int64, self int64, u api.UpdatesClass) {
	p := h.svc.Pusher
	if p == nil || len(users) == 0 {
		return
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, uid := range users {
			ex := int64(0)
			if uid == self {
				ex = exceptSession
			}
			p.Push(ctx, uid, ex, u)
		}
	}()
}

// pushToWatchers pushes u to the users who have uid as a contact and, if selfToo, to uid's other sessions.
func (h *Handlers) pushToWatchers(ctx context.Context, c *handler.Call, u api.UpdatesClass, selfToo bool) {
	ws, err := h.store.Watchers(ctx, c.UserID)
	if err != nil {
		h.log.Warn("watchers of user", "user", c.UserID, "err", err)
	}
	if selfToo {
		ws = append(ws, c.UserID)
	}
	h.pushLater(ws, c.SessionID, c.UserID, u)
}

func (h *Handlers) getUsers(ctx context.Context, c *handler.Call, req *api.UsersGetUsersRequest) (tl.Object, error) {
	if len(req.ID) > 200 {
		return nil, handler.ErrLimitInvalid
	}
	ids := make([]int64, 0, len(req.ID))
	for _, in := range req.ID {
		// Inputs with a wrong access hash are left out, as Telegram does.
		if id, err := h.access.InputUser(c.UserID, in); err == nil {
			ids = append(ids, id)
		}
	}
	us, err := h.dir.Users(ctx, c.UserID, ids)
	if err != nil {
		return nil, err
	}
	return &api.UserClassVector{Elems: us}, nil
}

func (h *Handlers) getFullUser(ctx context.Context, c *handler.Call, req *api.UsersGetFullUserRequest) (tl.Object, error) {
	id, err := h.access.InputUser(c.UserID, req.ID)
	if err != nil {
		return nil, err
	}
	full := &api.UserFull{ID: id, Settings: &api.PeerSettings{}, NotifySettings: &api.PeerNotifySettings{}}
	if id == account.ServiceUserID {
		return &api.UsersUserFull{FullUser: full, Chats: []api.ChatClass{},
			Users: []api.UserClass{ServiceUser(h.access, c.UserID)}}, nil
	}
	e, err := h.lookupOne(ctx, c.UserID, id, handler.ErrUserInvalid)
	if err != nil {
		return nil, err
	}
	if e.User.About != "" {
		full.About = ptr(e.User.About)
	}
	full.Blocked = e.Rel.Blocked
	full.Settings = peerSettings(c.UserID, e)
	return &api.UsersUserFull{FullUser: full, Chats: []api.ChatClass{},
		Users: []api.UserClass{h.dir.APIUser(c.UserID, e, h.store.Now())}}, nil
}

func (h *Handlers) updateProfile(ctx context.Context, c *handler.Call, req *api.AccountUpdateProfileRequest) (tl.Object, error) {
	if req.FirstName != nil && (*req.FirstName == "" || !ValidName(*req.FirstName)) {
		return nil, handler.BadRequest("FIRSTNAME_INVALID")
	}
	if req.LastName != nil && !ValidName(*req.LastName) {
		return nil, handler.BadRequest("LASTNAME_INVALID")
	}
	if req.About != nil && len([]rune(*req.About)) > 70 {
		return nil, handler.BadRequest("ABOUT_TOO_LONG")
	}
	if _, err := h.store.Propose(ctx, h.store.UserShard(c.UserID), account.UpdateProfile{UserID: c.UserID,
		FirstName: req.FirstName, LastName: req.LastName, About: req.About}, requestID(c)); err != nil {
		return nil, h.mapErr(err)
	}
	me, err := h.self(ctx, c.UserID)
	if err != nil {
		return nil, err
	}
	if req.FirstName != nil || req.LastName != nil {
		h.pushToWatchers(ctx, c, nameUpdate(me, h.date()), true)
	}
	return me, nil
}

func nameUpdate(u *api.User, date int32) api.UpdatesClass {
	up := &api.UpdateUserName{UserID: u.ID, Usernames: []*api.Username{}}
	if u.FirstName != nil {
		up.FirstName = *u.FirstName
	}
	if u.LastName != nil {
		up.LastName = *u.LastName
	}
	if u.Username != nil {
		up.Usernames = append(up.Usernames, &api.Username{Editable: true, Active: true, Username: *u.Username})
	}
	return &api.UpdateShort{Update: up, Date: date}
}

func (h *Handlers) checkUsername(ctx context.Context, c *handler.Call, req *api.AccountCheckUsernameRequest) (tl.Object, error) {
	if !ValidUsername(req.Username) {
		return nil, handler.BadRequest("USERNAME_INVALID")
	}
	owner, err := h.store.NameUser(ctx, req.Username)
	if err != nil {
		return nil, err
	}
	return api.BoolOf(owner == 0 || owner == c.UserID), nil
}

func (h *Handlers) updateUsername(ctx context.Context, c *handler.Call, req *api.AccountUpdateUsernameRequest) (tl.Object, error) {
	name := req.Username
	if name != "" && !ValidUsername(name) {
		return nil, handler.BadRequest("USERNAME_INVALID")
	}
	cur, ok, err := h.store.User(ctx, c.UserID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, handler.ErrUnregistered
	}
	if cur.Username == name {
		return nil, handler.BadRequest("USERNAME_NOT_MODIFIED")
	}
	if err := h.setUsername(ctx, c.UserID, name); err != nil {
		return nil, err
	}
	me, err := h.self(ctx, c.UserID)
	if err != nil {
		return nil, err
	}
	h.pushToWatchers(ctx, c, nameUpdate(me, h.date()), true)
	return me, nil
}

// setUsername runs the username protocol of fsm/account/DESIGN.md: pending in the user's shard, free an
// abandoned attempt, claim in the name's shard, confirm in the user's shard, free the old name.
func (h *Handlers) setUsername(ctx context.Context, uid int64, name string) error {
	n := h.store.Shards()
	nonce, err := h.nonce()
	if err != nil {
		return err
	}
	us := h.store.UserShard(uid)
	v, err := h.store.Propose(ctx, us, account.NamePending{UserID: uid, Name: name, Nonce: nonce}, zeroID)
	if err != nil {
		return h.mapErr(err)
	}
	if prev, err := account.DecodeNameRef(v); err == nil && ValidUsername(prev.Name) {
		h.release(ctx, uid, prev)
	}
	if name != "" {
		lower := toLower(name)
		claim := func() error {
			_, err := h.store.Propose(ctx, account.NameShard(lower, n), account.NameClaim{Name: lower, UserID: uid,
				Nonce: nonce}, zeroID)
			return err
		}
		err := claim()
		if Code(err) == account.CodeUsernameOccupied {
			// The owner's attempt may have been cut before its confirmation: finish it or free it, then
			// claim again if it was freed.
			owner, ferr := h.settleClaim(ctx, lower)
			if ferr != nil {
				return h.mapErr(ferr)
			}
			if owner != 0 {
				return handler.ErrUsernameTaken
			}
			if err = claim(); Code(err) == account.CodeUsernameOccupied {
				return handler.ErrUsernameTaken
			}
		}
		if err != nil {
			return h.mapErr(err)
		}
	}
	v, err = h.store.Propose(ctx, us, account.NameSet{UserID: uid, Name: name, Nonce: nonce}, zeroID)
	if Code(err) == account.CodeNameRace {
		// Another attempt of the same user replaced this one (and frees its claim).
		return handler.FloodWait(1)
	}
	if err != nil {
		return h.mapErr(err)
	}
	if old, err := account.DecodeNameRef(v); err == nil && old.Name != "" {
		h.release(ctx, uid, old)
	}
	return nil
}

// settleClaim makes a username's claim final and returns its owner (0: the name is free). The claim in the name's
// shard is what decides ownership, from the moment NameClaim applied: an attempt cut between its claim and its
// confirmation (the node serving it died) is rolled forward here — its NameSet is applied on the owner's behalf,
// as if the owner's request had completed, which it may have been (it was never answered) — unless the owner
// has moved on to another attempt, in which case the claim is dead and is released. Never rolling back a live
// claim keeps concurrent claims of one name to exactly one winner, and readers (resolveUsername) that settle
// first see the same owner as claimers: the name's history stays linearizable.
func (h *Handlers) settleClaim(ctx context.Context, lower string) (int64, error) {
	owner, nonce, err := h.store.NameClaim(ctx, lower)
	if err != nil || owner == 0 {
		return 0, err
	}
	u, ok, err := h.store.User(ctx, owner)
	if err != nil {
		return 0, err
	}
	if ok && toLower(u.Username) == lower && u.NameNonce == nonce {
		return owner, nil // confirmed
	}
	// The user record holds the original spelling; the pending slot has it too, the claim only lower case.
	name := lower
	if ok && toLower(u.PendingName) == lower {
		name = u.PendingName
	}
	v, err := h.store.Propose(ctx, h.store.UserShard(owner), account.NameSet{UserID: owner, Name: name, Nonce: nonce}, zeroID)
	switch {
	case err == nil:
		if old, derr := account.DecodeNameRef(v); derr == nil && old.Name != "" {
			h.release(ctx, owner, old)
		}
		return owner, nil
	case Code(err) == account.CodeNameRace || Code(err) == account.CodeUserNotFound:
		// The attempt can never be confirmed: the owner started another one (or there is no such user).
		h.release(ctx, owner, account.NameRef{Name: lower, Nonce: nonce})
		return 0, nil
	default:
		return 0, err
	}
}

func (h *Handlers) release(ctx context.Context, uid int64, ref account.NameRef) {
	lower := toLower(ref.Name)
	if _, err := h.store.Propose(ctx, account.NameShard(lower, h.store.Shards()),
		account.NameRelease{Name: lower, UserID: uid, Nonce: ref.Nonce}, zeroID); err != nil {
		// Left claimed by uid; the user's next attempt does not see it again, so say so.
		h.log.Warn("release username", "user", uid, "name", ref.Name, "err", err)
	}
}

func (h *Handlers) updateStatus(ctx context.Context, c *handler.Call, req *api.AccountUpdateStatusRequest) (tl.Object, error) {
	now := h.store.Now()
	until := now.Add(5 * time.Minute).UnixMilli()
	if _, err := h.store.Propose(ctx, h.store.UserShard(c.UserID), account.SetStatus{UserID: c.UserID,
		Online: !req.Offline, Until: until}, zeroID); err != nil {
		return nil, h.mapErr(err)
	}
	var st api.UserStatusClass = &api.UserStatusOffline{WasOnline: int32(now.Unix())}
	if !req.Offline {
		st = &api.UserStatusOnline{Expires: int32(until / 1000)}
	}
	h.pushToWatchers(ctx, c, &api.UpdateShort{Update: &api.UpdateUserStatus{UserID: c.UserID, Status: st},
		Date: int32(now.Unix())}, false)
	return api.BoolOf(true), nil
}

// mapErr turns a deterministic rejection into an rpc_error (the one table of this package).
func (h *Handlers) mapErr(err error) error {
	switch Code(err) {
	case "":
		return err
	case account.CodeUserNotFound:
		return handler.ErrUnregistered
	case account.CodeUsernameOccupied:
		return handler.ErrUsernameTaken
	case account.CodeTooMany:
		return handler.BadRequest("LIMIT_REACHED")
	}
	return fmt.Errorf("users: %w", err)
}
