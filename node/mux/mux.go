package mux

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// Stream kinds carried in the header.
const (
	KindRaft byte = 1
	KindRPC  byte = 2
	KindJoin byte = 3
)

const (
	magic      = 'R'
	headerSize = 6
)

// Handler serves one accepted stream. peer is nil only for KindJoin from a node without a certificate.
type Handler func(conn net.Conn, peer *x509.Certificate)

// Options configures a Mux.
type Options struct {
	// Advertise is the address other nodes dial; it is what Raft's StreamLayer.Addr reports.
	Advertise string
	Server    *tls.Config
	Client    *tls.Config
	Logger    *slog.Logger
	// HandshakeTimeout bounds TLS handshake + header read on accepted connections (default 5 s).
	HandshakeTimeout time.Duration
	// AcceptBacklog is the per-group queue of accepted Raft connections (default 16).
	AcceptBacklog int
}

func (o *Options) setDefaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.HandshakeTimeout <= 0 {
		o.HandshakeTimeout = 5 * time.Second
	}
	if o.AcceptBacklog <= 0 {
		o.AcceptBacklog = 16
	}
}

// Mux multiplexes one listener.
type Mux struct {
	ln   net.Listener
	opts Options

	mu     sync.Mutex
	groups map[uint32]*Layer
	rpc    Handler
	join   Handler
	closed bool
	conns  map[net.Conn]struct{}

	wg   sync.WaitGroup
	done chan struct{}
}

// New wraps a listening socket. It starts nothing; Serve does.
func New(ln net.Listener, opts Options) (*Mux, error) {
	opts.setDefaults()
	if opts.Server == nil || opts.Client == nil {
		return nil, errors.New("mux: TLS configs required")
	}
	if opts.Advertise == "" {
		opts.Advertise = ln.Addr().String()
	}
	return &Mux{ln: ln, opts: opts, groups: map[uint32]*Layer{}, conns: map[net.Conn]struct{}{}, done: make(chan struct{})}, nil
}

// Addr is the advertised address.
func (m *Mux) Addr() string { return m.opts.Advertise }

// HandleRPC sets the RPC stream handler.
func (m *Mux) HandleRPC(h Handler) { m.mu.Lock(); m.rpc = h; m.mu.Unlock() }

// HandleJoin sets the join stream handler.
func (m *Mux) HandleJoin(h Handler) { m.mu.Lock(); m.join = h; m.mu.Unlock() }

// Layer returns (creating on first use) the StreamLayer of Raft group g.
func (m *Mux) Layer(g uint32) *Layer {
	m.mu.Lock()
	defer m.mu.Unlock()
	if l, ok := m.groups[g]; ok && !l.isClosed() {
		return l
	}
	l := &Layer{m: m, group: g, ch: make(chan net.Conn, m.opts.AcceptBacklog), closed: make(chan struct{})}
	m.groups[g] = l
	return l
}

// Serve accepts until Close. It returns nil after Close.
func (m *Mux) Serve() error {
	for {
		c, err := m.ln.Accept()
		if err != nil {
			select {
			case <-m.done:
				return nil
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return fmt.Errorf("mux accept: %w", err)
		}
		if !m.track(c) {
			c.Close()
			return nil
		}
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			m.handle(c)
		}()
	}
}

func (m *Mux) track(c net.Conn) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return false
	}
	m.conns[c] = struct{}{}
	return true
}

func (m *Mux) untrack(c net.Conn) {
	m.mu.Lock()
	delete(m.conns, c)
	m.mu.Unlock()
}

func (m *Mux) handle(raw net.Conn) {
	log := m.opts.Logger
	_ = raw.SetDeadline(time.Now().Add(m.opts.HandshakeTimeout))
	tc := tls.Server(raw, m.opts.Server)
	if err := tc.Handshake(); err != nil {
		log.Debug("mux: handshake failed", "remote", raw.RemoteAddr(), "err", err)
		m.untrack(raw)
		raw.Close()
		return
	}
	var hdr [headerSize]byte
	if _, err := io.ReadFull(tc, hdr[:]); err != nil || hdr[0] != magic {
		log.Debug("mux: bad header", "remote", raw.RemoteAddr(), "err", err)
		m.untrack(raw)
		tc.Close()
		return
	}
	_ = raw.SetDeadline(time.Time{})
	var peer *x509.Certificate
	if st := tc.ConnectionState(); len(st.VerifiedChains) > 0 {
		peer = st.VerifiedChains[0][0]
	}
	kind, group := hdr[1], binary.BigEndian.Uint32(hdr[2:])
	if peer == nil && kind != KindJoin {
		log.Warn("mux: rejected stream without cluster certificate", "remote", raw.RemoteAddr(), "kind", kind)
		m.untrack(raw)
		tc.Close()
		return
	}
	conn := &trackedConn{Conn: tc, m: m, raw: raw}
	m.mu.Lock()
	var h Handler
	var layer *Layer
	switch kind {
	case KindRPC:
		h = m.rpc
	case KindJoin:
		h = m.join
	case KindRaft:
		layer = m.groups[group]
	}
	m.mu.Unlock()
	switch {
	case layer != nil:
		if !layer.deliver(conn) {
			conn.Close()
		}
	case h != nil:
		h(conn, peer)
	default:
		log.Debug("mux: no handler for stream", "kind", kind, "group", group)
		conn.Close()
	}
}

// Dial opens a stream of the given kind to addr as a cluster member.
func (m *Mux) Dial(ctx context.Context, addr string, kind byte, group uint32) (net.Conn, error) {
	return Dial(ctx, addr, m.opts.Client, kind, group)
}

// DialJoin opens a join stream from a process that has no certificate yet.
func DialJoin(ctx context.Context, addr string, cfg *tls.Config) (net.Conn, error) {
	return Dial(ctx, addr, cfg, KindJoin, 0)
}

// Dial opens a stream without a Mux (command-line clients holding a node certificate).
func Dial(ctx context.Context, addr string, cfg *tls.Config, kind byte, group uint32) (net.Conn, error) {
	d := tls.Dialer{NetDialer: &net.Dialer{KeepAlive: 15 * time.Second}, Config: cfg}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	var hdr [headerSize]byte
	hdr[0], hdr[1] = magic, kind
	binary.BigEndian.PutUint32(hdr[2:], group)
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetWriteDeadline(dl)
	}
	if _, err := c.Write(hdr[:]); err != nil {
		c.Close()
		return nil, fmt.Errorf("write stream header to %s: %w", addr, err)
	}
	_ = c.SetWriteDeadline(time.Time{})
	return c, nil
}

// Close stops accepting, closes every accepted connection and every group layer, and waits for handlers.
func (m *Mux) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	close(m.done)
	err := m.ln.Close()
	for c := range m.conns {
		c.Close()
	}
	layers := make([]*Layer, 0, len(m.groups))
	for _, l := range m.groups {
		layers = append(layers, l)
	}
	m.mu.Unlock()
	for _, l := range layers {
		l.Close() // takes m.mu itself
	}
	m.wg.Wait()
	return err
}

type trackedConn struct {
	net.Conn
	m    *Mux
	raw  net.Conn
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() { c.m.untrack(c.raw) })
	return c.Conn.Close()
}

// Layer is one Raft group's view of the shared port: a raft.StreamLayer.
type Layer struct {
	m      *Mux
	group  uint32
	ch     chan net.Conn
	once   sync.Once
	closed chan struct{}
}

var _ raft.StreamLayer = (*Layer)(nil)

func (l *Layer) isClosed() bool {
	select {
	case <-l.closed:
		return true
	default:
		return false
	}
}

func (l *Layer) deliver(c net.Conn) bool {
	select {
	case <-l.closed:
		return false
	default:
	}
	select {
	case l.ch <- c:
		return true
	case <-l.closed:
		return false
	case <-time.After(l.m.opts.HandshakeTimeout):
		return false
	}
}

// Accept returns the next Raft connection for this group.
func (l *Layer) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

// Close stops this group's accepts; the shared listener stays open.
func (l *Layer) Close() error {
	l.once.Do(func() {
		close(l.closed)
		l.m.mu.Lock()
		if l.m.groups[l.group] == l {
			delete(l.m.groups, l.group)
		}
		l.m.mu.Unlock()
		for {
			select {
			case c := <-l.ch:
				c.Close()
			default:
				return
			}
		}
	})
	return nil
}

// Addr is the node's advertised address.
func (l *Layer) Addr() net.Addr { return advertAddr(l.m.opts.Advertise) }

// Dial connects to group l.group on the node at address.
func (l *Layer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return l.m.Dial(ctx, string(address), KindRaft, l.group)
}

type advertAddr string

func (a advertAddr) Network() string { return "tcp" }
func (a advertAddr) String() string  { return string(a) }
