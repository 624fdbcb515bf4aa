package edge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/panjf2000/gnet/v2"
)

// Server is the gnet edge server. New builds it; Start binds and starts the event loops; Close stops them.
type Server struct {
	opts    Options
	h       Handler
	log     *slog.Logger
	metrics Metrics
	ids     atomic.Uint64

	ipMu  sync.Mutex
	perIP map[netip.Addr]int32

	loopsMu sync.Mutex
	loops   map[gnet.EventLoop]*loopState

	booted chan struct{}
	done   chan error
	eng    gnet.Engine // set in OnBoot, before booted is closed
	addrs  []net.Addr

	events events
}

// New returns a server; it starts nothing.
func New(opts Options, h Handler, log *slog.Logger) *Server {
	opts.setDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		opts:   opts,
		h:      h,
		log:    log,
		perIP:  make(map[netip.Addr]int32),
		loops:  make(map[gnet.EventLoop]*loopState),
		booted: make(chan struct{}),
		done:   make(chan error, 1),
	}
	s.events.s = s
	return s
}

// Metrics returns the server's counters.
func (s *Server) Metrics() *Metrics { return &s.metrics }

// Addrs returns the bound listener addresses (Options.Addr first); valid after Start.
func (s *Server) Addrs() []net.Addr { return s.addrs }

// Addr returns the bound address of Options.Addr; valid after Start.
func (s *Server) Addr() net.Addr {
	if len(s.addrs) == 0 {
		return nil
	}
	return s.addrs[0]
}

// Start binds the listeners and starts the event loops; it returns once they accept connections. A Server
// runs once: after Close, make a new one.
func (s *Server) Start() error {
	addrs := make([]string, 0, 1+len(s.opts.ExtraAddrs))
	for _, a := range append([]string{s.opts.Addr}, s.opts.ExtraAddrs...) {
		addrs = append(addrs, "tcp://"+a)
	}
	go func() {
		s.done <- gnet.Rotate(&s.events, addrs,
			gnet.WithNumEventLoop(s.opts.EventLoops),
			gnet.WithTicker(true),
			gnet.WithTCPNoDelay(gnet.TCPNoDelay),
			gnet.WithReuseAddr(true), // as net.Listen does: rebind at once after a restart
			gnet.WithLogger(gnetLogger{s.log}),
		)
	}()
	select {
	case <-s.booted:
		return nil
	case err := <-s.done:
		return fmt.Errorf("edge: start: %w", err)
	}
}

// Close stops accepting, closes every connection (Handler.OnClose is called for each) and waits for the
// event loops to exit.
func (s *Server) Close(ctx context.Context) error {
	select {
	case <-s.booted:
	default:
		return errors.New("edge: not started")
	}
	if err := s.eng.Stop(ctx); err != nil {
		return fmt.Errorf("edge: stop: %w", err)
	}
	select {
	case err := <-s.done:
		if err != nil {
			return fmt.Errorf("edge: run: %w", err)
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Run starts the server and serves until ctx is done.
func (s *Server) Run(ctx context.Context) error {
	if err := s.Start(); err != nil {
		return err
	}
	<-ctx.Done()
	return s.Close(context.Background())
}

// boundAddrs reads the listeners' addresses (port 0 resolved) from duplicated descriptors.
func (s *Server) boundAddrs(eng gnet.Engine) []net.Addr {
	var out []net.Addr
	for _, a := range append([]string{s.opts.Addr}, s.opts.ExtraAddrs...) {
		var fd int
		var err error
		if len(s.opts.ExtraAddrs) == 0 {
			fd, err = eng.Dup()
		} else {
			fd, err = eng.DupListener("tcp", a)
		}
		if err != nil {
			s.log.Warn("edge: cannot read listener address", "addr", a, "err", err)
			continue
		}
		sa, err := syscall.Getsockname(fd)
		_ = syscall.Close(fd)
		if err != nil {
			continue
		}
		switch sa := sa.(type) {
		case *syscall.SockaddrInet4:
			out = append(out, &net.TCPAddr{IP: net.IP(sa.Addr[:]).To16(), Port: sa.Port})
		case *syscall.SockaddrInet6:
			out = append(out, &net.TCPAddr{IP: net.IP(sa.Addr[:]), Port: sa.Port})
		}
	}
	return out
}

// acquireIP counts a connection against its IP's cap.
func (s *Server) acquireIP(ip netip.Addr) bool {
	s.ipMu.Lock()
	defer s.ipMu.Unlock()
	n := s.perIP[ip]
	if s.opts.MaxConnsPerIP > 0 && int(n) >= s.opts.MaxConnsPerIP {
		return false
	}
	s.perIP[ip] = n + 1
	return true
}

func (s *Server) releaseIP(ip netip.Addr) {
	s.ipMu.Lock()
	defer s.ipMu.Unlock()
	if n := s.perIP[ip]; n > 1 {
		s.perIP[ip] = n - 1
	} else {
		delete(s.perIP, ip)
	}
}

// gnetLogger routes gnet's own log lines into slog.
type gnetLogger struct{ l *slog.Logger }

func (g gnetLogger) Debugf(f string, a ...any) { g.l.Debug("gnet: " + fmt.Sprintf(f, a...)) }
func (g gnetLogger) Infof(f string, a ...any)  { g.l.Info("gnet: " + fmt.Sprintf(f, a...)) }
func (g gnetLogger) Warnf(f string, a ...any)  { g.l.Warn("gnet: " + fmt.Sprintf(f, a...)) }
func (g gnetLogger) Errorf(f string, a ...any) { g.l.Error("gnet: " + fmt.Sprintf(f, a...)) }
func (g gnetLogger) Fatalf(f string, a ...any) { g.l.Error("gnet: fatal: " + fmt.Sprintf(f, a...)) }
