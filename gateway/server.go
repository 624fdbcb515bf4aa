package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/raftgram/raftgram/gateway/crypto"
	"github.com/raftgram/raftgram/gateway/edge"
	"github.com/raftgram/raftgram/gateway/handshake"
	"github.com/raftgram/raftgram/gateway/session"
	"github.com/raftgram/raftgram/tl"
	"github.com/raftgram/raftgram/tl/api"
	"github.com/raftgram/raftgram/tl/mt"
)

// Transport error codes sent to clients.
const (
	transportKeyNotFound = -404
	transportFlood       = -429
)

// Server is a running gateway.
type Server struct {
	opts    Options
	log     *slog.Logger
	backend Backend
	store   AuthKeyStore
	edge    *edge.Server
	hs      *handshake.Server
	sess    *session.Manager
	salts   *crypto.Salts
	plainID *session.MsgIDGen

	queue    chan *connState // connections with encrypted traffic
	hsQueue  chan *connState // connections whose next frame is unencrypted (key exchange)
	inflight chan struct{}
	metrics  Metrics
	inboxAll atomic.Int64 // unprocessed bytes over all connections

	mu    sync.Mutex
	conns map[uint64]*connState
	keys  map[int64]*session.Key
	users map[int64]map[int64]struct{} // user id -> auth key ids
	temps map[int64]map[int64]struct{} // permanent key id -> temporary key ids bound to it

	wg     sync.WaitGroup
	cancel context.CancelFunc
	ctx    context.Context
}

// New returns a gateway; nothing runs until Start or Run.
func New(opts Options, backend Backend, store AuthKeyStore, log *slog.Logger) (*Server, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	if backend == nil || store == nil {
		return nil, errors.New("gateway: a Backend and an AuthKeyStore are required")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	salts, err := crypto.NewSalts(opts.SaltSecret, opts.SaltWindow, 0)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	s := &Server{
		opts:     opts,
		log:      log,
		backend:  backend,
		store:    store,
		salts:    salts,
		plainID:  session.NewMsgIDGen(opts.Now),
		queue:    make(chan *connState, opts.QueueSize),
		hsQueue:  make(chan *connState, opts.QueueSize),
		inflight: make(chan struct{}, opts.MaxInflight),
		conns:    make(map[uint64]*connState),
		keys:     make(map[int64]*session.Key),
		users:    make(map[int64]map[int64]struct{}),
		temps:    make(map[int64]map[int64]struct{}),
	}
	s.hs, err = handshake.NewServer(handshake.Options{
		Key: opts.ServerKey, Store: store, Rand: opts.Rand, Now: opts.Now, ExponentBits: opts.ExponentBits,
		PQPrimeBits: opts.PQPrimeBits,
		Log:         log.With("part", "handshake"),
	})
	if err != nil {
		return nil, err
	}
	s.sess, err = session.NewManager(session.Options{
		Salts: salts, Now: opts.Now, Rand: opts.Rand, Log: log.With("part", "session"),
		GzipMin: opts.GzipMin, IdleTTL: opts.SessionTTL, RequireInit: opts.RequireInit,
		StrictSeqNo: opts.StrictSeqNo,
	}, s)
	if err != nil {
		return nil, err
	}
	s.edge = edge.New(opts.Edge, s, log.With("part", "edge"))
	return s, nil
}

// Start binds the listener and starts the workers, the edge and the janitor.
func (s *Server) Start() error {
	s.ctx, s.cancel = context.WithCancel(context.Background())
	for range s.opts.Workers {
		s.wg.Add(1)
		go s.worker(s.queue)
	}
	for range s.opts.HSWorkers {
		s.wg.Add(1)
		go s.worker(s.hsQueue)
	}
	s.wg.Add(1)
	go s.janitor()
	if err := s.edge.Start(); err != nil {
		s.cancel()
		s.wg.Wait()
		return fmt.Errorf("gateway: start edge: %w", err)
	}
	return nil
}

// Run starts the server and blocks until ctx ends, then closes it.
func (s *Server) Run(ctx context.Context) error {
	if err := s.Start(); err != nil {
		return err
	}
	<-ctx.Done()
	cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return s.Close(cctx)
}

// Close stops the edge (closing every connection) and the workers.
func (s *Server) Close(ctx context.Context) error {
	err := s.edge.Close(ctx)
	s.cancel()
	s.wg.Wait()
	return err
}

// Addr is the bound listener address.
func (s *Server) Addr() net.Addr { return s.edge.Addr() }

// Edge exposes the edge (for its metrics).
func (s *Server) Edge() *edge.Server { return s.edge }

// Sessions exposes the session manager (for tests and metrics).
func (s *Server) Sessions() *session.Manager { return s.sess }

// Fingerprint is the RSA key fingerprint advertised to clients.
func (s *Server) Fingerprint() int64 { return s.opts.ServerKey.Fingerprint }

func (s *Server) janitor() {
	defer s.wg.Done()
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			s.sess.Sweep(s.opts.Now())
			s.sweepKeys()
		}
	}
}

// OnOpen implements edge.Handler.
func (s *Server) OnOpen(c edge.Conn) {
	s.mu.Lock()
	s.conns[c.ID()] = &connState{c: c}
	s.mu.Unlock()
}

// OnClose implements edge.Handler.
func (s *Server) OnClose(c edge.Conn, _ error) {
	s.mu.Lock()
	cs := s.conns[c.ID()]
	delete(s.conns, c.ID())
	s.mu.Unlock()
	if cs != nil {
		s.inboxAll.Add(-int64(cs.close()))
		s.sess.Detach(cs)
	}
}

// OnFrame implements edge.Handler: copy the frame and hand the connection to a worker; never block.
func (s *Server) OnFrame(c edge.Conn, data []byte, quickAck bool) {
	s.mu.Lock()
	cs := s.conns[c.ID()]
	s.mu.Unlock()
	if cs == nil {
		return
	}
	if s.inboxAll.Load()+int64(len(data)) > s.opts.MaxInboxAll {
		s.metrics.Overloaded.Add(1)
		_ = c.SendTransportError(transportFlood)
		c.Close("gateway inbox full")
		return
	}
	schedule, ok := cs.push(frame{data: append([]byte(nil), data...), quickAck: quickAck}, s.opts.MaxInbox, &s.inboxAll)
	if !ok {
		s.metrics.InboxOverflow.Add(1)
		c.Close("inbox limit exceeded")
		return
	}
	if !schedule {
		return
	}
	q := s.queue
	if id, ok := crypto.EnvelopeKeyID(data); ok && id == 0 {
		q = s.hsQueue
	}
	select {
	case q <- cs:
	default:
		s.metrics.Overloaded.Add(1)
		_ = c.SendTransportError(transportFlood)
		c.Close("gateway overloaded")
	}
}

func (s *Server) worker(queue chan *connState) {
	defer s.wg.Done()
	for {
		select {
		case <-s.ctx.Done():
			return
		case cs := <-queue:
			for {
				f, ok := cs.pop()
				if !ok {
					break
				}
				s.inboxAll.Add(-int64(len(f.data)))
				s.process(cs, f)
			}
		}
	}
}

// process handles one frame of a connection; frames of one connection never run concurrently.
func (s *Server) process(cs *connState, f frame) {
	id, ok := crypto.EnvelopeKeyID(f.data)
	if !ok {
		cs.c.Close("frame shorter than auth_key_id")
		return
	}
	if id == 0 {
		s.plain(cs, f.data)
		return
	}
	key, err := s.key(id)
	if err != nil {
		s.log.Warn("auth key lookup failed", "err", err)
		cs.c.Close("auth key lookup failed")
		return
	}
	if key != nil && !key.Expires.IsZero() && !s.opts.Now().Before(key.Expires) {
		s.forgetKey(id)
		key = nil
	}
	if key == nil {
		s.metrics.UnknownKey.Add(1)
		_ = cs.c.SendTransportError(transportKeyNotFound)
		cs.c.Close("unknown or expired auth key")
		return
	}
	data := f.data
	// Padded intermediate may leave up to 15 transport padding bytes after the encrypted message.
	if n := len(data) - crypto.EnvelopeHeader; n > 0 {
		data = data[:crypto.EnvelopeHeader+n/16*16]
	}
	msg, token, err := crypto.DecryptMessage(&key.Auth, crypto.ClientToServer, data)
	if err != nil {
		// Not -404: that would make the client drop a valid key because of one corrupt or forged frame.
		s.metrics.Undecryptable.Add(1)
		s.log.Debug("undecryptable frame", "conn", cs.c.ID(), "err", err)
		cs.c.Close("undecryptable message")
		return
	}
	if f.quickAck {
		_ = cs.c.SendQuickAck(token)
	}
	cs.c.SetAuthenticated()
	s.sess.Handle(cs, key, msg)
}

func (s *Server) plain(cs *connState, data []byte) {
	msgID, body, err := handshake.ParsePlain(data)
	if err != nil {
		cs.c.Close("malformed unencrypted message")
		return
	}
	_ = msgID
	if cs.ex == nil {
		cs.ex = s.hs.NewExchange()
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.opts.CallTimeout)
	defer cancel()
	ans, res, err := cs.ex.Handle(ctx, body)
	if err != nil {
		s.metrics.ExchangesFailed.Add(1)
		s.log.Debug("key exchange failed", "conn", cs.c.ID(), "err", err)
		cs.c.Close("key exchange failed")
		return
	}
	if res != nil {
		s.metrics.KeysCreated.Add(1)
		cs.ex = nil
		s.cacheKey(res.Key)
	}
	if ans == nil {
		return
	}
	b, err := tl.Marshal(ans)
	if err != nil {
		s.log.Error("encode handshake answer", "err", err)
		cs.c.Close("internal error")
		return
	}
	_ = cs.c.Send(handshake.AppendPlain(nil, s.plainID.Next(true), b))
}

// key returns the in-memory state of an auth key, loading it from the store on first use; nil if unknown
// or expired.
func (s *Server) key(id int64) (*session.Key, error) {
	s.mu.Lock()
	k := s.keys[id]
	s.mu.Unlock()
	if k != nil {
		return k, nil
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.opts.CallTimeout)
	defer cancel()
	ak, found, err := s.store.Get(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("gateway: get auth key: %w", err)
	}
	if !found || ak.Expired(s.opts.Now()) {
		return nil, nil
	}
	return s.cacheKey(ak), nil
}

func (s *Server) cacheKey(ak AuthKey) *session.Key {
	k := session.NewKey(crypto.NewAuthKey(ak.Key))
	k.Temp, k.Expires = ak.Temp, ak.ExpiresAt
	k.SetPermID(ak.PermID)
	k.SetUserID(ak.UserID)
	s.mu.Lock()
	if old := s.keys[ak.ID]; old != nil {
		s.mu.Unlock()
		return old
	}
	s.keys[ak.ID] = k
	if ak.PermID != 0 {
		s.addTempLocked(ak.PermID, ak.ID)
	}
	var wait func()
	if ak.UserID != 0 {
		wait = s.bindLocked(ak.ID, ak.UserID)
	}
	s.mu.Unlock()
	if wait != nil {
		wait()
	}
	return k
}

// CloseConnections closes every client connection (e.g. to drain a node); clients reconnect and keep their
// keys and sessions. It returns how many connections were closed.
func (s *Server) CloseConnections(reason string) int {
	s.mu.Lock()
	conns := make([]*connState, 0, len(s.conns))
	for _, cs := range s.conns {
		conns = append(conns, cs)
	}
	s.mu.Unlock()
	for _, cs := range conns {
		cs.c.Close(reason)
	}
	return len(conns)
}

// forgetKey drops a key from the in-memory cache (the store stays the source of truth).
func (s *Server) forgetKey(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k := s.keys[id]; k != nil {
		if uid := k.UserID(); uid != 0 {
			s.unbindLocked(id, uid)
		}
		if pid := k.PermID(); pid != 0 {
			delete(s.temps[pid], id)
			if len(s.temps[pid]) == 0 {
				delete(s.temps, pid)
			}
		}
	}
	delete(s.keys, id)
}

// sweepKeys drops cached keys that no longer have a session (a permanent key stays while one of its temporary
// keys has one: pushes reach temporary keys through it); they are reloaded from the store on next use.
func (s *Server) sweepKeys() {
	s.mu.Lock()
	ids := make([]int64, 0, len(s.keys))
	temps := make(map[int64][]int64, len(s.temps))
	for id := range s.keys {
		ids = append(ids, id)
	}
	for perm, set := range s.temps {
		for t := range set {
			temps[perm] = append(temps[perm], t)
		}
	}
	s.mu.Unlock()
	for _, id := range ids {
		if len(s.sess.Sessions(id)) > 0 {
			continue
		}
		if slices.ContainsFunc(temps[id], func(t int64) bool { return len(s.sess.Sessions(t)) > 0 }) {
			continue
		}
		s.forgetKey(id)
	}
}

// BindUser records that an auth key is signed in as userID (0 signs it out): its sessions receive the user's
// pushes and its calls carry the user id. This is in-memory state of this node: the backend also persists
// the binding (AuthKey.UserID in its AuthKeyStore) so that a key loaded again, here or on another node,
// comes back signed in.
//
// Only a key cached here (it has or had a session on this node) is bound: a key loaded later comes with its
// stored user, and binding keys that never come here would announce presence this node does not have.
func (s *Server) BindUser(authKeyID, userID int64) {
	s.mu.Lock()
	var wait func()
	if k := s.keys[authKeyID]; k != nil {
		if old := k.UserID(); old != 0 {
			s.unbindLocked(authKeyID, old)
		}
		k.SetUserID(userID)
		if userID != 0 {
			wait = s.bindLocked(authKeyID, userID)
		}
	}
	s.mu.Unlock()
	if wait != nil {
		wait()
	}
}

func (s *Server) addTempLocked(perm, temp int64) {
	set := s.temps[perm]
	if set == nil {
		set = make(map[int64]struct{})
		s.temps[perm] = set
	}
	set[temp] = struct{}{}
}

// bindLocked adds a key to the user's set; the user's first key here is announced (Options.Presence) and
// the returned wait, if any, must be called after s.mu is released.
func (s *Server) bindLocked(authKeyID, userID int64) (wait func()) {
	set := s.users[userID]
	if set == nil {
		set = make(map[int64]struct{})
		s.users[userID] = set
		if s.opts.Presence != nil {
			wait = s.opts.Presence(userID, true)
		}
	}
	set[authKeyID] = struct{}{}
	return wait
}

// unbindLocked removes a key from the user's set; the user's last key here is announced as gone.
func (s *Server) unbindLocked(authKeyID, userID int64) {
	set := s.users[userID]
	if set == nil {
		return
	}
	delete(set, authKeyID)
	if len(set) == 0 {
		delete(s.users, userID)
		if s.opts.Presence != nil {
			s.opts.Presence(userID, false)
		}
	}
}

// Push sends updates to every live session of the user (sessions without a connection keep it until one
// binds, within their limits). It returns an error only if the updates cannot be encoded.
func (s *Server) Push(userID int64, updates tl.Object) error {
	return s.PushExcept(userID, 0, updates)
}

// PushExcept is Push to every session of the user but the one with id exceptSession (0: none): the session
// that made a change gets it in its call's result, as Telegram does.
func (s *Server) PushExcept(userID, exceptSession int64, updates tl.Object) error {
	if _, err := tl.Marshal(updates); err != nil {
		return fmt.Errorf("gateway: push: %w", err)
	}
	s.metrics.Pushes.Add(1)
	s.mu.Lock()
	keys := make([]int64, 0, len(s.users[userID]))
	for id := range s.users[userID] {
		keys = append(keys, id)
		for temp := range s.temps[id] {
			keys = append(keys, temp)
		}
	}
	s.mu.Unlock()
	for _, id := range keys {
		for _, sess := range s.sess.Sessions(id) {
			if exceptSession == 0 || sess.ID() != exceptSession {
				sess.Push(updates)
			}
		}
	}
	return nil
}

// Dispatch implements session.Dispatcher: every call runs in its own goroutine, bounded by MaxInflight.
func (s *Server) Dispatch(sess *session.Session, r session.Request) {
	go s.invoke(sess, r)
}

func (s *Server) invoke(sess *session.Session, r session.Request) {
	select {
	case s.inflight <- struct{}{}:
	default:
		s.metrics.Busy.Add(1)
		sess.Reply(r.MsgID, nil, &RPCError{Code: 500, Message: "WORKER_BUSY_TOO_LONG_RETRY"})
		return
	}
	defer func() { <-s.inflight }()
	ctx, cancel := context.WithTimeout(s.ctx, s.opts.CallTimeout)
	defer cancel()
	if err := r.Wait(ctx); err != nil {
		sess.Reply(r.MsgID, nil, &RPCError{Code: 500, Message: "TIMEOUT"})
		return
	}
	key := sess.Key()
	call := Call{
		AuthKeyID: key.Auth.ID, PermKeyID: key.Auth.ID, SessionID: sess.ID(), MsgID: r.MsgID,
		UserID: key.UserID(), Layer: r.Layer, Init: sess.Init(), Request: r.Query, NoUpdates: r.WithoutUpdates,
	}
	if pid := key.PermID(); pid != 0 {
		// The user is the permanent key's; load it if only the temporary key is cached here (e.g. the client
		// bound its temporary key through another node).
		call.PermKeyID = pid
		call.UserID = 0
		if pk, err := s.key(pid); err != nil {
			s.log.Warn("load permanent key of a temporary key", "perm", pid, "err", err)
		} else if pk != nil {
			call.UserID = pk.UserID()
		}
	}
	var (
		res tl.Object
		err error
	)
	if bind, ok := r.Query.(*api.AuthBindTempAuthKeyRequest); ok {
		res, err = s.bindTempKey(ctx, sess, r.MsgID, bind)
	} else {
		s.metrics.Calls.Add(1)
		res, err = s.safeInvoke(ctx, call)
	}
	if err != nil {
		s.metrics.CallErrors.Add(1)
	}
	switch {
	case errors.Is(err, ErrNotImplemented) || (err == nil && res == nil):
		err = &RPCError{Code: 400, Message: "METHOD_NOT_IMPLEMENTED"}
		res = nil
	case err != nil:
		var re *RPCError
		if !errors.As(err, &re) {
			s.log.Warn("backend error", "method", tl.Name(r.Query), "err", err)
		}
	}
	sess.Reply(r.MsgID, res, err)
}

// safeInvoke keeps a panicking backend from taking the gateway down; the client gets 500 INTERNAL.
func (s *Server) safeInvoke(ctx context.Context, call Call) (res tl.Object, err error) {
	defer func() {
		if p := recover(); p != nil {
			s.metrics.BackendPanics.Add(1)
			s.log.Error("backend panic", "method", tl.Name(call.Request), "panic", p)
			res, err = nil, &RPCError{Code: 500, Message: "INTERNAL"}
		}
	}()
	return s.backend.Invoke(ctx, call)
}

// bindTempKey handles auth.bindTempAuthKey itself: it needs the keys and the crypto, which the backend
// does not have.
func (s *Server) bindTempKey(ctx context.Context, sess *session.Session, msgID int64, req *api.AuthBindTempAuthKeyRequest) (tl.Object, error) {
	invalid := &RPCError{Code: 400, Message: "ENCRYPTED_MESSAGE_INVALID"}
	temp := sess.Key()
	if !temp.Temp {
		return nil, &RPCError{Code: 400, Message: "TEMP_AUTH_KEY_EMPTY"}
	}
	perm, err := s.key(req.PermAuthKeyID)
	if err != nil {
		return nil, err
	}
	if perm == nil || perm.Temp {
		return nil, invalid
	}
	m, err := crypto.DecryptBindMessage(&perm.Auth, req.EncryptedMessage)
	if err != nil || m.MsgID != msgID {
		return nil, invalid
	}
	obj, err := tl.DecodeObject(m.Body, bindRegistry)
	inner, ok := obj.(*mt.BindAuthKeyInner)
	if err != nil || !ok || inner.Nonce != req.Nonce || inner.TempAuthKeyID != temp.Auth.ID ||
		inner.PermAuthKeyID != perm.Auth.ID || inner.TempSessionID != sess.ID() || inner.ExpiresAt != req.ExpiresAt {
		return nil, invalid
	}
	if err := s.store.Bind(ctx, temp.Auth.ID, perm.Auth.ID); err != nil {
		return nil, fmt.Errorf("gateway: bind temporary key: %w", err)
	}
	temp.SetPermID(perm.Auth.ID)
	s.metrics.TempKeysBound.Add(1)
	s.mu.Lock()
	s.addTempLocked(perm.Auth.ID, temp.Auth.ID)
	s.mu.Unlock()
	return &api.BoolTrue{}, nil
}

var bindRegistry = tl.NewRegistry(mt.New)
