package node

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftgram/raftgram/fsm"
	"github.com/raftgram/raftgram/node/mux"
	"github.com/raftgram/raftgram/node/rpc"
	"github.com/raftgram/raftgram/shard"
	"github.com/raftgram/raftgram/shard/raftlog"
)

// Gateway is the hook for the MTProto gateway (wired by the coordinator): Start runs once the node serves,
// Close before the node stops. It reaches the cluster only through Node.Propose, Node.Read and Node.State.
type Gateway interface {
	Start(ctx context.Context, n *Node) error
	Close() error
}

// Config configures a node. Empty address fields fall back to node.json.
type Config struct {
	DataDir   string
	Listen    string
	Advertise string
	Admin     string
	// DebugAPI enables /debug/kv on the admin address (tests, benchmarks, dev mode): unauthenticated writes.
	DebugAPI bool
	Logger   *slog.Logger
	Clock    func() time.Time
	Rand     io.Reader
	// RaftConfig adjusts each group's raft.Config (tests lower SnapshotThreshold).
	RaftConfig      func(group uint32, c *raft.Config)
	BalanceInterval time.Duration
	// BatchInflight bounds each group's proposed-but-unapplied batches (shard.Options.MaxInflight).
	BatchInflight int
	Gateway       Gateway
	// Appliers are domain command appliers registered on the state machine before any group opens.
	Appliers map[fsm.CommandType]fsm.Applier
	// Queries are domain read queries (Node.Query), served on shard leaders.
	Queries map[QueryType]QueryFunc
	// AdminHandlers are extra endpoints of the admin HTTP server (operator tools such as /codes).
	AdminHandlers map[string]http.Handler
}

func (c *Config) setDefaults() {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Rand == nil {
		c.Rand = rand.Reader
	}
}

// Node is one running cluster member.
type Node struct {
	cfg Config
	log *slog.Logger
	dd  *DataDir
	// raftID is this node's raft server ID: node id ~ incarnation (set by Start).
	raftID string

	state   *fsm.State
	logs    *raftlog.Store
	mux     *mux.Mux
	rpcSrv  *rpc.Server
	rpcCli  *rpc.Client
	shards  *shard.Manager
	admin   *http.Server
	adminLn net.Listener
	metrics *metrics
	// domainRPC holds the internal RPC methods domain code registered (Extend, before Start).
	domainRPC map[byte]rpc.HandlerFunc

	ready atomic.Bool
	// fileMu guards dd.File and its saves after Start.
	fileMu  sync.Mutex
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	closeMu sync.Mutex
	closed  bool
}

// New loads the data dir and validates the config. It opens no database and starts nothing.
func New(cfg Config) (*Node, error) {
	cfg.setDefaults()
	dd, err := OpenDataDir(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	if cfg.Listen != "" {
		dd.File.Listen = cfg.Listen
	}
	if cfg.Advertise != "" {
		dd.File.Advertise = cfg.Advertise
	} else if cfg.Listen != "" {
		dd.File.Advertise = cfg.Listen
	}
	if cfg.Admin != "" {
		dd.File.Admin = cfg.Admin
	}
	if dd.File.Advertise == "" {
		dd.File.Advertise = dd.File.Listen
	}
	log := cfg.Logger.With("node", dd.File.NodeID)
	return &Node{cfg: cfg, log: log, dd: dd, metrics: newMetrics()}, nil
}

// ID is this node's id.
func (n *Node) ID() string { return n.dd.File.NodeID }

// Addr is this node's advertised cluster address (the TLS port).
func (n *Node) Addr() string { return n.dd.File.Advertise }

// AdminAddr is the bound admin HTTP address ("" if disabled).
func (n *Node) AdminAddr() string {
	if n.adminLn == nil {
		return ""
	}
	return n.adminLn.Addr().String()
}

// Shards is the cluster's shard count.
func (n *Node) Shards() int { return n.dd.File.Shards }

// DataDir exposes the data dir (credentials for the gateway: RSA key, cluster secret).
func (n *Node) DataDir() *DataDir { return n.dd }

// DebugAPI reports whether the node serves the debug endpoints (Config.DebugAPI): domains add theirs only then.
func (n *Node) DebugAPI() bool { return n.cfg.DebugAPI }

// State is the node's state machine (domain reads after Barrier).
func (n *Node) State() *fsm.State { return n.state }

// Manager is the shard manager.
func (n *Node) Manager() *shard.Manager { return n.shards }

// Propose commits cmd in shard on its leader, wherever it is.
func (n *Node) Propose(ctx context.Context, s uint32, cmd fsm.Command) (fsm.Result, error) {
	return n.shards.Propose(ctx, s, cmd)
}

// Read is a linearizable read of one key of shard s.
func (n *Node) Read(ctx context.Context, s uint32, key []byte) ([]byte, bool, error) {
	return n.shards.Read(ctx, s, key)
}

// Start opens storage, listens, opens this node's groups and starts serving. The context only bounds startup.
func (n *Node) Start(ctx context.Context) (err error) {
	n.ctx, n.cancel = context.WithCancel(context.Background())
	defer func() {
		if err != nil {
			n.Close()
		}
	}()
	if n.raftID, err = n.loadIncarnation(); err != nil {
		return err
	}
	f := n.dd.File
	if n.state, err = fsm.Open(filepath.Join(n.dd.Path, "state"), fsm.Options{Logger: n.log}); err != nil {
		return fmt.Errorf("open state: %w", err)
	}
	for t, a := range n.cfg.Appliers {
		n.state.Register(t, a)
	}
	if n.logs, err = raftlog.Open(filepath.Join(n.dd.Path, "raftlog"), raftlog.Options{Logger: n.log}); err != nil {
		return fmt.Errorf("open raft log: %w", err)
	}
	ln, err := net.Listen("tcp", f.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", f.Listen, err)
	}
	if f.Advertise == "" || isPortZero(f.Advertise) {
		n.dd.File.Advertise = ln.Addr().String()
	}
	n.mux, err = mux.New(ln, mux.Options{Advertise: n.dd.File.Advertise, Server: n.dd.ID.ServerTLS(),
		Client: n.dd.ID.ClientTLS(), Logger: n.log})
	if err != nil {
		ln.Close()
		return err
	}
	n.rpcCli = rpc.NewClient(func(ctx context.Context, addr string) (net.Conn, error) {
		return n.mux.Dial(ctx, addr, mux.KindRPC, 0)
	}, 4)
	n.rpcSrv = rpc.NewServer(n.log)
	n.registerRPC()
	n.mux.HandleRPC(n.serveRPCConn)
	n.mux.HandleJoin(n.serveJoin)

	n.shards, err = shard.NewManager(shard.Options{
		NodeID: f.NodeID, RaftID: n.raftID, Addr: n.dd.File.Advertise, Dir: filepath.Join(n.dd.Path, "raft"),
		FSM:       func(g uint32) shard.StateMachine { return n.state.Shard(g) },
		Logs:      func(g uint32) raft.LogStore { return n.logs.Group(uint64(g)) },
		Transport: func(g uint32) raft.StreamLayer { return n.mux.Layer(g) },
		Read:      n.state.Read,
		Query:     n.runQuery,
		Applies:   n.state.Applies,
		Forwarder: forwarder{n},
		Logger:    n.log, Clock: n.cfg.Clock, Rand: n.cfg.Rand,
		Events:          n.metrics.events(),
		RaftConfig:      n.cfg.RaftConfig,
		BalanceInterval: n.cfg.BalanceInterval,
		MaxInflight:     n.cfg.BatchInflight,
	})
	if err != nil {
		return err
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if err := n.mux.Serve(); err != nil {
			n.log.Error("cluster listener stopped", "err", err)
		}
	}()
	if len(f.JoinVia) == 0 {
		// A joining node opens no group before the cluster has dropped any older incarnation of it
		// (completeJoin): that incarnation's votes are forgotten, and it listened on this same address.
		if err := n.openGroups(n.localPlacement(), nil); err != nil {
			return err
		}
	}
	n.shards.Start()
	if err := n.startAdmin(); err != nil {
		return err
	}
	n.metrics.register(n)
	n.wg.Add(1)
	go n.watchPlacement()
	if len(f.JoinVia) > 0 {
		n.wg.Add(1)
		go n.completeJoin()
	}
	if n.cfg.Gateway != nil {
		if err := n.cfg.Gateway.Start(ctx, n); err != nil {
			return fmt.Errorf("start gateway: %w", err)
		}
	}
	n.log.Info("node serving", "addr", n.Addr(), "admin", n.AdminAddr(), "shards", f.Shards)
	return nil
}

// openGroups opens the meta group and the shard groups this node knows it holds: all of them on a bootstrap
// node, those the placement (the local meta replica's, or the one admission returned) gives it, the ones the
// join response named (join) and the cached Held list (a node whose state was lost opens them at once; the
// leaders catch it up by snapshot).
func (n *Node) openGroups(p *shard.Placement, join []uint32) error {
	n.fileMu.Lock()
	f := n.dd.File
	n.fileMu.Unlock()
	var boot *raft.Configuration
	if f.Bootstrap {
		boot = &raft.Configuration{Servers: []raft.Server{{Suffrage: raft.Voter,
			ID: raft.ServerID(n.raftID), Address: raft.ServerAddress(n.Addr())}}}
	}
	if _, err := n.shards.Open(shard.MetaGroup, boot); err != nil {
		return err
	}
	for s := 0; s < f.Shards; s++ {
		hold := f.Bootstrap || slices.Contains(join, uint32(s)) || slices.Contains(f.Held, uint32(s)) ||
			(p != nil && p.Holds(f.NodeID, uint32(s)))
		if !hold {
			continue
		}
		if _, err := n.shards.Open(uint32(s), boot); err != nil {
			return err
		}
	}
	if p != nil {
		n.shards.SetPlacement(p)
	}
	return nil
}

// localPlacement reads the placement from the local meta replica (not linearizable: a routing hint).
func (n *Node) localPlacement() *shard.Placement {
	b, ok, err := n.state.Read(shard.MetaGroup, []byte(keyPlacement))
	if err != nil || !ok {
		return nil
	}
	p, err := shard.UnmarshalPlacement(b)
	if err != nil {
		n.log.Error("bad placement in meta group", "err", err)
		return nil
	}
	return p
}

const (
	keyPlacement   = "placement"
	keyTokenPrefix = "token/"
)

// watchPlacement keeps the manager's placement fresh, opens groups this node gained, writes the first
// placement on a bootstrap node, and maintains readiness.
func (n *Node) watchPlacement() {
	defer n.wg.Done()
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
		}
		p := n.localPlacement()
		if p == nil {
			n.fileMu.Lock()
			boot := n.dd.File.Bootstrap
			n.fileMu.Unlock()
			if boot {
				n.writeFirstPlacement()
			}
			n.ready.Store(false)
			continue
		}
		n.shards.SetPlacement(p)
		var held []uint32
		for s := 0; s < p.Shards; s++ {
			if p.Holds(n.ID(), uint32(s)) {
				held = append(held, uint32(s))
			}
		}
		var peers []string
		for _, ni := range p.Nodes {
			if ni.ID != n.ID() {
				peers = append(peers, ni.Addr)
			}
		}
		n.fileMu.Lock()
		if n.dd.File.Bootstrap || !slices.Equal(held, n.dd.File.Held) || !slices.Equal(peers, n.dd.File.Peers) {
			n.dd.File.Bootstrap = false // the cluster exists: a wiped restart must never bootstrap again
			n.dd.File.Held = held
			n.dd.File.Peers = peers
			if err := n.dd.Save(); err != nil {
				n.log.Error("save node.json", "err", err)
			}
		}
		n.fileMu.Unlock()
		for s := 0; s < p.Shards; s++ {
			if p.Holds(n.ID(), uint32(s)) && n.shards.Group(uint32(s)) == nil {
				if _, err := n.shards.Open(uint32(s), nil); err != nil {
					n.log.Error("open group", "group", s, "err", err)
				}
			}
		}
		n.closeMovedGroups(p)
		n.ready.Store(n.allLeadersKnown(p))
	}
}

func (n *Node) writeFirstPlacement() {
	g := n.shards.Group(shard.MetaGroup)
	if g == nil || g.Raft().State() != raft.Leader {
		return
	}
	p, err := shard.NewPlacement(n.dd.File.Shards, []shard.NodeInfo{{ID: n.ID(), Addr: n.Addr()}})
	if err != nil {
		n.log.Error("placement", "err", err)
		return
	}
	b, _ := p.Marshal()
	ctx, cancel := context.WithTimeout(n.ctx, 10*time.Second)
	defer cancel()
	if _, _, err := n.casMeta(ctx, keyPlacement, nil, b); err != nil {
		n.log.Warn("write first placement", "err", err)
	}
}

// allLeadersKnown: the meta group and every shard the placement gives this node are open and have a leader.
func (n *Node) allLeadersKnown(p *shard.Placement) bool {
	ids := []uint32{shard.MetaGroup}
	for s := 0; s < p.Shards; s++ {
		if p.Holds(n.ID(), uint32(s)) {
			ids = append(ids, uint32(s))
		}
	}
	for _, id := range ids {
		g := n.shards.Group(id)
		if g == nil {
			return false
		}
		if _, lid := g.Raft().LeaderWithID(); lid == "" {
			return false
		}
	}
	return true
}

// closeMovedGroups shuts down replicas of shards the placement no longer gives this node, once this replica has
// seen a group configuration without this node (the move committed).
func (n *Node) closeMovedGroups(p *shard.Placement) {
	n.fileMu.Lock()
	joining := len(n.dd.File.JoinVia) > 0
	n.fileMu.Unlock()
	if joining {
		return // our meta replica may still show a placement from before our admission
	}
	for _, g := range n.shards.Groups() {
		if g.ID() == shard.MetaGroup || p.Holds(n.ID(), g.ID()) {
			continue
		}
		f := g.Raft().GetConfiguration()
		if f.Error() != nil {
			continue
		}
		servers := f.Configuration().Servers
		member := len(servers) == 0 // never configured: our replica has not heard from the group yet, keep it
		for _, s := range servers {
			member = member || shard.NodeOf(string(s.ID)) == n.ID()
		}
		if member {
			continue
		}
		n.log.Info("closing replica of a shard moved away", "group", g.ID())
		if err := n.shards.CloseGroup(g.ID()); err != nil {
			n.log.Warn("close group", "group", g.ID(), "err", err)
		}
	}
}

// Ready reports whether this node knows a leader for every group it holds.
func (n *Node) Ready() bool { return n.ready.Load() }

// Close stops the gateway, the admin server, the groups, the listener and the stores, in that order.
func (n *Node) Close() error {
	n.closeMu.Lock()
	defer n.closeMu.Unlock()
	if n.closed {
		return nil
	}
	n.closed = true
	var errs []error
	if n.cfg.Gateway != nil && n.shards != nil {
		errs = append(errs, n.cfg.Gateway.Close())
	}
	if n.cancel != nil {
		n.cancel()
	}
	if n.admin != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		errs = append(errs, n.admin.Shutdown(ctx))
		cancel()
	}
	if n.shards != nil {
		errs = append(errs, n.shards.Close())
	}
	if n.rpcCli != nil {
		n.rpcCli.Close()
	}
	if n.mux != nil {
		errs = append(errs, n.mux.Close())
	}
	n.wg.Wait()
	if n.logs != nil {
		errs = append(errs, n.logs.Close())
	}
	if n.state != nil {
		errs = append(errs, n.state.Close())
	}
	return errors.Join(errs...)
}

func isPortZero(addr string) bool {
	_, port, err := net.SplitHostPort(addr)
	return err == nil && port == "0"
}
