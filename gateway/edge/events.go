package edge

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime/debug"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/raftgram/raftgram/gateway/transport"
)

// events is the gnet.EventHandler. Every callback recovers from panics: a panic closes only the
// connection it happened on.
type events struct {
	gnet.BuiltinEventEngine
	s *Server
}

func (e *events) OnBoot(eng gnet.Engine) gnet.Action {
	e.s.eng = eng
	e.s.addrs = e.s.boundAddrs(eng)
	close(e.s.booted)
	return gnet.None
}

func (e *events) OnOpen(gc gnet.Conn) (out []byte, action gnet.Action) {
	s := e.s
	defer func() {
		if r := recover(); r != nil {
			s.panicked("open", r)
			action = gnet.Close
		}
	}()
	s.metrics.Accepted.Add(1)
	ta, _ := gc.RemoteAddr().(*net.TCPAddr)
	if ta == nil {
		return nil, gnet.Close
	}
	ap := ta.AddrPort()
	ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()) // one cap for an IPv4 address however it arrives
	if !s.acquireIP(ap.Addr()) {
		s.metrics.RejectedPerIP.Add(1)
		s.log.Info("edge: connection refused: per-IP cap", "remote", ap)
		return nil, gnet.Close
	}
	now := s.opts.Now().UnixNano()
	c := &conn{
		srv:      s,
		gc:       gc,
		id:       s.ids.Add(1),
		addr:     ap,
		openedAt: now,
		lastRead: now,
		det:      new(transport.Detector),
	}
	c.loop = s.loopOf(gc.EventLoop())
	c.loop.add(c)
	gc.SetContext(c)
	s.metrics.Active.Add(1)
	return nil, gnet.None
}

func (e *events) OnTraffic(gc gnet.Conn) (action gnet.Action) {
	c, _ := gc.Context().(*conn)
	data, _ := gc.Next(-1)
	if c == nil {
		return gnet.Close
	}
	defer func() {
		if r := recover(); r != nil {
			c.srv.panicked("traffic", r)
			c.closeWith(fmt.Errorf("edge: panic: %v", r))
		}
	}()
	if c.closing() {
		return gnet.None // the close is queued; drop what arrives meanwhile
	}
	c.srv.metrics.BytesIn.Add(uint64(len(data)))
	c.lastRead = c.srv.opts.Now().UnixNano()
	if err := c.input(data); err != nil && !errors.Is(err, ErrClosed) {
		c.fail(err)
	}
	return gnet.None
}

func (e *events) OnClose(gc gnet.Conn, err error) (action gnet.Action) {
	c, _ := gc.Context().(*conn)
	if c == nil {
		e.s.metrics.Closed.Add(1) // refused in OnOpen
		return gnet.None
	}
	s := c.srv
	defer func() {
		if r := recover(); r != nil {
			s.panicked("close", r)
		}
	}()
	gc.SetContext(nil)
	c.flags.Or(flagClosing)
	c.loop.remove(c)
	s.releaseIP(c.addr.Addr())
	s.metrics.Active.Add(-1)
	s.metrics.Closed.Add(1)
	if c.flags.Load()&flagOpened != 0 {
		s.h.OnClose(c, c.reason(err))
	}
	return gnet.None
}

func (e *events) OnTick() (delay time.Duration, action gnet.Action) {
	defer func() {
		if r := recover(); r != nil {
			e.s.panicked("tick", r)
		}
	}()
	e.s.tick()
	return e.s.opts.TickInterval, gnet.None
}

func (s *Server) panicked(where string, r any) {
	s.metrics.Panics.Add(1)
	s.log.Error("edge: panic recovered", "event", where, "panic", r, "stack", string(debug.Stack()))
}
