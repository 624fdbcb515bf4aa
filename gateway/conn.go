package gateway

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/raftgram/raftgram/gateway/edge"
	"github.com/raftgram/raftgram/gateway/handshake"
)

// frame is one received frame, copied off the event loop.
type frame struct {
	data     []byte
	quickAck bool
}

// connState is the gateway's per-connection state. It is small on purpose: an idle authenticated connection
// holds this struct only (the inbox is nil when empty, the exchange nil once a key exists).
type connState struct {
	c edge.Conn

	mu         sync.Mutex
	inbox      []frame
	inboxBytes int
	running    bool // scheduled on or running in a worker
	closed     bool
	timer      *time.Timer // ping_delay_disconnect

	// Touched only by the worker draining this connection (one at a time).
	ex *handshake.Exchange
}

// ID implements session.Conn.
func (cs *connState) ID() uint64 { return cs.c.ID() }

// Send implements session.Conn.
func (cs *connState) Send(b []byte) error { return cs.c.Send(b) }

// DisconnectAfter implements session.Conn (ping_delay_disconnect): the connection is closed d from now unless
// the client pings again.
func (cs *connState) DisconnectAfter(d time.Duration) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.timer != nil {
		cs.timer.Stop()
		cs.timer = nil
	}
	if d <= 0 || cs.closed {
		return
	}
	cs.timer = time.AfterFunc(d, func() { cs.c.Close("ping_delay_disconnect deadline") })
}

// push appends a frame (adding its size to total); it returns schedule=true when the connection must be
// handed to a worker, and ok=false when the inbox limit is exceeded.
func (cs *connState) push(f frame, limit int, total *atomic.Int64) (schedule, ok bool) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.closed {
		return false, true
	}
	if cs.inboxBytes+len(f.data) > limit {
		return false, false
	}
	cs.inbox = append(cs.inbox, f)
	cs.inboxBytes += len(f.data)
	total.Add(int64(len(f.data)))
	if cs.running {
		return false, true
	}
	cs.running = true
	return true, true
}

// pop takes the next frame, or clears running when the inbox is empty.
func (cs *connState) pop() (frame, bool) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if len(cs.inbox) == 0 || cs.closed {
		cs.running = false
		cs.inbox = nil
		cs.inboxBytes = 0
		return frame{}, false
	}
	f := cs.inbox[0]
	cs.inbox[0] = frame{}
	cs.inbox = cs.inbox[1:]
	cs.inboxBytes -= len(f.data)
	if len(cs.inbox) == 0 {
		cs.inbox = nil
	}
	return f, true
}

// close marks the connection closed and returns the bytes dropped from its inbox.
func (cs *connState) close() int {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.closed = true
	dropped := cs.inboxBytes
	cs.inbox = nil
	cs.inboxBytes = 0
	if cs.timer != nil {
		cs.timer.Stop()
		cs.timer = nil
	}
	return dropped
}
