package push

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/raftgram/raftgram/node"
	"github.com/raftgram/raftgram/node/handler"
	"github.com/raftgram/raftgram/tl"
	"github.com/raftgram/raftgram/tl/api"
)

// Cluster is what the Pusher needs of a node (*node.Node implements it).
type Cluster interface {
	Peers() []node.Peer
	CallRPC(ctx context.Context, addr string, method byte, body []byte) ([]byte, error)
}

// Options configure a Pusher.
type Options struct {
	Cluster Cluster
	// Edge is this node's gateway (nil: no local sessions).
	Edge func() handler.Edge
	// Method is the internal RPC method Handle serves.
	Method byte
	// Queue is the number of pushes waiting per peer before new ones are dropped (default 4096).
	Queue int
	// MaxBatch is the most pushes per RPC call (default 256).
	MaxBatch int
	// Timeout bounds one RPC call (default 2 s).
	Timeout time.Duration
	// PeersTTL is how long the member list is cached (default 1 s).
	PeersTTL time.Duration
	// PresenceMethod is the internal RPC method HandlePresence serves; 0 disables presence (every push goes
	// to every peer).
	PresenceMethod byte
	// PresenceKeepalive is how often an announcer with nothing new still calls its peer, so that a peer which
	// restarted (and lost its view) gets a snapshot within seconds (default PresenceKeepalive).
	PresenceKeepalive time.Duration
	Log               *slog.Logger
}

// Pusher implements handler.Pusher.
type Pusher struct {
	o   Options
	reg *tl.Registry

	mu      sync.Mutex
	queues  map[string]chan []byte
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	dropped atomic.Int64
	lastLog atomic.Int64

	peersMu sync.Mutex
	peers   []node.Peer
	peersAt time.Time

	// Presence (DESIGN.md): this node's log, guarded by pmu.
	pmu        sync.Mutex
	started    bool
	inc        uint64             // this run's incarnation
	self       string             // this node's address as peers know it
	here       map[int64]struct{} // users with a signed-in key in this node's gateway
	log        []presenceEntry    // entries base+1..ver
	base, ver  uint64             // versions
	changed    chan struct{}      // closed when the log grows
	ackedCh    chan struct{}      // closed when an announcer's state changes
	announcers map[string]*announcer

	// Views of the peers' presence, guarded by vmu.
	vmu   sync.RWMutex
	views map[string]*view
}

var _ handler.Pusher = (*Pusher)(nil)

// New returns a Pusher; senders start with Start.
func New(o Options) *Pusher {
	if o.Queue <= 0 {
		o.Queue = 4096
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 256
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.PresenceKeepalive <= 0 {
		o.PresenceKeepalive = PresenceKeepalive
	}
	if o.PeersTTL <= 0 {
		o.PeersTTL = time.Second
	}
	return &Pusher{o: o, reg: tl.NewRegistry(api.New), queues: map[string]chan []byte{},
		here: map[int64]struct{}{}, changed: make(chan struct{}), ackedCh: make(chan struct{}),
		announcers: map[string]*announcer{}, views: map[string]*view{}}
}

// Start lets the Pusher send to other nodes (before Start, and after Close, only local sessions get pushes).
func (p *Pusher) Start() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ctx, p.cancel = context.WithCancel(context.Background())
	if p.o.PresenceMethod == 0 {
		return
	}
	p.pmu.Lock()
	p.inc, p.started = newIncarnation(), true
	p.pmu.Unlock()
	ctx := p.ctx
	// The announcers exist before Start returns, so an arrival right after it waits for every peer (a peer may
	// still hold a view of this node's previous run).
	p.syncAnnouncers(ctx)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.runPresence(ctx)
	}()
}

// Close stops the senders; queued pushes are dropped.
func (p *Pusher) Close() error {
	p.mu.Lock()
	if p.cancel != nil {
		p.cancel()
	}
	p.ctx = nil
	p.queues = map[string]chan []byte{}
	p.mu.Unlock()
	p.wg.Wait()
	p.pmu.Lock()
	p.started, p.announcers = false, map[string]*announcer{}
	p.pmu.Unlock()
	return nil
}

// Dropped is the number of pushes dropped because a peer's queue was full.
func (p *Pusher) Dropped() int64 { return p.dropped.Load() }

// frame: user i64 | except i64 | len u32 | layer-227 TL of the updates.
func frame(userID, except int64, body []byte) []byte {
	b := make([]byte, 0, 20+len(body))
	b = binary.BigEndian.AppendUint64(b, uint64(userID))
	b = binary.BigEndian.AppendUint64(b, uint64(except))
	b = binary.BigEndian.AppendUint32(b, uint32(len(body)))
	return append(b, body...)
}

// Push implements handler.Pusher.
func (p *Pusher) Push(_ context.Context, userID, exceptSession int64, u api.UpdatesClass) {
	if u == nil {
		return
	}
	p.local(userID, exceptSession, u)
	var f []byte // encoded once, and only if some peer may hold one of the user's sessions (usually none)
	for _, peer := range p.peerList() {
		if peer.Self || !p.mayHave(peer.Addr, userID) {
			continue
		}
		if f == nil {
			body, err := tl.Marshal(u)
			if err != nil {
				p.o.Log.Error("push: encode", "err", err)
				return
			}
			f = frame(userID, exceptSession, body)
		}
		q := p.queue(peer.Addr)
		if q == nil {
			return // not started or closed
		}
		select {
		case q <- f:
		default:
			n := p.dropped.Add(1)
			if now := time.Now().Unix(); p.lastLog.Swap(now) != now {
				p.o.Log.Warn("push: peer queue full, dropping (clients catch up with getDifference)",
					"peer", peer.ID, "dropped_total", n)
			}
		}
	}
}

// peerList is the cluster's members, refreshed at most every PeersTTL: reading the membership goes through a
// Raft group's main loop, too slow to do for every push.
func (p *Pusher) peerList() []node.Peer {
	p.peersMu.Lock()
	defer p.peersMu.Unlock()
	if now := time.Now(); p.peers == nil || now.Sub(p.peersAt) > p.o.PeersTTL {
		p.peers, p.peersAt = p.o.Cluster.Peers(), now
	}
	return p.peers
}

func (p *Pusher) local(userID, except int64, u tl.Object) {
	if p.o.Edge == nil {
		return
	}
	if e := p.o.Edge(); e != nil {
		if err := e.PushExcept(userID, except, u); err != nil {
			p.o.Log.Warn("push: local", "user", userID, "err", err)
		}
	}
}

func (p *Pusher) queue(addr string) chan []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ctx == nil {
		return nil
	}
	q := p.queues[addr]
	if q == nil {
		q = make(chan []byte, p.o.Queue)
		p.queues[addr] = q
		ctx := p.ctx
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.send(ctx, addr, q)
		}()
	}
	return q
}

// send drains one peer's queue, many frames per call: count u32 | frames.
func (p *Pusher) send(ctx context.Context, addr string, q chan []byte) {
	for {
		var first []byte
		select {
		case <-ctx.Done():
			return
		case first = <-q:
		}
		body := binary.BigEndian.AppendUint32(nil, 0)
		body = append(body, first...)
		n := 1
	fill:
		for n < p.o.MaxBatch {
			select {
			case f := <-q:
				body = append(body, f...)
				n++
			default:
				break fill
			}
		}
		binary.BigEndian.PutUint32(body, uint32(n))
		cctx, cancel := context.WithTimeout(ctx, p.o.Timeout)
		_, err := p.o.Cluster.CallRPC(cctx, addr, p.o.Method, body)
		cancel()
		if err != nil && ctx.Err() == nil {
			p.dropped.Add(int64(n))
			p.o.Log.Debug("push: peer call failed, dropped", "addr", addr, "pushes", n, "err", err)
		}
	}
}

var errFrame = errors.New("push: malformed frame")

// Handle is the RPC handler of Options.Method: it pushes every frame to this node's sessions.
func (p *Pusher) Handle(_ context.Context, body []byte) ([]byte, error) {
	if len(body) < 4 {
		return nil, errFrame
	}
	n := binary.BigEndian.Uint32(body)
	b := body[4:]
	for i := uint32(0); i < n; i++ {
		if len(b) < 20 {
			return nil, errFrame
		}
		user, except := int64(binary.BigEndian.Uint64(b)), int64(binary.BigEndian.Uint64(b[8:]))
		l := binary.BigEndian.Uint32(b[16:])
		if uint64(l) > uint64(len(b)-20) {
			return nil, errFrame
		}
		obj, err := tl.DecodeObject(b[20:20+l], p.reg)
		if err != nil {
			return nil, fmt.Errorf("push: decode: %w", err)
		}
		p.local(user, except, obj)
		b = b[20+l:]
	}
	return nil, nil
}
