package session

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/raftgram/raftgram/gateway/crypto"
	"github.com/raftgram/raftgram/tl"
	"github.com/raftgram/raftgram/tl/api"
	"github.com/raftgram/raftgram/tl/mt"
)

// Dispatcher receives API requests. Dispatch is called with the session's lock held: it must not block and
// must not call the Session synchronously; it starts the work elsewhere and answers later with Session.Reply
// (exactly once per request).
type Dispatcher interface {
	Dispatch(s *Session, r Request)
}

// Options configure a Manager.
type Options struct {
	Salts       *crypto.Salts    // required
	Now         func() time.Time // default time.Now
	Rand        io.Reader        // default crypto/rand.Reader
	Log         *slog.Logger     // default discards
	Registry    *tl.Registry     // default mt + api (layer 227, plus legacy ids of equal layout)
	MaxUnacked  int              // unacknowledged server messages kept per session; default 256
	GzipMin     int              // rpc_result bodies above this many bytes go gzip_packed; default 1024
	IdleTTL     time.Duration    // sessions without a connection are dropped after this; default 15 min
	RequireInit bool             // answer CONNECTION_NOT_INITED to calls before invokeWithLayer on the key
	StrictSeqNo bool             // refuse content messages with an even seq_no (35); gotd sends some
}

func (o *Options) setDefaults() {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Registry == nil {
		o.Registry = tl.NewRegistry(mt.New, api.New).WithLegacy(api.IsLegacy)
	}
	if o.MaxUnacked <= 0 {
		o.MaxUnacked = 256
	}
	if o.GzipMin <= 0 {
		o.GzipMin = 1024
	}
	if o.IdleTTL <= 0 {
		o.IdleTTL = 15 * time.Minute
	}
}

// Key is the gateway's in-memory state of one auth key: the key itself and what the client told about it.
type Key struct {
	Auth    crypto.AuthKey
	Temp    bool
	Expires time.Time // zero for permanent keys
	perm    atomic.Int64
	user    atomic.Int64

	mu    sync.Mutex
	layer int
	init  *InitInfo
}

// NewKey wraps an auth key.
func NewKey(ak crypto.AuthKey) *Key { return &Key{Auth: ak} }

// PermID returns the permanent key a temporary key is bound to (auth.bindTempAuthKey), 0 if none.
func (k *Key) PermID() int64 { return k.perm.Load() }

// SetPermID records the binding of a temporary key.
func (k *Key) SetPermID(id int64) { k.perm.Store(id) }

// UserID returns the signed-in user of the key, 0 if none.
func (k *Key) UserID() int64 { return k.user.Load() }

// SetUserID records the signed-in user of the key.
func (k *Key) SetUserID(id int64) { k.user.Store(id) }

// Layer returns the last layer announced on any session of the key.
func (k *Key) Layer() int { return k.getLayer() }

func (k *Key) setLayer(l int) {
	k.mu.Lock()
	k.layer = l
	k.mu.Unlock()
}

func (k *Key) getLayer() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.layer
}

func (k *Key) setInit(i *InitInfo) {
	k.mu.Lock()
	k.init = i
	k.mu.Unlock()
}

// Metrics counts what the sessions of a Manager refused or noticed. Plain atomic counters: node/ exports them.
type Metrics struct {
	BadMsg      [128]atomic.Uint64 // bad_msg_notification sent, by error code
	BadSalt     atomic.Uint64      // bad_server_salt sent
	Duplicates  atomic.Uint64      // client messages seen twice (not processed again)
	Undecodable atomic.Uint64      // client messages whose body did not decode
	Calls       atomic.Uint64      // API calls dispatched
	Created     atomic.Uint64      // sessions created
	// Unprojectable counts results (answered rpc_error 500) and pushes (dropped) that could not be encoded
	// for the client's older layer.
	Unprojectable atomic.Uint64
}

type sessKey struct{ auth, id int64 }

// Manager owns every session of a gateway.
type Manager struct {
	opts     Options
	reg      *tl.Registry
	ids      *MsgIDGen
	dispatch Dispatcher
	metrics  Metrics

	mu       sync.Mutex
	sessions map[sessKey]*Session
	byAuth   map[int64][]*Session
	byConn   map[uint64][]*Session
}

// NewManager returns a Manager; d receives API requests.
func NewManager(opts Options, d Dispatcher) (*Manager, error) {
	if opts.Salts == nil || d == nil {
		return nil, errors.New("session: Options.Salts and a Dispatcher are required")
	}
	opts.setDefaults()
	return &Manager{
		opts:     opts,
		reg:      opts.Registry,
		ids:      NewMsgIDGen(opts.Now),
		dispatch: d,
		sessions: make(map[sessKey]*Session),
		byAuth:   make(map[int64][]*Session),
		byConn:   make(map[uint64][]*Session),
	}, nil
}

// Handle processes one decrypted client message received on c for key k.
func (m *Manager) Handle(c Conn, k *Key, msg crypto.Message) {
	s := m.get(c, k, msg.SessionID)
	s.handle(c, msg)
}

func (m *Manager) get(c Conn, k *Key, id int64) *Session {
	sk := sessKey{k.Auth.ID, id}
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.sessions[sk]
	if !ok {
		var b [8]byte
		_, _ = io.ReadFull(m.opts.Rand, b[:])
		s = &Session{m: m, key: k, id: id, uniqueID: int64(binary.LittleEndian.Uint64(b[:])), lastSeen: m.opts.Now()}
		m.sessions[sk] = s
		m.metrics.Created.Add(1)
		m.byAuth[k.Auth.ID] = append(m.byAuth[k.Auth.ID], s)
	}
	list := m.byConn[c.ID()]
	for _, x := range list {
		if x == s {
			return s
		}
	}
	m.byConn[c.ID()] = append(list, s)
	return s
}

// Detach forgets a closed connection; its sessions stay (for IdleTTL) and queue what they would have sent.
func (m *Manager) Detach(c Conn) {
	m.mu.Lock()
	list := m.byConn[c.ID()]
	delete(m.byConn, c.ID())
	m.mu.Unlock()
	for _, s := range list {
		s.detach(c)
	}
}

// Sweep drops sessions that have had no connection for IdleTTL.
func (m *Manager) Sweep(now time.Time) int {
	cut := now.Add(-m.opts.IdleTTL)
	m.mu.Lock()
	all := make([]*Session, 0, len(m.sessions))
	for _, s := range m.sessions {
		all = append(all, s)
	}
	m.mu.Unlock()
	n := 0
	for _, s := range all {
		// Checked without m.mu: a session holds its own lock while it calls into the manager.
		if s.idleSince(cut) && m.remove(s) {
			s.close()
			n++
		}
	}
	return n
}

// remove unlinks s from the indexes; false if it was already gone.
func (m *Manager) remove(s *Session) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	sk := sessKey{s.key.Auth.ID, s.id}
	if m.sessions[sk] != s {
		return false
	}
	delete(m.sessions, sk)
	list := m.byAuth[sk.auth]
	for i, x := range list {
		if x == s {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(m.byAuth, sk.auth)
	} else {
		m.byAuth[sk.auth] = list
	}
	return true
}

func (m *Manager) destroy(auth, id int64) bool {
	m.mu.Lock()
	s, ok := m.sessions[sessKey{auth, id}]
	m.mu.Unlock()
	if ok && m.remove(s) {
		s.closed.Store(true) // not s.close(): the caller holds another session's lock
		return true
	}
	return false
}

// Sessions returns the live sessions of an auth key.
func (m *Manager) Sessions(authKeyID int64) []*Session {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]*Session(nil), m.byAuth[authKeyID]...)
}

// Metrics returns the manager's counters.
func (m *Manager) Metrics() *Metrics { return &m.metrics }

// Len returns the number of sessions.
func (m *Manager) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.sessions)
}
