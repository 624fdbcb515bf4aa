package auth

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/raftgram/raftgram/fsm/account"
	"github.com/raftgram/raftgram/node"
	"github.com/raftgram/raftgram/node/authkeys"
	"github.com/raftgram/raftgram/node/handler"
	"github.com/raftgram/raftgram/node/handler/users"
	"github.com/raftgram/raftgram/node/messenger"
	"github.com/raftgram/raftgram/node/rpc"
)

// RPCBindUser is the internal RPC method that tells a node's gateway a key's signed-in user.
const RPCBindUser byte = 64

// Limits of login codes. They travel in the commands, so replicas never depend on local configuration.
type Limits struct {
	CodeTTL     time.Duration // how long a code is valid (default 5 min)
	MaxAttempts int           // wrong codes per phone before the lock (default 5)
	Lockout     time.Duration // the lock (default 10 min): FLOOD_WAIT for sendCode and signIn
	MaxSends    int           // codes sent per phone per SendWindow (default 10)
	SendWindow  time.Duration // default 10 min
	CodeCommand time.Duration // time limit of Options.CodeCommand (default 10 s)
}

func (l *Limits) setDefaults() {
	if l.CodeTTL <= 0 {
		l.CodeTTL = 5 * time.Minute
	}
	if l.MaxAttempts <= 0 {
		l.MaxAttempts = 5
	}
	if l.Lockout <= 0 {
		l.Lockout = 10 * time.Minute
	}
	if l.MaxSends <= 0 {
		l.MaxSends = 10
	}
	if l.SendWindow <= 0 {
		l.SendWindow = 10 * time.Minute
	}
	if l.CodeCommand <= 0 {
		l.CodeCommand = 10 * time.Second
	}
}

// Domain is the account domain: auth.*, sessions and authorizations, users.*, contacts.*, profile.
type Domain struct {
	deps     messenger.Deps
	lim      Limits
	log      *slog.Logger
	rand     io.Reader
	store    *users.Store
	dir      *users.Directory
	uh       *users.Handlers
	sessions *Sessions

	wg sync.WaitGroup // code deliveries
}

var _ messenger.Domain = (*Domain)(nil)

// New is the messenger.Builder of the account domain with default limits. It provides Services.Directory and
// Services.Sessions.
func New(d messenger.Deps) (messenger.Domain, error) { return NewWithLimits(d, Limits{}) }

// Builder returns a messenger.Builder with the given limits (tests).
func Builder(lim Limits) messenger.Builder {
	return func(d messenger.Deps) (messenger.Domain, error) { return NewWithLimits(d, lim) }
}

// NewWithLimits builds the domain.
func NewWithLimits(d messenger.Deps, lim Limits) (*Domain, error) {
	lim.setDefaults()
	log := d.Log.With("part", "account")
	store := users.NewStore(d.Node, d.Clock)
	dir := users.NewDirectory(store, d.Access)
	x := &Domain{deps: d, lim: lim, log: log, rand: d.Rand, store: store, dir: dir,
		uh: users.NewHandlers(store, dir, d.Access, d.Services, log, d.Rand)}
	x.sessions = &Sessions{n: d.Node, keys: authkeys.NewStore(d.Node), store: store, svc: d.Services, log: log,
		rand: d.Rand}
	d.Services.Directory = dir
	d.Services.Sessions = x.sessions
	return x, nil
}

// Extension implements messenger.Domain.
func (x *Domain) Extension() node.Extension {
	qs := map[node.QueryType]node.QueryFunc{}
	for t, f := range account.Queries() {
		qs[node.QueryType(t)] = node.QueryFunc(f)
	}
	return node.Extension{
		Appliers: account.Appliers(x.deps.Node.Shards()),
		Queries:  qs,
		RPC:      map[byte]rpc.HandlerFunc{RPCBindUser: x.sessions.handleBind},
		Admin:    map[string]http.Handler{"/codes": http.HandlerFunc(x.serveCodes)},
	}
}

// Register implements messenger.Domain.
func (x *Domain) Register(r *handler.Router) {
	handler.HandlePublic(r, x.sendCode)
	handler.HandlePublic(r, x.resendCode)
	handler.HandlePublic(r, x.cancelCode)
	handler.HandlePublic(r, x.signIn)
	handler.HandlePublic(r, x.signUp)
	handler.Handle(r, x.logOut)
	handler.Handle(r, x.getAuthorizations)
	handler.Handle(r, x.resetAuthorization)
	handler.Handle(r, x.resetAuthorizations)
	x.uh.Register(r)
}

// Start implements messenger.Domain (nothing runs in the background until a request starts it).
func (x *Domain) Start(context.Context) error { return nil }

// Close implements messenger.Domain: it waits for code deliveries, pushes and late re-broadcasts.
func (x *Domain) Close() error {
	x.wg.Wait()
	x.uh.Close()
	x.sessions.wg.Wait()
	return nil
}
