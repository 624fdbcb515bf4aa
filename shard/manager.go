package shard

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftgram/raftgram/fsm"
)

// ErrUnavailable marks a forwarding failure that a retry may fix (connection refused, reset, timeout).
var ErrUnavailable = errors.New("peer unavailable")

// ConfigChange is a membership change of one group, run on its leader.
type ConfigChange struct {
	Add bool `json:"add"` // false = remove
	// ID is a raft server ID (RaftID) or, for a removal, a bare node id: every incarnation of that node except
	// Except goes. Adding an ID first removes every other incarnation of the same node (it lost its raft state,
	// so its old ID must never vote again).
	ID     string `json:"id"`
	Addr   string `json:"addr"`
	Except string `json:"except,omitempty"`
}

// Forwarder carries requests to another node (node/ implements it over internal RPC). Implementations return
// *NotLeaderError when the remote is not the leader, an error wrapping ErrUnavailable when the remote could not
// be reached, and any other error only when a retry cannot help.
type Forwarder interface {
	ForwardPropose(ctx context.Context, addr string, shard uint32, cmd fsm.Command) (fsm.Result, error)
	ForwardRead(ctx context.Context, addr string, shard uint32, key []byte) ([]byte, bool, error)
	ForwardQuery(ctx context.Context, addr string, shard uint32, query []byte) ([]byte, error)
	ForwardConfig(ctx context.Context, addr string, group uint32, ch ConfigChange) error
}

// Events are hooks node/ turns into metrics. They run on hot paths: keep them cheap.
type Events struct {
	OnLeaderChange func(group uint32, leader bool)
	OnApply        func(group uint32, latency time.Duration)
	OnForward      func(group uint32)
	OnBatch        func(group uint32, commands int) // one raft.Log proposed by the batcher
}

// Options configures a Manager.
type Options struct {
	NodeID string
	// RaftID is this node's raft server ID in every group (RaftID(NodeID, incarnation)); default NodeID.
	RaftID string
	Addr   string // this node's advertised address
	Dir    string // per-group stable stores and snapshots

	FSM       func(group uint32) StateMachine
	Logs      func(group uint32) raft.LogStore
	Transport func(group uint32) raft.StreamLayer
	// Read returns one key of a shard's applied state (fsm.State.Read); called only after a read barrier.
	Read func(shard uint32, key []byte) ([]byte, bool, error)
	// Query runs a domain read (a multi-key view of the shard's state, e.g. a page of history) on the leader
	// after a read barrier; query is opaque to the manager. Nil: Query fails.
	Query func(shard uint32, query []byte) ([]byte, error)
	// Applies reports whether this binary can apply a command type (fsm.State.Applies). Every proposal is
	// checked against it before it is batched or forwarded: a committed unknown type halts replicas.
	Applies   func(fsm.CommandType) bool
	Forwarder Forwarder

	Logger *slog.Logger
	Clock  func() time.Time
	Rand   io.Reader
	Events Events
	// RaftConfig may adjust each group's raft.Config (tests lower SnapshotThreshold).
	RaftConfig func(group uint32, c *raft.Config)

	MaxBatch        int           // commands per raft.Log (default 256)
	MaxBatchBytes   int           // payload bytes per raft.Log (default 1 MiB)
	MaxInflight     int           // batches proposed but not yet applied, per group (default 1; see DESIGN.md)
	ApplyTimeout    time.Duration // raft.Apply enqueue timeout (default 5 s)
	BalanceInterval time.Duration // leadership balancing period (default 3 s; negative disables)
}

func (o *Options) setDefaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.RaftID == "" {
		o.RaftID = o.NodeID
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 256
	}
	if o.MaxBatchBytes <= 0 {
		o.MaxBatchBytes = 1 << 20
	}
	if o.MaxInflight <= 0 {
		o.MaxInflight = 1
	}
	if o.ApplyTimeout <= 0 {
		o.ApplyTimeout = 5 * time.Second
	}
	if o.BalanceInterval == 0 {
		o.BalanceInterval = 3 * time.Second
	}
}

// Manager owns this node's Raft groups.
type Manager struct {
	opts Options
	log  *slog.Logger

	mu        sync.RWMutex
	groups    map[uint32]*Group
	placement *Placement
	closed    bool

	stop    chan struct{}
	started bool
	wg      sync.WaitGroup
}

// NewManager validates options; it opens nothing and starts nothing.
func NewManager(opts Options) (*Manager, error) {
	opts.setDefaults()
	switch {
	case opts.NodeID == "" || opts.Addr == "":
		return nil, errors.New("shard manager: node id and address required")
	case opts.FSM == nil || opts.Logs == nil || opts.Transport == nil || opts.Read == nil || opts.Applies == nil:
		return nil, errors.New("shard manager: FSM, Logs, Transport, Read and Applies required")
	}
	return &Manager{opts: opts, log: opts.Logger, groups: map[uint32]*Group{}, stop: make(chan struct{})}, nil
}

// Open opens (or returns the already open) group id. bootstrap, if non-nil, is applied when the group has no
// state yet (first start of a new cluster).
func (m *Manager) Open(id uint32, bootstrap *raft.Configuration) (*Group, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	if g, ok := m.groups[id]; ok {
		return g, nil
	}
	g, err := m.openGroup(id, bootstrap)
	if err != nil {
		return nil, err
	}
	m.groups[id] = g
	return g, nil
}

// Start starts the leadership balancer.
func (m *Manager) Start() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.started || m.closed || m.opts.BalanceInterval < 0 {
		return
	}
	m.started = true
	m.wg.Add(1)
	go m.balanceLoop()
}

// SetPlacement installs the placement read from the meta group.
func (m *Manager) SetPlacement(p *Placement) {
	m.mu.Lock()
	m.placement = p
	m.mu.Unlock()
}

// Placement returns the current placement (nil before the meta group is read).
func (m *Manager) Placement() *Placement {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.placement
}

// Group returns the open group id or nil.
func (m *Manager) Group(id uint32) *Group {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.groups[id]
}

// Groups returns the open groups sorted by id.
func (m *Manager) Groups() []*Group {
	m.mu.RLock()
	out := make([]*Group, 0, len(m.groups))
	for _, g := range m.groups {
		out = append(out, g)
	}
	m.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// CloseGroup shuts down this node's replica of group id (after it was removed from the group).
func (m *Manager) CloseGroup(id uint32) error {
	m.mu.Lock()
	g, ok := m.groups[id]
	delete(m.groups, id)
	m.mu.Unlock()
	if !ok {
		return nil
	}
	return g.close()
}

// Close shuts down every group and the balancer.
func (m *Manager) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	close(m.stop)
	gs := make([]*Group, 0, len(m.groups))
	for _, g := range m.groups {
		gs = append(gs, g)
	}
	m.groups = map[uint32]*Group{}
	m.mu.Unlock()
	m.wg.Wait()
	var errs []error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, g := range gs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Hand leadership over first, so a planned restart costs the group one transfer, not an
			// election timeout. Best effort: a transfer that fails leaves the election to the followers.
			if g.r.State() == raft.Leader {
				_ = g.r.LeadershipTransfer().Error()
			}
			if err := g.close(); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// NewRequestID returns a fresh request id from the injected randomness.
func (m *Manager) NewRequestID() (id fsm.RequestID, err error) {
	if _, err := io.ReadFull(m.opts.Rand, id[:]); err != nil {
		return id, fmt.Errorf("request id: %w", err)
	}
	return id, nil
}

// stamp gives a command its request id and time once, at the node that first sees it, so every retry and
// forward carries the same id.
func (m *Manager) stamp(cmd *fsm.Command) error {
	if cmd.RequestID == (fsm.RequestID{}) {
		id, err := m.NewRequestID()
		if err != nil {
			return err
		}
		cmd.RequestID = id
	}
	if cmd.Time == 0 {
		cmd.Time = m.opts.Clock().UnixMilli()
	}
	return nil
}

// Propose commits cmd in shard's group and returns its result. It works on any node: the command goes to the
// local batcher when this node leads the shard, otherwise it is forwarded to the leader; leader changes and
// unreachable peers are retried (same request id) until ctx ends.
func (m *Manager) Propose(ctx context.Context, shard uint32, cmd fsm.Command) (fsm.Result, error) {
	if err := m.checkType(shard, cmd.Type); err != nil {
		return fsm.Result{}, err
	}
	if err := m.stamp(&cmd); err != nil {
		return fsm.Result{}, err
	}
	return route(ctx, m, shard,
		func(g *Group) (fsm.Result, error) { return g.submit(ctx, cmd) },
		func(addr string) (fsm.Result, error) { return m.opts.Forwarder.ForwardPropose(ctx, addr, shard, cmd) })
}

// checkType rejects a command type this binary cannot apply, before it is forwarded or batched.
func (m *Manager) checkType(shard uint32, t fsm.CommandType) error {
	if !m.opts.Applies(t) {
		return &UnknownCommandError{Shard: shard, Type: t}
	}
	return nil
}

// ProposeLocal commits cmd only if this node leads the shard (the RPC handler's entry point: no second hop).
func (m *Manager) ProposeLocal(ctx context.Context, shard uint32, cmd fsm.Command) (fsm.Result, error) {
	g := m.Group(shard)
	if g == nil {
		return fsm.Result{}, &NotLeaderError{Shard: shard}
	}
	if err := m.stamp(&cmd); err != nil {
		return fsm.Result{}, err
	}
	return g.submit(ctx, cmd)
}

// Read is a linearizable read of one key of shard's state, served by the shard leader.
func (m *Manager) Read(ctx context.Context, shard uint32, key []byte) ([]byte, bool, error) {
	type kv struct {
		v  []byte
		ok bool
	}
	r, err := route(ctx, m, shard,
		func(g *Group) (kv, error) {
			v, ok, err := m.readLocal(ctx, g, key)
			return kv{v, ok}, err
		},
		func(addr string) (kv, error) {
			v, ok, err := m.opts.Forwarder.ForwardRead(ctx, addr, shard, key)
			return kv{v, ok}, err
		})
	return r.v, r.ok, err
}

// ReadLocal is Read restricted to this node (the RPC handler's entry point).
func (m *Manager) ReadLocal(ctx context.Context, shard uint32, key []byte) ([]byte, bool, error) {
	g := m.Group(shard)
	if g == nil {
		return nil, false, &NotLeaderError{Shard: shard}
	}
	return m.readLocal(ctx, g, key)
}

func (m *Manager) readLocal(ctx context.Context, g *Group, key []byte) ([]byte, bool, error) {
	if err := g.readIndex(ctx); err != nil {
		return nil, false, err
	}
	v, ok, err := m.opts.Read(g.id, key)
	if err != nil {
		return nil, false, fmt.Errorf("shard %d read: %w", g.id, err)
	}
	return v, ok, nil
}

// Query is a linearizable domain read of shard's state (Options.Query), served by the shard leader: a
// multi-key view that cannot be shipped as a key, e.g. a page of a message box.
func (m *Manager) Query(ctx context.Context, shard uint32, query []byte) ([]byte, error) {
	return route(ctx, m, shard,
		func(g *Group) ([]byte, error) { return m.queryLocal(ctx, g, query) },
		func(addr string) ([]byte, error) { return m.opts.Forwarder.ForwardQuery(ctx, addr, shard, query) })
}

// QueryLocal is Query restricted to this node (the RPC handler's entry point).
func (m *Manager) QueryLocal(ctx context.Context, shard uint32, query []byte) ([]byte, error) {
	g := m.Group(shard)
	if g == nil {
		return nil, &NotLeaderError{Shard: shard}
	}
	return m.queryLocal(ctx, g, query)
}

func (m *Manager) queryLocal(ctx context.Context, g *Group, query []byte) ([]byte, error) {
	if m.opts.Query == nil {
		return nil, errors.New("shard manager: no query handler")
	}
	if err := g.readIndex(ctx); err != nil {
		return nil, err
	}
	return m.opts.Query(g.id, query)
}

// IsLeader reports whether this node currently leads shard's group (and may serve reads after a barrier).
func (m *Manager) IsLeader(shard uint32) bool {
	g := m.Group(shard)
	return g != nil && g.r.State() == raft.Leader
}

// Barrier returns once this node, as leader of shard, may serve linearizable reads of it from the local FSM
// (read index confirmed and applied). Domain code calls it before fsm.State.View.
func (m *Manager) Barrier(ctx context.Context, shard uint32) error {
	g := m.Group(shard)
	if g == nil {
		return &NotLeaderError{Shard: shard}
	}
	return g.readIndex(ctx)
}

// ChangeConfig adds or removes a member of group, on its leader wherever that is.
func (m *Manager) ChangeConfig(ctx context.Context, group uint32, ch ConfigChange) error {
	_, err := route(ctx, m, group,
		func(g *Group) (struct{}, error) { return struct{}{}, g.changeConfig(ch) },
		func(addr string) (struct{}, error) {
			return struct{}{}, m.opts.Forwarder.ForwardConfig(ctx, addr, group, ch)
		})
	return err
}

// ChangeConfigLocal runs a membership change only if this node leads group.
func (m *Manager) ChangeConfigLocal(group uint32, ch ConfigChange) error {
	g := m.Group(group)
	if g == nil {
		return &NotLeaderError{Shard: group}
	}
	return g.changeConfig(ch)
}

func (g *Group) changeConfig(ch ConfigChange) error {
	if g.r.State() != raft.Leader {
		return g.notLeader()
	}
	cf := g.r.GetConfiguration()
	if err := cf.Error(); err != nil {
		return g.wrapRaftErr(err)
	}
	node := NodeOf(ch.ID)
	var remove []raft.ServerID
	present := false
	for _, s := range cf.Configuration().Servers {
		id := string(s.ID)
		switch {
		case id == ch.Except:
		case id == ch.ID && ch.Add:
			present = s.Address == raft.ServerAddress(ch.Addr) && s.Suffrage == raft.Voter
		case id == ch.ID:
			remove = append(remove, s.ID)
		case NodeOf(id) == node && (ch.Add || node == ch.ID):
			remove = append(remove, s.ID) // another incarnation of the node
		}
	}
	// Other incarnations go first: they are dead (their node runs this one), and a group is better off with one
	// voter fewer than with a dead voter in a larger quorum.
	for _, id := range remove {
		g.m.log.Info("removing raft member", "group", g.id, "raft_id", id)
		if err := g.r.RemoveServer(id, 0, 30*time.Second).Error(); err != nil {
			return g.wrapRaftErr(err)
		}
	}
	if ch.Add && !present {
		if err := g.r.AddVoter(raft.ServerID(ch.ID), raft.ServerAddress(ch.Addr), 0, 30*time.Second).Error(); err != nil {
			return g.wrapRaftErr(err)
		}
	}
	return nil
}

// route runs local on this node if it leads group, else remote on the believed leader, retrying leader changes
// and unreachable peers with backoff until ctx ends.
func route[T any](ctx context.Context, m *Manager, group uint32, local func(*Group) (T, error), remote func(addr string) (T, error)) (T, error) {
	var zero T
	hint := ""
	backoff := 2 * time.Millisecond
	next, quick := 0, 0
	var last error
	for {
		if err := ctx.Err(); err != nil {
			if last != nil {
				return zero, fmt.Errorf("%w (last error: %v)", err, last)
			}
			return zero, err
		}
		g := m.Group(group)
		if g != nil && g.r.State() == raft.Leader {
			v, err := local(g)
			if err == nil || !Retryable(err) {
				return v, err
			}
			last, hint = err, leaderHint(err)
		} else {
			addr := hint
			hint = ""
			if addr == "" && g != nil {
				a, _ := g.r.LeaderWithID()
				addr = string(a)
			}
			if addr == "" {
				addr = m.replicaAddr(group, &next)
			}
			if addr != "" && addr != m.opts.Addr && m.opts.Forwarder != nil {
				if h := m.opts.Events.OnForward; h != nil {
					h(group)
				}
				v, err := remote(addr)
				if err == nil {
					return v, nil
				}
				if !Retryable(err) && !errors.Is(err, ErrUnavailable) {
					return v, err
				}
				last = err
				if h := leaderHint(err); h != addr {
					hint = h
				}
			} else if g == nil && m.opts.Forwarder == nil {
				return zero, fmt.Errorf("shard %d: %w", group, ErrNoGroup)
			}
		}
		if hint != "" && quick < 2 {
			quick++
			continue // fresh leader hint: try it at once, but never ping-pong between stale hints
		}
		quick = 0
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 100*time.Millisecond)
	}
}

func leaderHint(err error) string {
	var nl *NotLeaderError
	if errors.As(err, &nl) {
		return nl.Leader
	}
	return ""
}

// replicaAddr picks the next replica of group other than this node, round-robin.
func (m *Manager) replicaAddr(group uint32, next *int) string {
	p := m.Placement()
	if p == nil {
		return ""
	}
	var ids []string
	if group == MetaGroup {
		for _, n := range p.Nodes {
			ids = append(ids, n.ID)
		}
	} else if int(group) < len(p.Replicas) {
		ids = p.Replicas[group]
	}
	for range ids {
		id := ids[*next%len(ids)]
		*next++
		if n, ok := p.Node(id); ok && n.ID != m.opts.NodeID {
			return n.Addr
		}
	}
	return ""
}
