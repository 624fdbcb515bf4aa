package edge

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/panjf2000/gnet/v2"

	"github.com/raftgram/raftgram/gateway/transport"
)

// Conn is one client connection as the session layer sees it. All methods are safe from any goroutine.
type Conn interface {
	ID() uint64
	RemoteAddr() net.Addr
	// Transport is the detected transport: "abridged", "intermediate", "padded" or "full", with
	// "+obfuscated" and "+ws" appended as they apply.
	Transport() string
	// Send frames payload for the transport and queues it; frame is the caller's again on return.
	Send(frame []byte) error
	// SendQuickAck writes the raw quick-ack token (the high bit is set for the caller).
	SendQuickAck(token uint32) error
	// SendTransportError sends a transport error such as -404 (a frame holding the 4-byte code).
	SendTransportError(code int32) error
	// SetAuthenticated lifts the unauthenticated-time limit.
	SetAuthenticated()
	// Close closes the connection after the bytes already sent; reason reaches Handler.OnClose.
	Close(reason string)
}

// Handler receives a connection's events. All calls for one connection come from its event loop, in order.
type Handler interface {
	OnOpen(c Conn)
	// OnFrame must not block; frame is valid only during the call.
	OnFrame(c Conn, frame []byte, quickAck bool)
	OnClose(c Conn, err error)
}

// DCConn is implemented by every Conn the edge hands out; it is kept out of Conn so the seam stays as
// agreed. DC reports the DC id from an obfuscated2 init (ok is false for plain transports). Clients such as
// GramJS and mtcute send a random value, so it is informational only.
type DCConn interface {
	DC() (dc int16, ok bool)
}

// ErrClosed is returned by Send on a closing connection.
var ErrClosed = errors.New("edge: connection closed")

const (
	flagAuthenticated = 1 << iota
	flagClosing
	flagOpened // Handler.OnOpen was called
)

// wsReserve is the room kept in front of an outgoing frame for the largest WebSocket header.
const wsReserve = 10

// conn is the per-connection state. It is kept small: an idle connection holds this struct, its codec and
// nothing else (no read or write buffers).
type conn struct {
	srv  *Server
	gc   gnet.Conn
	loop *loopState
	prev *conn // intrusive list of the loop's connections, owned by the loop
	next *conn
	id   uint64
	addr netip.AddrPort

	// Owned by the event loop.
	openedAt int64 // unix nanos
	lastRead int64
	det      *transport.Detector // until the transport is known
	up       *transport.Upgrade  // during a WebSocket upgrade
	ws       *transport.WSReader // WebSocket connections
	rcodec   transport.Codec     // decoding side, set on detection

	flags  atomic.Uint32
	queued atomic.Int64 // bytes handed to gnet but not yet in its outbound buffer

	// wmu serialises the writing side: the codec's encoder state (CTR, seqno) makes call order wire order.
	wmu      sync.Mutex
	wcodec   transport.Codec // same codec, written under wmu so Send sees it safely
	wsOut    bool            // wrap output in WebSocket frames
	name     string
	closeErr error
}

func (c *conn) ID() uint64 { return c.id }

func (c *conn) RemoteAddr() net.Addr { return net.TCPAddrFromAddrPort(c.addr) }

func (c *conn) Transport() string {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.name
}

func (c *conn) DC() (int16, bool) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if o, ok := c.wcodec.(*transport.Obfuscated); ok {
		return o.DC(), true
	}
	return 0, false
}

func (c *conn) SetAuthenticated() { c.flags.Or(flagAuthenticated) }

func (c *conn) Close(reason string) { c.closeWith(errors.New(reason)) }

func (c *conn) Send(frame []byte) error {
	if len(frame) == 0 {
		return errors.New("edge: send: empty frame")
	}
	if len(frame) > c.srv.opts.MaxFrame {
		return fmt.Errorf("edge: send %d bytes: %w", len(frame), transport.ErrFrameTooLarge)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.writable(); err != nil {
		return err
	}
	buf := make([]byte, wsReserve, wsReserve+len(frame)+16)
	buf = c.wcodec.AppendFrame(buf, frame)
	c.srv.metrics.FramesOut.Add(1)
	return c.enqueueLocked(c.wrapLocked(buf))
}

func (c *conn) SendQuickAck(token uint32) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.writable(); err != nil {
		return err
	}
	buf, err := c.wcodec.AppendQuickAck(make([]byte, wsReserve, wsReserve+4), token)
	if err != nil {
		return fmt.Errorf("edge: quick ack on %s: %w", c.name, err)
	}
	return c.enqueueLocked(c.wrapLocked(buf))
}

func (c *conn) SendTransportError(code int32) error {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(code))
	return c.Send(b[:])
}

// writable reports whether Send may proceed; wmu held.
func (c *conn) writable() error {
	if c.flags.Load()&flagClosing != 0 {
		return ErrClosed
	}
	if c.wcodec == nil {
		return fmt.Errorf("edge: transport not detected yet")
	}
	return nil
}

// wrapLocked turns buf (wsReserve spare bytes, then the encoded frame) into the wire bytes: a WebSocket binary
// frame for WebSocket connections, the frame itself otherwise.
func (c *conn) wrapLocked(buf []byte) []byte {
	if !c.wsOut {
		return buf[wsReserve:]
	}
	n := len(buf) - wsReserve
	start := wsReserve - transport.WSHeaderLen(n)
	transport.AppendWSHeader(buf[start:start], transport.WSBinary, n)
	return buf[start:]
}

// enqueueLocked hands bytes to the event loop; wmu held so that queue order is encoding order.
func (c *conn) enqueueLocked(b []byte) error {
	n := int64(len(b))
	limit := int64(c.srv.opts.MaxPendingOut)
	if c.queued.Add(n) > limit {
		c.queued.Add(-n)
		c.srv.metrics.OutboundOverrun.Add(1)
		c.closeLocked(fmt.Errorf("edge: over %d bytes waiting to be written", limit))
		return ErrClosed
	}
	c.srv.metrics.BytesOut.Add(uint64(n))
	err := c.gc.AsyncWrite(b, func(gc gnet.Conn, err error) error {
		c.queued.Add(-n)
		if err == nil && gc.OutboundBuffered() > c.srv.opts.MaxPendingOut {
			c.srv.metrics.OutboundOverrun.Add(1)
			c.closeWith(fmt.Errorf("edge: over %d bytes waiting to be written", limit))
		}
		return nil
	})
	if err != nil {
		c.queued.Add(-n)
		return fmt.Errorf("edge: queue write: %w", err)
	}
	return nil
}

// closeWith starts closing with err as the reason; the first reason wins.
func (c *conn) closeWith(err error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.closeLocked(err)
}

func (c *conn) closeLocked(err error) {
	if c.flags.Or(flagClosing)&flagClosing != 0 {
		return
	}
	c.closeErr = err
	// Queued behind the writes already queued, so they reach the socket first.
	_ = c.gc.Close()
}

func (c *conn) closing() bool { return c.flags.Load()&flagClosing != 0 }

// reason is the error Handler.OnClose gets.
func (c *conn) reason(sockErr error) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeErr != nil {
		return c.closeErr
	}
	if sockErr != nil {
		return sockErr
	}
	return ErrClosed
}
