package messenger

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/raftgram/raftgram/gateway"
	"github.com/raftgram/raftgram/node"
	"github.com/raftgram/raftgram/node/access"
	"github.com/raftgram/raftgram/node/authkeys"
	"github.com/raftgram/raftgram/node/gatehost"
	"github.com/raftgram/raftgram/node/handler"
	"github.com/raftgram/raftgram/node/rpc"
)

// Options configure the messenger of one node.
type Options struct {
	// ClientAddr is the MTProto listen address of this node's gateway; empty: this node serves no clients.
	ClientAddr string
	// DevCode, if set, is accepted as the login code for every phone number (development only; `run --dev`).
	DevCode string
	// CodeCommand, if set, is run for every login code sent: the program gets the phone and the code as its two
	// arguments (an in-house SMS gateway).
	CodeCommand []string
	// Gateway adjusts the gateway options (tests).
	Gateway func(*gateway.Options)
	Log     *slog.Logger
	Clock   func() time.Time
	Rand    io.Reader
}

// Deps is what every domain gets.
type Deps struct {
	Node     *node.Node
	Access   access.Hasher
	Services *handler.Services
	Options  Options
	Log      *slog.Logger
	Clock    func() time.Time
	Rand     io.Reader
}

// Domain is one API domain (auth and users, messages and updates, help, ...).
type Domain interface {
	// Extension lists the domain's FSM appliers, queries, internal RPC methods and admin endpoints.
	Extension() node.Extension
	// Register adds the domain's method handlers to the router.
	Register(r *handler.Router)
	// Start runs once the node serves (background work such as relays); Close stops it.
	Start(ctx context.Context) error
	Close() error
}

// Builder builds a domain.
type Builder func(Deps) (Domain, error)

// Messenger is a node's API. It implements node.Gateway (the node starts it once it serves).
type Messenger struct {
	n       *node.Node
	opts    Options
	router  *handler.Router
	svc     *handler.Services
	host    *gatehost.Host
	domains []Domain
}

var _ node.Gateway = (*Messenger)(nil)

// New builds the domains and extends n (after node.New, before n.Start). The services every domain relies on
// must be provided by one of them; a missing one is an error.
func New(n *node.Node, opts Options, builders ...Builder) (*Messenger, error) {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	m := &Messenger{n: n, opts: opts, router: handler.NewRouter(opts.Log.With("part", "api")), svc: &handler.Services{}}
	if opts.ClientAddr != "" {
		// Read when the gateway starts, after the domains have provided the services.
		gw := func(o *gateway.Options) {
			if ps, ok := m.svc.Pusher.(handler.PresenceSink); ok {
				o.Presence = ps.Presence
			}
			if opts.Gateway != nil {
				opts.Gateway(o)
			}
		}
		m.host = gatehost.New(gatehost.Options{ClientAddr: opts.ClientAddr, Gateway: gw}, m.router, opts.Log)
	}
	m.svc.Edge = m.edge
	deps := Deps{Node: n, Access: access.New(n.DataDir().Secret), Services: m.svc, Options: opts, Log: opts.Log,
		Clock: opts.Clock, Rand: opts.Rand}
	ext := node.Extension{Appliers: authkeys.Appliers(), Queries: map[node.QueryType]node.QueryFunc{},
		RPC: map[byte]rpc.HandlerFunc{}, Admin: map[string]http.Handler{}, Gateway: m}
	ext.Admin["/unimplemented"] = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, m.router.Unimplemented())
	})
	for _, b := range builders {
		d, err := b(deps)
		if err != nil {
			return nil, err
		}
		e := d.Extension()
		if err := merge(&ext, e); err != nil {
			return nil, err
		}
		d.Register(m.router)
		m.domains = append(m.domains, d)
	}
	if err := n.Extend(ext); err != nil {
		return nil, err
	}
	return m, nil
}

func merge(dst *node.Extension, e node.Extension) error {
	for t, a := range e.Appliers {
		if _, dup := dst.Appliers[t]; dup {
			return fmt.Errorf("messenger: command type %d claimed twice", t)
		}
		dst.Appliers[t] = a
	}
	for t, q := range e.Queries {
		if _, dup := dst.Queries[t]; dup {
			return fmt.Errorf("messenger: query type %d claimed twice", t)
		}
		dst.Queries[t] = q
	}
	for k, h := range e.RPC {
		if _, dup := dst.RPC[k]; dup {
			return fmt.Errorf("messenger: RPC method %d claimed twice", k)
		}
		dst.RPC[k] = h
	}
	for p, h := range e.Admin {
		if _, dup := dst.Admin[p]; dup {
			return fmt.Errorf("messenger: admin path %s claimed twice", p)
		}
		dst.Admin[p] = h
	}
	return nil
}

// Services are the cross-domain services; domains fill their fields in their builders.
func (m *Messenger) Services() *handler.Services { return m.svc }

// Router is the API dispatcher (the gateway's Backend).
func (m *Messenger) Router() *handler.Router { return m.router }

// Host is this node's gateway host, nil if it serves no clients.
func (m *Messenger) Host() *gatehost.Host { return m.host }

func (m *Messenger) edge() handler.Edge {
	if m.host == nil {
		return nil
	}
	if s := m.host.Server(); s != nil {
		return s
	}
	return nil
}

// Start implements node.Gateway: the gateway (if any) listens, its addresses are published, domains start.
func (m *Messenger) Start(ctx context.Context, n *node.Node) error {
	if m.host != nil {
		if err := m.host.Start(ctx, n); err != nil {
			return err
		}
		addr := m.host.Addr()
		go m.publish(addr)
	}
	for _, d := range m.domains {
		if err := d.Start(context.Background()); err != nil {
			return err
		}
	}
	return nil
}

// publish records this node's client address in the cluster (retried: the meta group may still be electing).
func (m *Messenger) publish(addr string) {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		m.opts.Log.Error("client address", "addr", addr, "err", err)
		return
	}
	for i := 0; i < 60; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := m.n.PublishClientAddrs(ctx, node.ClientAddrs{TCP: addr, WS: addr})
		cancel()
		if err == nil {
			return
		}
		m.opts.Log.Warn("publish client address (retrying)", "err", err)
		time.Sleep(time.Second)
	}
}

// Close implements node.Gateway.
func (m *Messenger) Close() error {
	var errs []error
	for _, d := range m.domains {
		errs = append(errs, d.Close())
	}
	if m.host != nil {
		errs = append(errs, m.host.Close())
	}
	return errors.Join(errs...)
}

// Check reports a wiring gap: a service no domain provided.
func (m *Messenger) Check() error {
	var missing []string
	if m.svc.Directory == nil {
		missing = append(missing, "Directory")
	}
	if m.svc.Pusher == nil {
		missing = append(missing, "Pusher")
	}
	if m.svc.ServiceMessages == nil {
		missing = append(missing, "ServiceMessages")
	}
	if m.svc.Sessions == nil {
		missing = append(missing, "Sessions")
	}
	if len(missing) > 0 {
		return fmt.Errorf("messenger: no domain provides %v", missing)
	}
	return nil
}
