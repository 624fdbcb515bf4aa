package relay

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/raftgram/raftgram/fsm"
	"github.com/raftgram/raftgram/fsm/box"
	"github.com/raftgram/raftgram/node"
)

// Cluster is what the relay needs of a node (*node.Node implements it).
type Cluster interface {
	IsLeader(s uint32) bool
	Shards() int
	Query(ctx context.Context, s uint32, t node.QueryType, payload []byte) ([]byte, error)
	Propose(ctx context.Context, s uint32, cmd fsm.Command) (fsm.Result, error)
}

// Delivered is called after a batch was applied at its destination: items are the batch sent, applied what
// the destination did for the items it had not seen before (its Seq names the item).
type Delivered func(ctx context.Context, items []box.Item, applied []box.Applied)

// Options configure a Relay.
type Options struct {
	Cluster Cluster
	// OutboxQuery is the node query type serving box.QueryOutbox.
	OutboxQuery node.QueryType
	OnDelivered Delivered
	Log         *slog.Logger
	// Poll is how often leadership is checked and an idle worker looks again (default 50 ms).
	Poll time.Duration
	// Batch is the most items per DeliverBatch (default 512).
	Batch int
	// Depth is the most DeliverBatch proposals in flight per destination (default 4).
	Depth int
	// TrimEvery: the outbox is trimmed once this many items were acknowledged, or when the worker is idle
	// (default 1024).
	TrimEvery uint64
	// Timeout bounds one query or proposal (default 5 s).
	Timeout time.Duration
}

func (o *Options) setDefaults() {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Poll <= 0 {
		o.Poll = 50 * time.Millisecond
	}
	if o.Batch <= 0 {
		o.Batch = 512
	}
	if o.Depth <= 0 {
		o.Depth = 4
	}
	if o.TrimEvery == 0 {
		o.TrimEvery = 1024
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
}

// Relay runs one worker per shard this node leads.
type Relay struct {
	o Options

	mu      sync.Mutex
	kicks   map[uint32]chan struct{}
	offers  map[uint32]*offers
	workers map[uint32]context.CancelFunc
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	fastItems atomic.Int64 // items sent from offers, without a query
}

// New returns a Relay; nothing runs until Start.
func New(o Options) *Relay {
	o.setDefaults()
	return &Relay{o: o, kicks: map[uint32]chan struct{}{}, offers: map[uint32]*offers{},
		workers: map[uint32]context.CancelFunc{}}
}

// Start runs the supervisor (leadership polling) until Close.
func (r *Relay) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	r.mu.Lock()
	r.cancel = cancel
	r.mu.Unlock()
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.supervise(ctx)
	}()
}

// Close stops every worker and waits for them.
func (r *Relay) Close() error {
	r.mu.Lock()
	if r.cancel != nil {
		r.cancel()
	}
	r.mu.Unlock()
	r.wg.Wait()
	return nil
}

// maxOffered bounds the items kept in memory per source shard between two wake-ups of its worker; beyond it
// the offers are dropped and the worker reads the outbox instead.
const maxOffered = 8192

// offers holds committed outbox items handed over by this node's apply, for the worker of one source shard.
type offers struct {
	items map[uint32][]box.Item // by destination, in seq order
	n     int
	lost  bool
}

// Offer hands over outbox items just applied on this node (box.Config.OnOutbox) and wakes the worker of src.
// Items of a shard this node does not lead are ignored. It never blocks.
func (r *Relay) Offer(src uint32, items []box.Pending) {
	r.mu.Lock()
	ch := r.kicks[src]
	if ch == nil {
		r.mu.Unlock()
		return
	}
	o := r.offers[src]
	if o == nil {
		o = &offers{items: map[uint32][]box.Item{}}
		r.offers[src] = o
	}
	for _, p := range items {
		if o.n+len(p.Items) > maxOffered {
			o.items, o.n, o.lost = map[uint32][]box.Item{}, 0, true
			continue
		}
		o.items[p.Dst] = append(o.items[p.Dst], p.Items...)
		o.n += len(p.Items)
	}
	r.mu.Unlock()
	select {
	case ch <- struct{}{}:
	default:
	}
}

// pendingOffers reports whether items were offered for src and not taken yet.
func (r *Relay) pendingOffers(src uint32) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.offers[src] != nil
}

// take returns and forgets what was offered for src.
func (r *Relay) take(src uint32) (map[uint32][]box.Item, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	o := r.offers[src]
	if o == nil {
		return nil, false
	}
	delete(r.offers, src)
	return o.items, o.lost
}

func (r *Relay) supervise(ctx context.Context) {
	t := time.NewTicker(r.o.Poll)
	defer t.Stop()
	for {
		n := r.o.Cluster.Shards()
		if n < 1 {
			n = 1
		}
		for s := range uint32(n) {
			leader := r.o.Cluster.IsLeader(s)
			r.mu.Lock()
			_, running := r.workers[s]
			switch {
			case leader && !running:
				wctx, cancel := context.WithCancel(ctx)
				ch := make(chan struct{}, 1)
				ch <- struct{}{}
				r.workers[s], r.kicks[s] = cancel, ch
				r.wg.Add(1)
				go func() {
					defer r.wg.Done()
					r.work(wctx, s, ch)
				}()
			case !leader && running:
				r.workers[s]()
				delete(r.workers, s)
				delete(r.kicks, s)
				delete(r.offers, s)
			}
			r.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			r.mu.Lock()
			for s, c := range r.workers {
				c()
				delete(r.workers, s)
				delete(r.kicks, s)
				delete(r.offers, s)
			}
			r.mu.Unlock()
			return
		case <-t.C:
		}
	}
}

// flight is the end of one DeliverBatch (trim: an OutboxTrim) toward dst.
type flight struct {
	dst  uint32
	trim bool
	last uint64 // last seq of the batch (trim: the trimmed position)
	wm   uint64 // the destination's watermark after it
	ok   bool
}

// work relays shard src's outbox while this node leads src. Its cursors start empty: the first query reads
// from the first item kept in the replicated outbox. Up to Depth batches per destination are in flight; a
// batch the destination refused in part (a gap: batches overtook each other) or a failure rewinds the cursor to
// the destination's watermark, so the next batch resends (duplicates are skipped there).
func (r *Relay) work(ctx context.Context, src uint32, kick chan struct{}) {
	log := r.o.Log.With("shard", src)
	log.Debug("relay: worker started")
	var (
		sent     = map[uint32]uint64{} // last seq handed to a batch
		acked    = map[uint32]uint64{} // the destination's watermark
		trimmed  = map[uint32]uint64{} // trimmed by this worker (0 after a leadership change: trims are idempotent)
		inflight = map[uint32]int{}
		trimming = map[uint32]bool{}
		done     = make(chan flight, r.o.Cluster.Shards()*(r.o.Depth+1)+8) // never blocks a sender: at most Depth batches and one trim per destination
		wg       sync.WaitGroup
		query    = true
		quiet    = false // the last query found nothing to send
		failures = 0
		notUntil time.Time
	)
	defer wg.Wait()
	launch := func(dst uint32, items []box.Item) {
		inflight[dst]++
		sent[dst] = items[len(items)-1].Seq
		p := box.Pending{Dst: dst, Items: items}
		wg.Add(1)
		go func() {
			defer wg.Done()
			done <- r.deliver(ctx, log, src, p)
		}()
	}
	// fast sends what this node's apply handed over when it continues exactly where the cursor is; anything
	// else (a gap, a full pipeline, lost offers) is left to the next outbox query.
	fast := func() {
		offered, lost := r.take(src)
		if lost {
			query = true
		}
		for dst, items := range offered {
			i := 0
			for i < len(items) && items[i].Seq <= sent[dst] {
				i++
			}
			items = items[i:]
			for len(items) > 0 {
				if items[0].Seq != sent[dst]+1 || inflight[dst] >= r.o.Depth {
					query = true
					break
				}
				n := min(len(items), r.o.Batch)
				r.fastItems.Add(int64(n))
				launch(dst, items[:n])
				items = items[n:]
			}
		}
	}
	idle := time.NewTimer(r.o.Poll)
	defer idle.Stop()
	for ctx.Err() == nil {
		if query && time.Now().After(notUntil) {
			query = false
			qctx, cancel := context.WithTimeout(ctx, r.o.Timeout)
			b, err := r.o.Cluster.Query(qctx, src, r.o.OutboxQuery, box.OutboxReq{Max: int32(r.o.Batch), After: sent}.Encode())
			cancel()
			var pend []box.Pending
			if err == nil {
				pend, err = box.DecodeOutbox(b)
			}
			quiet = err == nil
			for _, p := range pend {
				quiet = quiet && len(p.Items) == 0
			}
			if err != nil {
				if ctx.Err() == nil {
					log.Warn("relay: read outbox", "err", err)
				}
				failures++
				notUntil = time.Now().Add(r.o.Poll * time.Duration(min(failures, 20)))
				query = true
			}
			for _, p := range pend {
				if len(p.Items) == 0 || inflight[p.Dst] >= r.o.Depth {
					continue
				}
				launch(p.Dst, p.Items)
				if len(p.Items) == r.o.Batch && inflight[p.Dst] < r.o.Depth {
					query = true // more waiting
				}
			}
		}
		for dst, wm := range acked {
			busy := inflight[dst] > 0
			if trimming[dst] || wm <= trimmed[dst] || (busy && wm-trimmed[dst] < r.o.TrimEvery) {
				continue
			}
			trimming[dst] = true
			wg.Add(1)
			go func() {
				defer wg.Done()
				tctx, cancel := context.WithTimeout(ctx, r.o.Timeout)
				_, err := r.o.Cluster.Propose(tctx, src, (&box.OutboxTrim{Dst: dst, Upto: wm}).Command())
				cancel()
				if err != nil && ctx.Err() == nil {
					log.Debug("relay: trim", "dst", dst, "err", err)
				}
				done <- flight{dst: dst, trim: true, last: wm, ok: err == nil}
			}()
		}
		wait := r.o.Poll
		if quiet {
			// Nothing pending: offers wake the worker; the query is only a safety net.
			wait = 10 * r.o.Poll
		}
		for _, n := range inflight {
			if n > 0 {
				wait = r.o.Poll
			}
		}
		if query {
			wait = max(time.Until(notUntil), 0)
		}
		idle.Reset(wait)
		select {
		case <-ctx.Done():
		case <-kick:
			fast()
		case <-idle.C:
			query = true
		case f := <-done:
			if f.trim {
				trimming[f.dst] = false
				if f.ok {
					trimmed[f.dst] = max(trimmed[f.dst], f.last)
				}
				continue
			}
			inflight[f.dst]--
			// A batch taken whole needs no outbox read: what was committed since arrives as offers (fast), and
			// fast asks for a query itself when it cannot continue at the cursor. Reading the outbox after every
			// batch cost a read-index round (VerifyLeader) per batch on the hot path.
			if !f.ok {
				query = true
				failures++
				notUntil = time.Now().Add(r.o.Poll * time.Duration(min(failures, 20)))
				sent[f.dst] = acked[f.dst]
				continue
			}
			failures = 0
			acked[f.dst] = max(acked[f.dst], f.wm)
			if f.wm < f.last {
				log.Debug("relay: batch refused in part (resending)", "dst", f.dst, "watermark", f.wm, "last", f.last)
				sent[f.dst] = acked[f.dst]
				query = true
			}
			if r.pendingOffers(src) {
				fast() // offers that arrived while the pipeline was full
			}
		}
	}
	log.Debug("relay: worker stopped")
}

func (r *Relay) deliver(ctx context.Context, log *slog.Logger, src uint32, p box.Pending) flight {
	last := p.Items[len(p.Items)-1].Seq
	pctx, cancel := context.WithTimeout(ctx, r.o.Timeout)
	defer cancel()
	res, err := r.o.Cluster.Propose(pctx, p.Dst, (&box.DeliverBatch{Src: src, Items: p.Items}).Command())
	if err == nil && res.Err != nil {
		err = res.Err
	}
	var out *box.Result
	if err == nil {
		out, err = box.DecodeResult(res.Value)
	}
	if err != nil {
		if ctx.Err() == nil {
			log.Warn("relay: deliver", "dst", p.Dst, "items", len(p.Items), "err", err)
		}
		return flight{dst: p.Dst, last: last}
	}
	if r.o.OnDelivered != nil && len(out.Applied) > 0 {
		r.o.OnDelivered(ctx, p.Items, out.Applied)
	}
	return flight{dst: p.Dst, last: last, wm: out.Watermark, ok: true}
}
