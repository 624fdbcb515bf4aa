package client

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/gotd/log"
	"github.com/gotd/log/logslog"
	"github.com/gotd/td/session"
	"github.com/gotd/td/telegram"
	"github.com/gotd/td/telegram/auth"
	"github.com/gotd/td/telegram/dcs"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"
	"github.com/gotd/td/transport"
)

// MTOptions configure the MTProto drivers.
type MTOptions struct {
	// Addrs lists each node's MTProto address (host:port), by node index.
	Addrs     []string
	PublicKey *rsa.PublicKey
	// DevCode is the login code every node accepts (`serve --dev-code`).
	DevCode string
	// SourceIP, if set, gives the local address connections to node i are made from, so the clients nemesis
	// can cut them with a filter on the source address.
	SourceIP func(node int) string
	// Timeout bounds one operation (default 5 s). Past it a write is indeterminate (info).
	Timeout time.Duration
	Log     *slog.Logger
	// GotdLog, if set, receives gotd's own logs (connection and handshake detail, for debugging a driver).
	GotdLog *slog.Logger
}

func (o *MTOptions) setDefaults() {
	if o.Timeout == 0 {
		o.Timeout = 5 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}

// pinned keeps a gotd client on one node: gotd would otherwise take every address help.getConfig lists and
// fail over to another node, and the history would name the wrong node.
type pinned struct {
	r    dcs.Resolver
	list dcs.List
}

func (p pinned) Primary(ctx context.Context, dc int, _ dcs.List) (transport.Conn, error) {
	return p.r.Primary(ctx, dc, p.list)
}
func (p pinned) MediaOnly(ctx context.Context, dc int, _ dcs.List) (transport.Conn, error) {
	return p.r.Primary(ctx, dc, p.list)
}
func (p pinned) CDN(ctx context.Context, dc int, _ dcs.List) (transport.Conn, error) {
	return p.r.Primary(ctx, dc, p.list)
}

// mtDevice is one gotd client (one auth key, one session) pinned to one node. It can be stopped and started
// again with the same key (a device that goes offline and comes back).
type mtDevice struct {
	opts  *MTOptions
	node  int
	store *session.StorageMemory
	// onUpdates gets every pushed updates container (from gotd's goroutines).
	onUpdates func(tg.UpdatesClass)

	// ops hold gate's read lock while they use the client; going offline takes the write lock, so a
	// reconnect never cuts an operation in the middle (that would make it indeterminate for no fault).
	gate sync.RWMutex
	mu   sync.Mutex
	cl   *telegram.Client
	stop context.CancelFunc
	done chan error
}

func newDevice(opts *MTOptions, node int, onUpdates func(tg.UpdatesClass)) *mtDevice {
	return &mtDevice{opts: opts, node: node, store: &session.StorageMemory{}, onUpdates: onUpdates}
}

// start connects and returns once the first connection is up.
func (d *mtDevice) start(ctx context.Context) error {
	host, portStr, err := net.SplitHostPort(d.opts.Addrs[d.node])
	if err != nil {
		return fmt.Errorf("mtproto: address %q: %w", d.opts.Addrs[d.node], err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return fmt.Errorf("mtproto: port %q: %w", portStr, err)
	}
	dialer := &net.Dialer{Timeout: d.opts.Timeout}
	if d.opts.SourceIP != nil {
		dialer.LocalAddr = &net.TCPAddr{IP: net.ParseIP(d.opts.SourceIP(d.node))}
	}
	list := dcs.List{Options: []tg.DCOption{{ID: 1, IPAddress: host, Port: port, Static: true}}}
	res := pinned{r: dcs.Plain(dcs.PlainOptions{Protocol: transport.Intermediate, Dial: dialer.DialContext}), list: list}
	onUpdates := d.onUpdates
	var glog log.Logger
	if d.opts.GotdLog != nil {
		glog = logslog.New(d.opts.GotdLog.With("node", d.node))
	}
	cl := telegram.NewClient(1, "raftgram-jepsen", telegram.Options{
		Logger:         glog,
		DC:             1,
		DCList:         list,
		PublicKeys:     []telegram.PublicKey{{RSA: d.opts.PublicKey}},
		Resolver:       res,
		SessionStorage: d.store,
		// Dial and key exchange: a new auth key costs the client a pq factorization that takes seconds when
		// many devices start at once on 2 busy cores; an operation's own timeout still bounds each request.
		DialTimeout: 30 * time.Second,
		// A node comes back within seconds: retry often rather than backing off to gotd's 5 s.
		ReconnectionBackoff: func() backoff.BackOff {
			b := backoff.NewExponentialBackOff()
			b.InitialInterval, b.MaxInterval, b.MaxElapsedTime = 100*time.Millisecond, time.Second, 0
			return b
		},
		UpdateHandler: telegram.UpdateHandlerFunc(func(_ context.Context, u tg.UpdatesClass) error {
			if onUpdates != nil {
				onUpdates(u)
			}
			return nil
		}),
	})
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ready := make(chan struct{})
	go func() {
		done <- cl.Run(runCtx, func(ctx context.Context) error {
			close(ready)
			<-ctx.Done()
			return nil
		})
	}()
	select {
	case <-ready:
	case err := <-done:
		cancel()
		if err == nil {
			err = errors.New("client stopped")
		}
		return fmt.Errorf("mtproto: connect n%d: %w", d.node+1, err)
	case <-ctx.Done():
		cancel()
		<-done
		return fmt.Errorf("mtproto: connect n%d: %w", d.node+1, ctx.Err())
	}
	d.mu.Lock()
	d.cl, d.stop, d.done = cl, cancel, done
	d.mu.Unlock()
	return nil
}

// close stops the client (the key stays in the storage for the next start).
func (d *mtDevice) close() {
	d.mu.Lock()
	stop, done := d.stop, d.done
	d.cl, d.stop, d.done = nil, nil, nil
	d.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
}

// api is the running client's API, nil while offline.
func (d *mtDevice) api() *tg.Client {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cl == nil {
		return nil
	}
	return d.cl.API()
}

// use runs fn with the client while no reconnect can cut in.
func (d *mtDevice) use(ctx context.Context, fn func(ctx context.Context, api *tg.Client) error) error {
	d.gate.RLock()
	defer d.gate.RUnlock()
	api := d.api()
	if api == nil {
		return Definite(errors.New("device offline"))
	}
	ctx, cancel := context.WithTimeout(ctx, d.opts.Timeout)
	defer cancel()
	return fn(ctx, api)
}

// login signs the device in as phone with the dev code (signing up with first name if new) and returns the
// user id.
func (d *mtDevice) login(ctx context.Context, phone, first string) (int64, error) {
	d.mu.Lock()
	cl := d.cl
	d.mu.Unlock()
	if cl == nil {
		return 0, errors.New("mtproto: login: device offline")
	}
	a := cl.Auth()
	sent, err := a.SendCode(ctx, phone, auth.SendCodeOptions{})
	if err != nil {
		return 0, fmt.Errorf("auth.sendCode: %w", err)
	}
	s, ok := sent.(*tg.AuthSentCode)
	if !ok {
		return 0, fmt.Errorf("auth.sendCode answered %T", sent)
	}
	res, err := a.SignIn(ctx, phone, d.opts.DevCode, s.PhoneCodeHash)
	var signUp *auth.SignUpRequired
	if errors.As(err, &signUp) {
		res, err = a.SignUp(ctx, auth.SignUp{PhoneNumber: phone, PhoneCodeHash: s.PhoneCodeHash, FirstName: first})
		if err != nil {
			return 0, fmt.Errorf("auth.signUp: %w", err)
		}
	} else if err != nil {
		return 0, fmt.Errorf("auth.signIn: %w", err)
	}
	u, ok := res.User.(*tg.User)
	if !ok {
		return 0, fmt.Errorf("authorization holds %T", res.User)
	}
	return u.ID, nil
}

// classify turns an RPC error into the driver's verdict: an rpc_error 4xx is a refusal before any effect
// (definite); anything else (5xx, timeout, lost connection) may have happened.
func classify(err error) error {
	if err == nil {
		return nil
	}
	if IsDefinite(err) {
		return err
	}
	if e, ok := tgerr.As(err); ok && e.Code >= 400 && e.Code < 500 {
		return Definite(err)
	}
	return err
}

// resolvePhone returns the access hash the device's user has for the user with phone, without making them a
// contact (a contact's saved name would hide the profile name).
func resolvePhone(ctx context.Context, api *tg.Client, phone string) (int64, int64, error) {
	res, err := api.ContactsResolvePhone(ctx, phone)
	if err != nil {
		return 0, 0, fmt.Errorf("contacts.resolvePhone %s: %w", phone, err)
	}
	for _, x := range res.Users {
		if u, ok := x.(*tg.User); ok {
			if h, ok := u.GetAccessHash(); ok {
				return u.ID, h, nil
			}
		}
	}
	return 0, 0, fmt.Errorf("contacts.resolvePhone %s: no user with an access hash", phone)
}

// setupParallel is how many users sign in at once during Setup.
const setupParallel = 4

// retry runs fn until it succeeds or ctx ends (setup: no faults yet, but a fresh cluster may still elect).
func retry(ctx context.Context, log *slog.Logger, what string, fn func(ctx context.Context) error) error {
	var last error
	for attempt := 0; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, 40*time.Second)
		last = fn(actx)
		cancel()
		if last == nil {
			return nil
		}
		log.Info("MTProto setup step failed, retrying", "step", what, "attempt", attempt, "err", last)
		if ctx.Err() != nil || attempt >= 5 {
			return fmt.Errorf("%s: %w", what, last)
		}
		t := time.NewTimer(500 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
}
