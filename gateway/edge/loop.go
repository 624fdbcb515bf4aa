package edge

import (
	"context"
	"fmt"

	"github.com/panjf2000/gnet/v2"
)

// loopState is one event loop's list of connections, touched only on that loop (OnOpen, OnClose and the
// timeout scan all run there), so it needs no lock.
type loopState struct {
	s    *Server
	el   gnet.EventLoop
	head *conn
	scan gnet.RunnableFunc
}

func (s *Server) loopOf(el gnet.EventLoop) *loopState {
	s.loopsMu.Lock()
	defer s.loopsMu.Unlock()
	ls := s.loops[el]
	if ls == nil {
		ls = &loopState{s: s, el: el}
		ls.scan = ls.checkTimeouts
		s.loops[el] = ls
	}
	return ls
}

func (ls *loopState) add(c *conn) {
	c.next = ls.head
	if ls.head != nil {
		ls.head.prev = c
	}
	ls.head = c
}

func (ls *loopState) remove(c *conn) {
	if c.prev != nil {
		c.prev.next = c.next
	} else if ls.head == c {
		ls.head = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	}
	c.prev, c.next = nil, nil
}

// tick runs off the loops (gnet's ticker goroutine): it asks every loop to scan its own connections.
func (s *Server) tick() {
	s.loopsMu.Lock()
	loops := make([]*loopState, 0, len(s.loops))
	for _, ls := range s.loops {
		loops = append(loops, ls)
	}
	s.loopsMu.Unlock()
	for _, ls := range loops {
		_ = ls.el.Execute(context.Background(), ls.scan)
	}
}

// checkTimeouts closes connections past the unauthenticated-time limit or the idle timeout.
func (ls *loopState) checkTimeouts(context.Context) error {
	s := ls.s
	defer func() {
		if r := recover(); r != nil {
			s.panicked("timeouts", r)
		}
	}()
	now := s.opts.Now().UnixNano()
	unauth, idle := int64(s.opts.MaxUnauthTime), int64(s.opts.IdleTimeout)
	for c := ls.head; c != nil; c = c.next {
		f := c.flags.Load()
		if f&flagClosing != 0 {
			continue
		}
		switch {
		case unauth > 0 && f&flagAuthenticated == 0 && now-c.openedAt > unauth:
			s.metrics.UnauthTimeout.Add(1)
			s.log.Info("edge: closing connection: not authenticated in time", "id", c.id, "remote", c.addr)
			c.closeWith(fmt.Errorf("edge: not authenticated within %v", s.opts.MaxUnauthTime))
		case idle > 0 && now-c.lastRead > idle:
			s.metrics.IdleTimeout.Add(1)
			s.log.Info("edge: closing idle connection", "id", c.id, "remote", c.addr)
			c.closeWith(fmt.Errorf("edge: idle for over %v", s.opts.IdleTimeout))
		}
	}
	return nil
}
