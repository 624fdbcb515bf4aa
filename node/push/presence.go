package push

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Presence tuning (DESIGN.md "Presence").
const (
	// PresenceKeepalive is the default of Options.PresenceKeepalive.
	PresenceKeepalive = 2 * time.Second
	// PresenceWait bounds how long a newly present user's first call waits for the peers' acknowledgements.
	PresenceWait = time.Second
	// MaxPresenceLog is the most log entries kept for peers that have not acknowledged them.
	MaxPresenceLog = 1 << 16
	// maxPresenceBody bounds one presence RPC body: a snapshot of 2^20 users.
	maxPresenceBody = 64 + 9<<20
)

const (
	presenceDelta    byte = 1
	presenceSnapshot byte = 2

	presenceOK     byte = 0
	presenceResync byte = 1
)

type presenceEntry struct {
	user    int64
	present bool
}

// view is what this node knows of one peer's present users.
type view struct {
	inc, ver uint64
	users    map[int64]struct{}
}

// Presence implements gateway.Options.Presence: it logs that userID arrived in (or left) this node's gateway;
// the announcers tell the peers. For an arrival it returns a wait that ends when every healthy peer has
// acknowledged the entry, or after PresenceWait.
func (p *Pusher) Presence(userID int64, present bool) (wait func()) {
	p.pmu.Lock()
	defer p.pmu.Unlock()
	if present {
		p.here[userID] = struct{}{}
	} else {
		delete(p.here, userID)
	}
	p.log = append(p.log, presenceEntry{user: userID, present: present})
	p.ver++
	if len(p.log) > MaxPresenceLog {
		drop := len(p.log) - MaxPresenceLog
		p.log = append(p.log[:0:0], p.log[drop:]...)
		p.base += uint64(drop)
	}
	close(p.changed)
	p.changed = make(chan struct{})
	if !present || !p.started {
		return nil
	}
	v := p.ver
	return func() { p.waitAcked(v) }
}

// waitAcked waits until every healthy announcer has had version v acknowledged, or PresenceWait has passed.
func (p *Pusher) waitAcked(v uint64) {
	timer := time.NewTimer(PresenceWait)
	defer timer.Stop()
	for {
		p.pmu.Lock()
		done := true
		for _, a := range p.announcers {
			if a.healthy && a.acked < v {
				done = false
				break
			}
		}
		ch := p.ackedCh
		p.pmu.Unlock()
		if done {
			return
		}
		select {
		case <-ch:
		case <-timer.C:
			return
		}
	}
}

// announcer is the state of the announcements to one peer.
type announcer struct {
	acked   uint64 // version the peer acknowledged (in this incarnation)
	healthy bool   // the last call succeeded (or none failed yet)
	stop    context.CancelFunc
}

// syncAnnouncers starts an announcer for every peer and stops those of peers that left.
func (p *Pusher) syncAnnouncers(ctx context.Context) {
	peers := p.peerList()
	seen := map[string]bool{}
	p.pmu.Lock()
	defer p.pmu.Unlock()
	for _, peer := range peers {
		if peer.Self {
			p.self = peer.Addr
			continue
		}
		seen[peer.Addr] = true
		if p.announcers[peer.Addr] != nil {
			continue
		}
		actx, cancel := context.WithCancel(ctx)
		p.announcers[peer.Addr] = &announcer{healthy: true, stop: cancel}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.announce(actx, peer.Addr)
		}()
	}
	for addr, a := range p.announcers {
		if !seen[addr] {
			a.stop()
			delete(p.announcers, addr)
		}
	}
	p.trimLocked()
}

// runPresence keeps the announcers in step with the membership until ctx ends.
func (p *Pusher) runPresence(ctx context.Context) {
	t := time.NewTicker(p.o.PeersTTL)
	defer t.Stop()
	for {
		p.syncAnnouncers(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// announce sends this node's presence log to one peer, in order, until ctx ends.
func (p *Pusher) announce(ctx context.Context, addr string) {
	snapshot := true
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		p.pmu.Lock()
		a := p.announcers[addr]
		if a == nil {
			p.pmu.Unlock()
			return
		}
		self := p.self
		var body []byte
		var to uint64
		if snapshot || a.acked < p.base {
			users := make([]presenceEntry, 0, len(p.here))
			for u := range p.here {
				users = append(users, presenceEntry{user: u, present: true})
			}
			to = p.ver
			body = encodePresence(presenceSnapshot, p.inc, 0, to, self, users)
		} else {
			to = p.ver
			body = encodePresence(presenceDelta, p.inc, a.acked, to, self, p.log[a.acked-p.base:])
		}
		p.pmu.Unlock()

		cctx, cancel := context.WithTimeout(ctx, p.o.Timeout)
		resp, err := p.o.Cluster.CallRPC(cctx, addr, p.o.PresenceMethod, body)
		cancel()
		if err == nil && (len(resp) != 1 || resp[0] > presenceResync) {
			err = fmt.Errorf("presence: bad answer %x", resp)
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			p.pmu.Lock()
			if a.healthy {
				p.o.Log.Warn("push: presence announcement failed (the peer pushes this node's users "+
					"from its last view until it succeeds)", "peer", addr, "err", err)
			}
			a.healthy = false
			p.pmu.Unlock()
			p.signalAcked()
			if !sleep(ctx, backoff) {
				return
			}
			backoff = min(2*backoff, p.o.PresenceKeepalive)
			continue
		}
		backoff = 50 * time.Millisecond
		if resp[0] == presenceResync {
			snapshot = true
			continue
		}
		snapshot = false
		p.pmu.Lock()
		a.acked, a.healthy = to, true
		p.trimLocked()
		changed := p.changed
		pending := p.ver > to
		p.pmu.Unlock()
		p.signalAcked()
		if pending {
			continue
		}
		t := time.NewTimer(p.o.PresenceKeepalive)
		select {
		case <-ctx.Done():
		case <-changed:
		case <-t.C:
		}
		t.Stop()
	}
}

// signalAcked wakes the waiters of waitAcked.
func (p *Pusher) signalAcked() {
	p.pmu.Lock()
	close(p.ackedCh)
	p.ackedCh = make(chan struct{})
	p.pmu.Unlock()
}

// trimLocked drops the log entries every announcer has had acknowledged.
func (p *Pusher) trimLocked() {
	low := p.ver
	for _, a := range p.announcers {
		low = min(low, max(a.acked, p.base))
	}
	if n := int(low - p.base); n > 0 {
		p.log = append(p.log[:0:0], p.log[n:]...)
		p.base = low
	}
}

// mayHave reports whether the peer at addr may have a session of user: unless a synced view says it has not.
func (p *Pusher) mayHave(addr string, user int64) bool {
	p.vmu.RLock()
	defer p.vmu.RUnlock()
	v := p.views[addr]
	if v == nil {
		return true
	}
	_, ok := v.users[user]
	return ok
}

var errPresence = errors.New("push: malformed presence body")

// HandlePresence is the RPC handler of Options.PresenceMethod: it applies a peer's snapshot or delta to the
// view of that peer, or drops the view and answers "resync" when the delta does not follow it.
func (p *Pusher) HandlePresence(_ context.Context, body []byte) ([]byte, error) {
	m, err := decodePresence(body)
	if err != nil {
		return nil, err
	}
	p.vmu.Lock()
	defer p.vmu.Unlock()
	v := p.views[m.src]
	switch {
	case m.kind == presenceSnapshot:
		v = &view{inc: m.inc, ver: m.to, users: make(map[int64]struct{}, len(m.entries))}
		for _, e := range m.entries {
			v.users[e.user] = struct{}{}
		}
		p.views[m.src] = v
		return []byte{presenceOK}, nil
	case v != nil && v.inc == m.inc && m.from == v.ver:
		for _, e := range m.entries {
			if e.present {
				v.users[e.user] = struct{}{}
			} else {
				delete(v.users, e.user)
			}
		}
		v.ver = m.to
		return []byte{presenceOK}, nil
	case v != nil && v.inc == m.inc && m.to <= v.ver:
		return []byte{presenceOK}, nil // a repeat of what the view has
	default:
		delete(p.views, m.src) // push everything to that peer until its snapshot arrives
		return []byte{presenceResync}, nil
	}
}

type presenceMsg struct {
	kind          byte
	inc, from, to uint64
	src           string
	entries       []presenceEntry
}

// encodePresence: kind u8 | inc u64 | from u64 | to u64 | len u16 | src | count u32 | (user i64, present u8)*.
func encodePresence(kind byte, inc, from, to uint64, src string, entries []presenceEntry) []byte {
	b := make([]byte, 0, 31+len(src)+9*len(entries))
	b = append(b, kind)
	b = binary.BigEndian.AppendUint64(b, inc)
	b = binary.BigEndian.AppendUint64(b, from)
	b = binary.BigEndian.AppendUint64(b, to)
	b = binary.BigEndian.AppendUint16(b, uint16(len(src)))
	b = append(b, src...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(entries)))
	for _, e := range entries {
		b = binary.BigEndian.AppendUint64(b, uint64(e.user))
		if e.present {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
	}
	return b
}

func decodePresence(b []byte) (presenceMsg, error) {
	var m presenceMsg
	if len(b) < 27 || len(b) > maxPresenceBody {
		return m, errPresence
	}
	m.kind = b[0]
	m.inc = binary.BigEndian.Uint64(b[1:])
	m.from = binary.BigEndian.Uint64(b[9:])
	m.to = binary.BigEndian.Uint64(b[17:])
	n := int(binary.BigEndian.Uint16(b[25:]))
	b = b[27:]
	if (m.kind != presenceDelta && m.kind != presenceSnapshot) || len(b) < n+4 || m.to < m.from {
		return m, errPresence
	}
	m.src = string(b[:n])
	count := int(binary.BigEndian.Uint32(b[n:]))
	b = b[n+4:]
	if count*9 != len(b) || (m.kind == presenceDelta && uint64(count) != m.to-m.from) {
		return m, errPresence
	}
	m.entries = make([]presenceEntry, count)
	for i := range m.entries {
		m.entries[i] = presenceEntry{user: int64(binary.BigEndian.Uint64(b)), present: b[8] != 0}
		if b[8] > 1 {
			return m, errPresence
		}
		b = b[9:]
	}
	return m, nil
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func newIncarnation() uint64 {
	for {
		if v := rand.Uint64(); v != 0 {
			return v
		}
	}
}
