package tgclient

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/gotd/td/session"
	"github.com/gotd/td/telegram"
	"github.com/gotd/td/telegram/auth"
	"github.com/gotd/td/telegram/dcs"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/transport"
)

// Options configure a Device.
type Options struct {
	// Addr is the host:port of the node the first connection goes to.
	Addr      string
	PublicKey *rsa.PublicKey
	// Storage keeps the auth key (and gotd's view of the session) across Close and a new Start; nil: a fresh
	// in-memory one.
	Storage telegram.SessionStorage
	// OnUpdates gets every updates container the server pushes (not call results). Called from gotd's
	// goroutines, possibly concurrently.
	OnUpdates func(tg.UpdatesClass)
	// DialTimeout bounds one connection attempt (default 10 s).
	DialTimeout time.Duration
	// WebSocket connects over ws://Addr/apiws (obfuscated2 inside) instead of TCP. gotd's WebSocket resolver
	// knows only that one URL: no failover to other nodes.
	WebSocket bool
}

// Device is one running gotd client.
type Device struct {
	Client  *telegram.Client
	API     *tg.Client
	Storage telegram.SessionStorage

	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

// Start connects a gotd client to opts.Addr and returns once its first connection is up (initConnection and
// help.getConfig answered).
func Start(ctx context.Context, opts Options) (*Device, error) {
	host, portStr, err := net.SplitHostPort(opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("tgclient: address %q: %w", opts.Addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("tgclient: port %q: %w", portStr, err)
	}
	if opts.Storage == nil {
		opts.Storage = &session.StorageMemory{}
	}
	if opts.DialTimeout == 0 {
		opts.DialTimeout = 10 * time.Second
	}
	onUpdates := opts.OnUpdates
	list := dcs.List{Options: []tg.DCOption{{ID: 1, IPAddress: host, Port: port, Static: true}}}
	resolver := dcs.Plain(dcs.PlainOptions{Protocol: transport.Intermediate})
	if opts.WebSocket {
		list.Domains = map[int]string{1: "ws://" + opts.Addr + "/apiws"}
		resolver = dcs.Websocket(dcs.WebsocketOptions{})
	}
	client := telegram.NewClient(1, "raftgram-e2e", telegram.Options{
		DC:             1,
		DCList:         list,
		PublicKeys:     []telegram.PublicKey{{RSA: opts.PublicKey}},
		Resolver:       resolver,
		SessionStorage: opts.Storage,
		DialTimeout:    opts.DialTimeout,
		UpdateHandler: telegram.UpdateHandlerFunc(func(_ context.Context, u tg.UpdatesClass) error {
			if onUpdates != nil {
				onUpdates(u)
			}
			return nil
		}),
	})
	runCtx, cancel := context.WithCancel(context.Background())
	d := &Device{Client: client, API: client.API(), Storage: opts.Storage, cancel: cancel, done: make(chan error, 1)}
	ready := make(chan struct{})
	go func() {
		d.done <- client.Run(runCtx, func(ctx context.Context) error {
			close(ready)
			<-ctx.Done()
			return nil
		})
	}()
	select {
	case <-ready:
		return d, nil
	case err := <-d.done:
		cancel()
		if err == nil {
			err = errors.New("client stopped")
		}
		return nil, fmt.Errorf("tgclient: connect %s: %w", opts.Addr, err)
	case <-ctx.Done():
		cancel()
		<-d.done
		return nil, fmt.Errorf("tgclient: connect %s: %w", opts.Addr, ctx.Err())
	}
}

// Close stops the client and waits for it.
func (d *Device) Close() error {
	var err error
	d.once.Do(func() {
		d.cancel()
		err = <-d.done
		if errors.Is(err, context.Canceled) {
			err = nil
		}
	})
	return err
}

// Login signs the device in as phone with code, signing up (first, last name) if the number is new, and
// returns the user.
func (d *Device) Login(ctx context.Context, phone, code, first, last string) (*tg.User, error) {
	a := d.Client.Auth()
	sent, err := a.SendCode(ctx, phone, auth.SendCodeOptions{})
	if err != nil {
		return nil, fmt.Errorf("auth.sendCode: %w", err)
	}
	s, ok := sent.(*tg.AuthSentCode)
	if !ok {
		return nil, fmt.Errorf("auth.sendCode answered %T", sent)
	}
	res, err := a.SignIn(ctx, phone, code, s.PhoneCodeHash)
	var signUp *auth.SignUpRequired
	if errors.As(err, &signUp) {
		res, err = a.SignUp(ctx, auth.SignUp{PhoneNumber: phone, PhoneCodeHash: s.PhoneCodeHash,
			FirstName: first, LastName: last})
		if err != nil {
			return nil, fmt.Errorf("auth.signUp: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("auth.signIn: %w", err)
	}
	u, ok := res.User.(*tg.User)
	if !ok {
		return nil, fmt.Errorf("authorization holds %T", res.User)
	}
	return u, nil
}
