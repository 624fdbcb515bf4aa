package shard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"

	"github.com/raftgram/raftgram/fsm"
)

// StateMachine is what a group needs from its replica's state machine (fsm.ShardFSM).
type StateMachine interface {
	raft.BatchingFSM
	AppliedIndex() uint64
	// SnapshotApplied reads the applied index a snapshot of this state machine holds the state of.
	SnapshotApplied(snapshot io.Reader) (uint64, error)
}

// trackedFSM records the highest log index the state machine has finished applying, including configuration
// entries, so the read path knows when the FSM has caught up with a read index.
type trackedFSM struct {
	inner   StateMachine
	applied atomic.Uint64
	// restored runs on raft's FSM goroutine after a successful Restore (a snapshot install) with the state
	// machine's new applied index; raft's main goroutine is waiting for the restore meanwhile.
	restored func(applied uint64)
}

func (t *trackedFSM) bump(i uint64) {
	for {
		cur := t.applied.Load()
		if i <= cur || t.applied.CompareAndSwap(cur, i) {
			return
		}
	}
}

func (t *trackedFSM) Apply(l *raft.Log) interface{} {
	r := t.inner.Apply(l)
	t.bump(l.Index)
	return r
}

func (t *trackedFSM) ApplyBatch(ls []*raft.Log) []interface{} {
	r := t.inner.ApplyBatch(ls)
	if len(ls) > 0 {
		t.bump(ls[len(ls)-1].Index)
	}
	return r
}

func (t *trackedFSM) Snapshot() (raft.FSMSnapshot, error) { return t.inner.Snapshot() }

func (t *trackedFSM) Restore(rc io.ReadCloser) error {
	err := t.inner.Restore(rc)
	applied := t.inner.AppliedIndex()
	t.applied.Store(applied)
	if err == nil && t.restored != nil {
		t.restored(applied)
	}
	return err
}

// proposal is one client command waiting for its batch to commit.
type proposal struct {
	cmd   fsm.Command
	start time.Time
	done  chan outcome
}

type outcome struct {
	res fsm.Result
	err error
}

type inflight struct {
	f     raft.ApplyFuture
	props []*proposal
}

// Group is this node's replica of one Raft group.
type Group struct {
	id     uint32
	m      *Manager
	r      *raft.Raft
	sm     *trackedFSM
	logs   raft.LogStore
	stable *raftboltdb.BoltStore
	trans  *guardedTransport
	layer  raft.StreamLayer

	notify  chan bool
	propose chan *proposal
	waits   chan inflight
	// slots bounds the batches in flight (proposed, not yet applied): while they are all taken, proposals queue
	// up and the next batch carries them all.
	slots chan struct{}
	// readyTerm is the term in which this node, as leader, saw a barrier applied: reads are allowed only then.
	readyTerm atomic.Uint64
	leaderGen atomic.Uint64

	stop chan struct{}
	wg   sync.WaitGroup
	// balanceAfter delays the next leadership transfer attempt after a failed one.
	balanceAfter time.Time
}

// ID is the group id (shard number, or MetaGroup).
func (g *Group) ID() uint32 { return g.id }

// Raft exposes the underlying raft for membership changes and status.
func (g *Group) Raft() *raft.Raft { return g.r }

func (m *Manager) openGroup(id uint32, bootstrap *raft.Configuration) (*Group, error) {
	dir := filepath.Join(m.opts.Dir, fmt.Sprintf("group-%d", id))
	if id == MetaGroup {
		dir = filepath.Join(m.opts.Dir, "group-meta")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("group %d dir: %w", id, err)
	}
	hlog := newHCLog(m.log.With("group", id))
	stable, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, "stable.bolt")})
	if err != nil {
		return nil, fmt.Errorf("group %d stable store: %w", id, err)
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, 2, hlog)
	if err != nil {
		stable.Close()
		return nil, fmt.Errorf("group %d snapshot store: %w", id, err)
	}
	g := &Group{
		id: id, m: m, stable: stable,
		notify:  make(chan bool, 16),
		propose: make(chan *proposal, 4096),
		waits:   make(chan inflight, 1024),
		slots:   make(chan struct{}, m.opts.MaxInflight),
		stop:    make(chan struct{}),
	}
	g.sm = &trackedFSM{inner: m.opts.FSM(id)}
	g.sm.applied.Store(g.sm.inner.AppliedIndex())
	logs, err := raft.NewLogCache(512, m.opts.Logs(id))
	if err != nil {
		stable.Close()
		return nil, fmt.Errorf("group %d log cache: %w", id, err)
	}
	g.logs = logs
	g.sm.restored = g.dropCoveredLog
	g.layer = m.opts.Transport(id)
	g.trans = newGuardedTransport(raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream: g.layer, MaxPool: 3, Timeout: 10 * time.Second, Logger: hlog,
	}))
	conf := m.raftConfig(id, hlog, g.notify)
	fail := func(err error) (*Group, error) {
		g.trans.Close()
		stable.Close()
		return nil, err
	}
	if bootstrap != nil {
		has, err := raft.HasExistingState(g.logs, stable, snaps)
		if err != nil {
			return fail(fmt.Errorf("group %d existing state: %w", id, err))
		}
		if !has {
			if err := raft.BootstrapCluster(conf, g.logs, stable, snaps, g.trans, *bootstrap); err != nil {
				return fail(fmt.Errorf("group %d bootstrap: %w", id, err))
			}
		}
	}
	// The state machine normally survives in Pebble and raft must not restore its snapshot on start. But if the
	// state is behind the newest snapshot (the state dir was lost, or a crash hit between an installed
	// snapshot's files and its restore), raft would skip the entries the snapshot covers: restore it then.
	if behind, at, err := stateBehindSnapshot(g.sm.inner, snaps); err != nil {
		return fail(fmt.Errorf("group %d: %w", id, err))
	} else if behind {
		m.log.Warn("state is behind the newest snapshot: restoring the snapshot on start", "group", id,
			"applied", g.sm.inner.AppliedIndex(), "snapshot_applied", at)
		conf.NoSnapshotRestoreOnStart = false
	}
	r, err := raft.NewRaft(conf, g.sm, g.logs, stable, snaps, g.trans)
	if err != nil {
		return fail(fmt.Errorf("group %d raft: %w", id, err))
	}
	g.r = r
	g.wg.Add(4)
	go g.trans.run(r, g.stop, &g.wg, m.log.With("group", id))
	go g.batchLoop()
	go g.waitLoop()
	go g.watchLeadership()
	return g, nil
}

// stateBehindSnapshot reports whether the newest snapshot holds a later state than sm (compared by the applied
// index in the snapshot's header: the snapshot's raft index may legitimately exceed AppliedIndex by trailing
// no-op and barrier entries, which never reach the FSM).
func stateBehindSnapshot(sm StateMachine, snaps raft.SnapshotStore) (bool, uint64, error) {
	list, err := snaps.List()
	if err != nil || len(list) == 0 {
		return false, 0, err
	}
	_, rc, err := snaps.Open(list[0].ID)
	if err != nil {
		return false, 0, fmt.Errorf("open snapshot %s: %w", list[0].ID, err)
	}
	defer rc.Close()
	at, err := sm.SnapshotApplied(rc)
	if err != nil {
		return false, 0, fmt.Errorf("snapshot %s: %w", list[0].ID, err)
	}
	return at > sm.AppliedIndex(), at, nil
}

func (m *Manager) raftConfig(id uint32, hlog hclogLogger, notify chan bool) *raft.Config {
	c := raft.DefaultConfig()
	c.LocalID = raft.ServerID(m.opts.RaftID)
	c.Logger = hlog
	c.NotifyCh = notify
	c.NoSnapshotRestoreOnStart = true // the state survives in Pebble; the FSM skips entries <= applied
	c.BatchApplyCh = true
	c.MaxAppendEntries = 512
	c.SnapshotThreshold = 8192
	c.TrailingLogs = 10240
	c.SnapshotInterval = 60 * time.Second
	c.NoLegacyTelemetry = true
	// A leader steps down after LeaderLeaseTimeout without a quorum's contact. The library's 500 ms made leaders
	// on an overloaded 2-core box step down during scheduling stalls and start election storms; the full
	// heartbeat timeout costs nothing in failover time (followers still time out after 1-2 s).
	c.LeaderLeaseTimeout = c.HeartbeatTimeout
	if m.opts.RaftConfig != nil {
		m.opts.RaftConfig(id, c)
	}
	return c
}

// batchLoop packs waiting proposals into one raft.Log each. It never waits to fill a batch: it takes what is
// queued right now, so batches grow only while raft is busy with the previous one.
func (g *Group) batchLoop() {
	defer g.wg.Done()
	defer close(g.waits)
	maxN, maxBytes := g.m.opts.MaxBatch, g.m.opts.MaxBatchBytes
	for {
		var first *proposal
		select {
		case first = <-g.propose:
		case <-g.stop:
			return
		}
		select {
		case g.slots <- struct{}{}:
		case <-g.stop:
			first.done <- outcome{err: ErrClosed}
			return
		}
		batch := []*proposal{first}
		size := len(first.cmd.Payload)
	drain:
		for len(batch) < maxN && size < maxBytes {
			select {
			case p := <-g.propose:
				batch = append(batch, p)
				size += len(p.cmd.Payload)
			default:
				break drain
			}
		}
		cmds := make([]fsm.Command, len(batch))
		for i, p := range batch {
			cmds[i] = p.cmd
		}
		data, err := fsm.EncodeBatch(cmds)
		if err != nil {
			<-g.slots
			for _, p := range batch {
				p.done <- outcome{err: fmt.Errorf("encode batch: %w", err)}
			}
			continue
		}
		if h := g.m.opts.Events.OnBatch; h != nil {
			h(g.id, len(batch))
		}
		f := g.r.Apply(data, g.m.opts.ApplyTimeout)
		select {
		case g.waits <- inflight{f: f, props: batch}:
		case <-g.stop:
			for _, p := range batch {
				p.done <- outcome{err: ErrClosed}
			}
			return
		}
	}
}

// waitLoop completes proposals in commit order (a leader's futures resolve in log order).
func (g *Group) waitLoop() {
	defer g.wg.Done()
	for w := range g.waits {
		err := w.f.Error()
		<-g.slots
		var er *fsm.EntryResult
		if err == nil {
			resp := w.f.Response()
			var ok bool
			if er, ok = resp.(*fsm.EntryResult); !ok || er == nil {
				err = fmt.Errorf("unexpected apply response %T", resp)
			} else if er.Err != nil {
				err = er.Err
			} else if len(er.Results) != len(w.props) {
				err = fmt.Errorf("apply returned %d results for %d commands", len(er.Results), len(w.props))
			}
		}
		now := g.m.opts.Clock()
		for i, p := range w.props {
			if err != nil {
				p.done <- outcome{err: err}
				continue
			}
			p.done <- outcome{res: er.Results[i]}
			if h := g.m.opts.Events.OnApply; h != nil {
				h(g.id, now.Sub(p.start))
			}
		}
	}
}

// watchLeadership marks the group read-ready after a barrier in each new leader term. Raft blocks on NotifyCh,
// so this loop never waits on raft itself: the barrier runs on its own goroutine.
func (g *Group) watchLeadership() {
	defer g.wg.Done()
	for {
		select {
		case <-g.stop:
			return
		case leader := <-g.notify:
			g.leaderGen.Add(1)
			if h := g.m.opts.Events.OnLeaderChange; h != nil {
				h(g.id, leader)
			}
			if !leader {
				continue
			}
			g.wg.Add(1)
			go func() {
				defer g.wg.Done()
				term := g.r.CurrentTerm()
				if err := g.r.Barrier(30 * time.Second).Error(); err != nil {
					g.m.log.Debug("barrier after leadership gain failed", "group", g.id, "err", err)
					return
				}
				g.readyTerm.Store(term)
			}()
		}
	}
}

// readIndex implements the read barrier of DESIGN.md invariant 6.
func (g *Group) readIndex(ctx context.Context) error {
	if g.r.State() != raft.Leader {
		return g.notLeader()
	}
	term := g.r.CurrentTerm()
	if g.readyTerm.Load() != term {
		if err := g.r.Barrier(10 * time.Second).Error(); err != nil {
			return g.wrapRaftErr(err)
		}
		g.readyTerm.Store(term)
	}
	idx := g.r.CommitIndex()
	if err := g.r.VerifyLeader().Error(); err != nil {
		return g.wrapRaftErr(err)
	}
	for wait := 50 * time.Microsecond; ; {
		applied := g.sm.applied.Load()
		if applied >= idx || g.onlyNonFSMEntries(applied+1, idx) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("shard %d read index %d (applied %d): %w", g.id, idx, applied, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(wait*2, 5*time.Millisecond)
	}
}

// onlyNonFSMEntries reports whether (from..to) holds only entries the FSM never sees (no-op, barrier), so a
// state machine at from-1 already reflects everything committed up to to.
func (g *Group) onlyNonFSMEntries(from, to uint64) bool {
	if to-from > 8 {
		return false
	}
	var l raft.Log
	for i := from; i <= to; i++ {
		if err := g.logs.GetLog(i, &l); err != nil {
			return false
		}
		if l.Type == raft.LogCommand || l.Type == raft.LogConfiguration {
			return false
		}
	}
	return true
}

func (g *Group) notLeader() error {
	addr, _ := g.r.LeaderWithID()
	return &NotLeaderError{Shard: g.id, Leader: string(addr)}
}

func (g *Group) wrapRaftErr(err error) error {
	if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) {
		return g.notLeader()
	}
	return fmt.Errorf("shard %d: %w", g.id, err)
}

// submit queues one command on this (leader) replica and waits for its outcome.
func (g *Group) submit(ctx context.Context, cmd fsm.Command) (fsm.Result, error) {
	// The one gate every proposal passes before the batcher (local and forwarded alike).
	if err := g.m.checkType(g.id, cmd.Type); err != nil {
		return fsm.Result{}, err
	}
	if g.r.State() != raft.Leader {
		return fsm.Result{}, g.notLeader()
	}
	p := &proposal{cmd: cmd, start: g.m.opts.Clock(), done: make(chan outcome, 1)}
	select {
	case g.propose <- p:
	case <-ctx.Done():
		return fsm.Result{}, ctx.Err()
	case <-g.stop:
		return fsm.Result{}, ErrClosed
	}
	select {
	case o := <-p.done:
		if o.err != nil {
			return fsm.Result{}, g.wrapRaftErr(o.err)
		}
		return o.res, nil
	case <-ctx.Done():
		// The command may still commit; a retry with the same request id is safe.
		return fsm.Result{}, ctx.Err()
	}
}

func (g *Group) close() error {
	close(g.stop)
	err := g.r.Shutdown().Error()
	g.wg.Wait()
	// Drain proposals that never reached raft.
	for {
		select {
		case p := <-g.propose:
			p.done <- outcome{err: ErrClosed}
			continue
		default:
		}
		break
	}
	if cerr := g.trans.Close(); err == nil {
		err = cerr
	}
	if cerr := g.stable.Close(); err == nil {
		err = cerr
	}
	return err
}

// dropCoveredLog runs after a snapshot install restored the state machine to applied: it deletes the log
// prefix the snapshot covers (first..applied) and keeps everything after it. hashicorp/raft itself keeps up to
// TrailingLogs entries below the snapshot, which may be a divergent (never committed) tail this replica got
// from an old leader; deleting them here means this replica can never send them on as a later leader. The
// delete goes through the LogCache, which drops its cached entries. Entries past applied stay: raft's last
// log index still counts them (DESIGN.md "Snapshot installs").
func (g *Group) dropCoveredLog(applied uint64) {
	first, err := g.logs.FirstIndex()
	if err != nil {
		g.m.log.Error("log bounds after snapshot install", "group", g.id, "err", err)
		return
	}
	last, err := g.logs.LastIndex()
	if err != nil || first == 0 || first > applied {
		return
	}
	if err := g.logs.DeleteRange(first, min(applied, last)); err != nil {
		g.m.log.Error("drop log covered by installed snapshot", "group", g.id, "err", err)
	}
}

// guardedTransport is the group's NetworkTransport with two repairs of hashicorp/raft v1.8.0 behaviour: a
// queue in pipelined replication (AppendEntriesPipeline, below) and a filter between the transport and raft:
// an InstallSnapshot whose last index is below what this replica has already applied is refused (error reply),
// never installed.
// Such a request can only come from a stale sender: in hashicorp/raft v1.8.0 a removed server's replication
// goroutine goes on sending to the removed server's address for seconds after the removal (it sleeps out its
// failure backoff, up to ~10 s, before it looks at its stop channel, then makes a best-effort attempt), with
// that server's old next index. After a wipe the address belongs to this node's new incarnation, and raft does
// not check the target ID of an RPC (TestCluster runs show 5-6 such snapshots per wiped node). Installing it would move the state
// machine backwards and leave raft expecting entries the log does not hold. Everything else, including the
// heartbeat fast path and the optional interfaces raft probes (pre-vote, close), is the embedded transport's.
type guardedTransport struct {
	*raft.NetworkTransport
	ch chan raft.RPC
}

// errStaleSnapshot is the refusal the sender sees (its replication logs it and moves on).
var errStaleSnapshot = errors.New("snapshot older than the applied state refused")

func newGuardedTransport(t *raft.NetworkTransport) *guardedTransport {
	return &guardedTransport{NetworkTransport: t, ch: make(chan raft.RPC)}
}

// Consumer is what raft reads its RPCs from.
func (t *guardedTransport) Consumer() <-chan raft.RPC { return t.ch }

// run forwards RPCs to raft until stop. On a follower the applied index moves only inside the RPCs raft takes
// from this channel one at a time, so the check cannot go stale before raft sees the request.
func (t *guardedTransport) run(r *raft.Raft, stop <-chan struct{}, wg *sync.WaitGroup, log *slog.Logger) {
	defer wg.Done()
	in := t.NetworkTransport.Consumer()
	for {
		var rpc raft.RPC
		select {
		case rpc = <-in:
		case <-stop:
			return
		}
		if req, ok := rpc.Command.(*raft.InstallSnapshotRequest); ok {
			if applied := r.AppliedIndex(); req.LastLogIndex < applied {
				log.Warn("refused a stale snapshot", "index", req.LastLogIndex, "term", req.Term,
					"applied", applied, "from", string(req.ID))
				// The snapshot's bytes follow on the connection: consume them before answering.
				_, _ = io.Copy(io.Discard, rpc.Reader)
				rpc.Respond(&raft.InstallSnapshotResponse{Term: r.CurrentTerm()},
					fmt.Errorf("%w: index %d < applied %d", errStaleSnapshot, req.LastLogIndex, applied))
				continue
			}
		}
		select {
		case t.ch <- rpc:
		case <-stop:
			rpc.Respond(nil, raft.ErrRaftShutdown)
			return
		}
	}
}

// AppendEntriesPipeline wraps the transport's pipeline so that its response decoder can never park.
// hashicorp/raft v1.8.0 with MaxRPCsInFlight 2 (the default) has unbuffered pipeline channels: when a follower
// answers Success=false or a newer term, raft's pipelineDecode returns, the transport's decoder then blocks
// handing over the next response, and the next pipelined send blocks behind it for good. The replication
// goroutine never closes the pipeline, the follower gets heartbeats but no entries until the leader restarts,
// and Shutdown waits forever (seen as a hung Manager.Close in TestWipedNodeRejoinsAsNewIncarnation; upstream
// hashicorp/raft issue #612). Draining the responses into a queue keeps the decoder moving; raft still reads
// them in order, and the queue only grows between pipelineDecode returning and raft closing the pipeline.
func (t *guardedTransport) AppendEntriesPipeline(id raft.ServerID, target raft.ServerAddress) (raft.AppendPipeline, error) {
	p, err := t.NetworkTransport.AppendEntriesPipeline(id, target)
	if err != nil {
		return nil, err
	}
	d := &drainedPipeline{AppendPipeline: p, out: make(chan raft.AppendFuture), stop: make(chan struct{}),
		done: make(chan struct{})}
	go d.run()
	return d, nil
}

type drainedPipeline struct {
	raft.AppendPipeline
	out       chan raft.AppendFuture
	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
}

func (p *drainedPipeline) run() {
	defer close(p.done)
	in := p.AppendPipeline.Consumer()
	var q []raft.AppendFuture
	for {
		var out chan raft.AppendFuture
		var head raft.AppendFuture
		if len(q) > 0 {
			out, head = p.out, q[0]
		}
		select {
		case f := <-in:
			q = append(q, f)
		case out <- head:
			q[0] = nil
			q = q[1:]
		case <-p.stop:
			return
		}
	}
}

// Consumer returns the completed futures in send order.
func (p *drainedPipeline) Consumer() <-chan raft.AppendFuture { return p.out }

// Close closes the transport's pipeline and stops the drain.
func (p *drainedPipeline) Close() error {
	p.closeOnce.Do(func() {
		p.closeErr = p.AppendPipeline.Close()
		close(p.stop)
		<-p.done
	})
	return p.closeErr
}
