package rpc

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// MaxFrame bounds one frame's body.
const MaxFrame = 16 << 20

// MaxInFlight bounds the concurrently served requests of one connection.
const MaxInFlight = 1024

// Response statuses.
const (
	StatusOK        byte = 0
	StatusError     byte = 1
	StatusNotLeader byte = 2
	StatusNoMethod  byte = 3
	StatusBadToken  byte = 4
	// StatusUnknownCommand: a proposal's command type has no Applier on the serving node (rejected before
	// raft; the message names the type). Not retryable.
	StatusUnknownCommand byte = 5
)

// Error is a remote error.
type Error struct {
	Status byte
	Msg    string
}

func (e *Error) Error() string { return fmt.Sprintf("rpc status %d: %s", e.Status, e.Msg) }

// IsStatus reports whether err is a remote error with the given status.
func IsStatus(err error, status byte) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == status
}

// WriteFrame writes one frame without a call id (join stream).
func WriteFrame(w io.Writer, kind byte, body []byte) error {
	if len(body) > MaxFrame {
		return fmt.Errorf("rpc frame of %d bytes exceeds %d", len(body), MaxFrame)
	}
	var h [5]byte
	binary.BigEndian.PutUint32(h[:4], uint32(len(body)+1))
	h[4] = kind
	if _, err := w.Write(h[:]); err != nil {
		return err
	}
	_, err := w.Write(body)
	return err
}

// ReadFrame reads one frame without a call id (join stream).
func ReadFrame(r io.Reader) (byte, []byte, error) {
	var h [5]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(h[:4])
	if n < 1 || n-1 > MaxFrame {
		return 0, nil, fmt.Errorf("rpc frame length %d out of range", n)
	}
	body := make([]byte, n-1)
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, nil, err
	}
	return h[4], body, nil
}

type frame struct {
	kind byte
	id   uint64
	body []byte
}

const idFrameHeader = 4 + 1 + 8

func writeIDFrame(w *bufio.Writer, f frame) error {
	if len(f.body) > MaxFrame {
		return fmt.Errorf("rpc frame of %d bytes exceeds %d", len(f.body), MaxFrame)
	}
	var h [idFrameHeader]byte
	binary.BigEndian.PutUint32(h[:4], uint32(len(f.body)+9))
	h[4] = f.kind
	binary.BigEndian.PutUint64(h[5:], f.id)
	if _, err := w.Write(h[:]); err != nil {
		return err
	}
	_, err := w.Write(f.body)
	return err
}

func readIDFrame(r *bufio.Reader) (frame, error) {
	var h [idFrameHeader]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return frame{}, err
	}
	n := binary.BigEndian.Uint32(h[:4])
	if n < 9 || n-9 > MaxFrame {
		return frame{}, fmt.Errorf("rpc frame length %d out of range", n)
	}
	f := frame{kind: h[4], id: binary.BigEndian.Uint64(h[5:]), body: make([]byte, n-9)}
	_, err := io.ReadFull(r, f.body)
	return f, err
}

// writeLoop drains q into w, flushing only when q is momentarily empty so that concurrent frames share
// syscalls. It returns on the first error, when q is closed, or when done is closed.
func writeLoop(w *bufio.Writer, q <-chan frame, done <-chan struct{}, setDeadline func()) error {
	for {
		var f frame
		var ok bool
		select {
		case f, ok = <-q:
		case <-done:
			return nil
		}
		if !ok {
			return nil
		}
		setDeadline()
		if err := writeIDFrame(w, f); err != nil {
			return err
		}
		if len(q) == 0 {
			if err := w.Flush(); err != nil {
				return err
			}
		}
	}
}

// HandlerFunc serves one request. Returning an *Error sends its status; any other error is StatusError.
type HandlerFunc func(ctx context.Context, body []byte) ([]byte, error)

// Server dispatches requests by method.
type Server struct {
	mu       sync.RWMutex
	handlers map[byte]HandlerFunc
	log      *slog.Logger
	// Idle closes a connection that sends nothing for this long (default 5 min).
	Idle time.Duration
}

// NewServer returns an empty server.
func NewServer(log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{handlers: map[byte]HandlerFunc{}, log: log, Idle: 5 * time.Minute}
}

// Handle registers a method.
func (s *Server) Handle(method byte, h HandlerFunc) {
	s.mu.Lock()
	s.handlers[method] = h
	s.mu.Unlock()
}

// ServeConn serves requests on c until c fails or ctx ends, running up to MaxInFlight of them at once.
func (s *Server) ServeConn(ctx context.Context, c net.Conn) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	out := make(chan frame, MaxInFlight)
	var wg sync.WaitGroup
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		err := writeLoop(bufio.NewWriterSize(c, 64<<10), out, nil, func() { _ = c.SetWriteDeadline(time.Now().Add(30 * time.Second)) })
		if err != nil {
			cancel() // a broken writer ends the connection
			for range out {
			}
		}
	}()
	sem := make(chan struct{}, MaxInFlight)
	br := bufio.NewReaderSize(c, 64<<10)
	for {
		_ = c.SetReadDeadline(time.Now().Add(s.Idle))
		req, err := readIDFrame(br)
		if err != nil {
			if !errors.Is(err, io.EOF) && ctx.Err() == nil {
				s.log.Debug("rpc: read", "remote", c.RemoteAddr(), "err", err)
			}
			break
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			out <- s.serve(ctx, req)
		}()
	}
	cancel()
	wg.Wait()
	close(out)
	<-writerDone
}

func (s *Server) serve(ctx context.Context, req frame) frame {
	s.mu.RLock()
	h := s.handlers[req.kind]
	s.mu.RUnlock()
	if h == nil {
		return frame{kind: StatusNoMethod, id: req.id, body: []byte(fmt.Sprintf("no method %d", req.kind))}
	}
	res, err := h(ctx, req.body)
	if err != nil {
		var re *Error
		if errors.As(err, &re) {
			return frame{kind: re.Status, id: req.id, body: []byte(re.Msg)}
		}
		return frame{kind: StatusError, id: req.id, body: []byte(err.Error())}
	}
	return frame{kind: StatusOK, id: req.id, body: res}
}

// Dialer opens an authenticated RPC stream to addr.
type Dialer func(ctx context.Context, addr string) (net.Conn, error)

// Client multiplexes calls over a few connections per address.
type Client struct {
	dial  Dialer
	conns int

	mu      sync.Mutex
	peers   map[string][]*clientConn
	dialing map[string]*sync.Mutex // one dial at a time per address: a burst of calls must not open a burst of conns
	next    atomic.Uint64
	closed  bool
}

// NewClient returns a client that spreads calls to one address over up to conns connections.
func NewClient(dial Dialer, conns int) *Client {
	if conns <= 0 {
		conns = 2
	}
	return &Client{dial: dial, conns: conns, peers: map[string][]*clientConn{}, dialing: map[string]*sync.Mutex{}}
}

type result struct {
	status byte
	body   []byte
	err    error
}

type clientConn struct {
	c       net.Conn
	q       chan frame
	done    chan struct{} // closed by fail
	mu      sync.Mutex
	pending map[uint64]chan result
	err     error // set once the connection is broken
	ids     uint64
}

func (cl *Client) conn(ctx context.Context, addr string) (*clientConn, error) {
	cc, dmu, err := cl.pick(addr)
	if cc != nil || err != nil {
		return cc, err
	}
	dmu.Lock()
	defer dmu.Unlock()
	// Another caller may have dialed while we waited for the address's dial lock.
	if cc, _, err := cl.pick(addr); cc != nil || err != nil {
		return cc, err
	}
	c, err := cl.dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	cc = &clientConn{c: c, q: make(chan frame, 1024), done: make(chan struct{}), pending: map[uint64]chan result{}}
	go cc.readLoop()
	go func() {
		err := writeLoop(bufio.NewWriterSize(c, 64<<10), cc.q, cc.done, func() { _ = c.SetWriteDeadline(time.Now().Add(30 * time.Second)) })
		if err != nil {
			cc.fail(err)
		}
	}()
	cl.mu.Lock()
	if cl.closed {
		cl.mu.Unlock()
		cc.fail(net.ErrClosed)
		return nil, net.ErrClosed
	}
	cl.peers[addr] = append(cl.peers[addr], cc)
	cl.mu.Unlock()
	return cc, nil
}

// pick returns a live connection when addr already has its full share, else the address's dial lock.
func (cl *Client) pick(addr string) (*clientConn, *sync.Mutex, error) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.closed {
		return nil, nil, net.ErrClosed
	}
	live := cl.peers[addr][:0]
	for _, cc := range cl.peers[addr] {
		if cc.broken() == nil {
			live = append(live, cc)
		}
	}
	cl.peers[addr] = live
	if len(live) >= cl.conns {
		return live[cl.next.Add(1)%uint64(len(live))], nil, nil
	}
	dmu := cl.dialing[addr]
	if dmu == nil {
		dmu = &sync.Mutex{}
		cl.dialing[addr] = dmu
	}
	return nil, dmu, nil
}

func (cc *clientConn) broken() error {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.err
}

// fail breaks the connection and fails every pending call (their caller sees a transport error).
func (cc *clientConn) fail(err error) {
	cc.mu.Lock()
	if cc.err != nil {
		cc.mu.Unlock()
		return
	}
	cc.err = err
	pending := cc.pending
	cc.pending = nil
	close(cc.done)
	cc.mu.Unlock()
	cc.c.Close()
	for _, ch := range pending {
		ch <- result{err: err}
	}
}

func (cc *clientConn) readLoop() {
	br := bufio.NewReaderSize(cc.c, 64<<10)
	for {
		f, err := readIDFrame(br)
		if err != nil {
			cc.fail(err)
			return
		}
		cc.mu.Lock()
		ch := cc.pending[f.id]
		delete(cc.pending, f.id)
		cc.mu.Unlock()
		if ch != nil {
			ch <- result{status: f.kind, body: f.body}
		}
	}
}

// Call sends one request and waits for its response. A remote error comes back as *Error; a transport error
// (the call may or may not have run) as any other error.
func (cl *Client) Call(ctx context.Context, addr string, method byte, body []byte) ([]byte, error) {
	cc, err := cl.conn(ctx, addr)
	if err != nil {
		return nil, fmt.Errorf("rpc %d to %s: %w", method, addr, err)
	}
	ch := make(chan result, 1)
	cc.mu.Lock()
	if cc.err != nil {
		err := cc.err
		cc.mu.Unlock()
		return nil, fmt.Errorf("rpc %d to %s: %w", method, addr, err)
	}
	cc.ids++
	id := cc.ids
	cc.pending[id] = ch
	cc.mu.Unlock()
	forget := func() {
		cc.mu.Lock()
		if cc.pending != nil {
			delete(cc.pending, id)
		}
		cc.mu.Unlock()
	}
	select {
	case cc.q <- frame{kind: method, id: id, body: body}:
	case <-cc.done:
		// fail has already answered ch with the transport error.
	case <-ctx.Done():
		forget()
		return nil, fmt.Errorf("rpc %d to %s: %w", method, addr, ctx.Err())
	}
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, fmt.Errorf("rpc %d to %s: %w", method, addr, r.err)
		}
		if r.status != StatusOK {
			return nil, &Error{Status: r.status, Msg: string(r.body)}
		}
		return r.body, nil
	case <-ctx.Done():
		forget()
		return nil, fmt.Errorf("rpc %d to %s: %w", method, addr, ctx.Err())
	}
}

// Close breaks every connection; calls in flight fail.
func (cl *Client) Close() {
	cl.mu.Lock()
	cl.closed = true
	peers := cl.peers
	cl.peers = map[string][]*clientConn{}
	cl.mu.Unlock()
	for _, l := range peers {
		for _, cc := range l {
			cc.fail(net.ErrClosed)
		}
	}
}
