package nemesis

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"strings"
	"sync/atomic"
	"time"
)

// Cluster is what faults need from the process harness (node/testcluster through an adapter in the runner).
type Cluster interface {
	Size() int
	Running(i int) bool
	Kill(i int) error
	Restart(i int) error
	Pause(i int) error
	Resume(i int) error
	Wipe(i int) error
	// Leader is the index of the node leading group g, or -1.
	Leader(ctx context.Context, g uint32) int
	// RestartWith restarts a stopped node with extra serve flags for that run.
	RestartWith(i int, args ...string) error
	// Transfer asks node i, the leader of group g, to hand the leadership to another voter.
	Transfer(ctx context.Context, i int, g uint32) error
}

// Env is what a fault acts on.
type Env struct {
	Cluster Cluster
	Net     *Net // nil: partition faults are unavailable
	Shards  int
	Rand    *rand.Rand
	Log     *slog.Logger
}

// Heal undoes a fault.
type Heal func(ctx context.Context) error

// Fault is one kind of failure.
type Fault interface {
	Name() string
	// Start injects the fault; it returns what it did (for the record) and how to undo it.
	Start(ctx context.Context, env *Env) (string, Heal, error)
}

// Names of the faults, for -nemesis. "mixed" is Mixed.
var (
	Mixed = []string{"partition-one", "partition-leader", "partition-bridge", "kill", "kill-leader", "pause",
		"transfer-storm", "clock"}
	All = []string{"partition-one", "partition-leader", "partition-halves", "partition-bridge", "clients", "kill",
		"kill-leader", "pause", "wipe", "transfer-storm", "clock"}
)

// Unsupported names faults that need server support that does not exist yet, with what it would take.
var Unsupported = map[string]string{}

// ByName resolves fault names ("mixed" expands to Mixed).
func ByName(names []string) ([]Fault, error) {
	var out []Fault
	for _, n := range names {
		n = strings.TrimSpace(n)
		switch n {
		case "":
		case "mixed":
			fs, _ := ByName(Mixed)
			out = append(out, fs...)
		case "partition-one":
			out = append(out, partition{n, isolateRandom})
		case "partition-leader":
			out = append(out, partition{n, isolateLeader})
		case "partition-halves":
			out = append(out, partition{n, halves})
		case "partition-bridge":
			out = append(out, partition{n, bridge})
		case "clients":
			out = append(out, clientCut{})
		case "kill":
			out = append(out, proc{n, false})
		case "kill-leader":
			out = append(out, proc{n, true})
		case "pause":
			out = append(out, proc{n, false})
		case "wipe":
			out = append(out, proc{n, false})
		case "transfer-storm":
			out = append(out, transferStorm{})
		case "clock":
			out = append(out, clockSkew{})
		default:
			if why, ok := Unsupported[n]; ok {
				return nil, fmt.Errorf("nemesis %q is not available: %s", n, why)
			}
			return nil, fmt.Errorf("unknown nemesis %q (known: %s, mixed)", n, strings.Join(All, ", "))
		}
	}
	return out, nil
}

// NeedsNet reports whether any fault uses the packet filter.
func NeedsNet(fs []Fault) bool {
	for _, f := range fs {
		switch f.(type) {
		case partition, clientCut:
			return true
		}
	}
	return false
}

type partition struct {
	name  string
	pairs func(ctx context.Context, env *Env) ([]Pair, string)
}

func (p partition) Name() string { return p.name }

func (p partition) Start(ctx context.Context, env *Env) (string, Heal, error) {
	if env.Net == nil {
		return "", nil, fmt.Errorf("%s: no packet filter (nft unavailable)", p.name)
	}
	pairs, desc := p.pairs(ctx, env)
	if err := env.Net.Cut(ctx, pairs...); err != nil {
		return "", nil, err
	}
	heal := func(ctx context.Context) error { return env.Net.Uncut(ctx, pairs...) }
	return fmt.Sprintf("%s; cut %s", desc, fmtPairs(pairs)), heal, nil
}

func fmtPairs(ps []Pair) string {
	var s []string
	for _, p := range ps {
		s = append(s, fmt.Sprintf("n%d×n%d", p[0]+1, p[1]+1))
	}
	return strings.Join(s, " ")
}

func isolate(n, x int) []Pair {
	var out []Pair
	for i := 0; i < n; i++ {
		if i != x {
			out = append(out, Pair{x, i})
		}
	}
	return out
}

func isolateRandom(_ context.Context, env *Env) ([]Pair, string) {
	x := env.Rand.IntN(env.Cluster.Size())
	return isolate(env.Cluster.Size(), x), fmt.Sprintf("isolate n%d", x+1)
}

func isolateLeader(ctx context.Context, env *Env) ([]Pair, string) {
	g := uint32(env.Rand.IntN(max(env.Shards, 1)))
	x := env.Cluster.Leader(ctx, g)
	if x < 0 {
		x = env.Rand.IntN(env.Cluster.Size())
		return isolate(env.Cluster.Size(), x), fmt.Sprintf("shard %d has no leader; isolate n%d", g, x+1)
	}
	return isolate(env.Cluster.Size(), x), fmt.Sprintf("isolate n%d, leader of shard %d", x+1, g)
}

// halves splits the nodes into a random majority and minority.
func halves(_ context.Context, env *Env) ([]Pair, string) {
	perm := env.Rand.Perm(env.Cluster.Size())
	minority := perm[:(len(perm)-1)/2+boolInt(len(perm) == 2)]
	majority := perm[len(minority):]
	var out []Pair
	for _, a := range minority {
		for _, b := range majority {
			out = append(out, Pair{a, b})
		}
	}
	sort.Ints(minority)
	return out, fmt.Sprintf("minority %v | majority", plusOne(minority))
}

// bridge keeps one node connected to both halves of the others, which cannot see each other.
func bridge(_ context.Context, env *Env) ([]Pair, string) {
	perm := env.Rand.Perm(env.Cluster.Size())
	b, rest := perm[0], perm[1:]
	left, right := rest[:len(rest)/2], rest[len(rest)/2:]
	var out []Pair
	for _, a := range left {
		for _, c := range right {
			out = append(out, Pair{a, c})
		}
	}
	return out, fmt.Sprintf("bridge n%d between %v and %v", b+1, plusOne(left), plusOne(right))
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func plusOne(xs []int) []string {
	var out []string
	for _, x := range xs {
		out = append(out, fmt.Sprintf("n%d", x+1))
	}
	return out
}

type clientCut struct{}

func (clientCut) Name() string { return "clients" }

func (clientCut) Start(ctx context.Context, env *Env) (string, Heal, error) {
	if env.Net == nil {
		return "", nil, fmt.Errorf("clients: no packet filter (nft unavailable)")
	}
	x := env.Rand.IntN(env.Cluster.Size())
	if err := env.Net.CutClients(ctx, x); err != nil {
		return "", nil, err
	}
	heal := func(ctx context.Context) error { return env.Net.UncutClients(ctx, x) }
	return fmt.Sprintf("cut clients from n%d", x+1), heal, nil
}

// proc faults act on one process: kill (-9, restart on heal), pause (SIGSTOP, SIGCONT on heal), wipe (kill,
// delete its Raft and state data, restart on heal: it rejoins as a new incarnation and catches up by snapshot).
type proc struct {
	name   string
	leader bool
}

func (p proc) Name() string { return p.name }

func (p proc) Start(ctx context.Context, env *Env) (string, Heal, error) {
	var running []int
	for i := 0; i < env.Cluster.Size(); i++ {
		if env.Cluster.Running(i) {
			running = append(running, i)
		}
	}
	if len(running) == 0 {
		return "", nil, fmt.Errorf("%s: no node running", p.name)
	}
	x := running[env.Rand.IntN(len(running))]
	desc := fmt.Sprintf("n%d", x+1)
	if p.leader {
		g := uint32(env.Rand.IntN(max(env.Shards, 1)))
		if l := env.Cluster.Leader(ctx, g); l >= 0 {
			x, desc = l, fmt.Sprintf("n%d, leader of shard %d", l+1, g)
		}
	}
	restart := func(context.Context) error { return env.Cluster.Restart(x) }
	switch p.name {
	case "pause":
		if err := env.Cluster.Pause(x); err != nil {
			return "", nil, err
		}
		resume := func(context.Context) error {
			if !env.Cluster.Running(x) {
				return nil // another schedule killed it meanwhile; that one restarts it
			}
			return env.Cluster.Resume(x)
		}
		return "SIGSTOP " + desc, resume, nil
	case "wipe":
		if err := env.Cluster.Kill(x); err != nil {
			return "", nil, err
		}
		if err := env.Cluster.Wipe(x); err != nil {
			return "", restart, err
		}
		return "kill -9 + wipe " + desc, restart, nil
	default:
		if err := env.Cluster.Kill(x); err != nil {
			return "", nil, err
		}
		return "kill -9 " + desc, restart, nil
	}
}

// transferStorm moves the leadership of random groups (shards and the meta group) every 150-450 ms while it
// holds: elections without any process or network failure (POST /debug/transfer on the current leader).
type transferStorm struct{}

func (transferStorm) Name() string { return "transfer-storm" }

func (transferStorm) Start(ctx context.Context, env *Env) (string, Heal, error) {
	sctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	rnd := rand.New(rand.NewPCG(env.Rand.Uint64(), env.Rand.Uint64()))
	var moved atomic.Int64
	transfer := func(ctx context.Context) {
		g := uint32(rnd.IntN(max(env.Shards, 1)))
		if l := env.Cluster.Leader(ctx, g); l >= 0 {
			tctx, tcancel := context.WithTimeout(ctx, 3*time.Second)
			if err := env.Cluster.Transfer(tctx, l, g); err == nil {
				moved.Add(1)
			}
			tcancel()
		}
	}
	transfer(ctx) // the first one before Start returns, the rest until healed
	go func() {
		defer close(done)
		for sctx.Err() == nil {
			select {
			case <-sctx.Done():
			case <-time.After(time.Duration(150+rnd.IntN(300)) * time.Millisecond):
				transfer(sctx)
			}
		}
	}()
	heal := func(context.Context) error {
		cancel()
		<-done
		env.Log.Info("transfer storm over", "transfers", moved.Load())
		return nil
	}
	return "leadership transfers of random shards every 150-450 ms", heal, nil
}

// clockSkew restarts one node with its clock shifted by ±(5..60) s (serve --debug-clock-offset, applied to
// every time the node stamps: commands, message dates, code expiry); heal restarts it with the true clock.
type clockSkew struct{}

func (clockSkew) Name() string { return "clock" }

func (clockSkew) Start(ctx context.Context, env *Env) (string, Heal, error) {
	var running []int
	for i := 0; i < env.Cluster.Size(); i++ {
		if env.Cluster.Running(i) {
			running = append(running, i)
		}
	}
	if len(running) == 0 {
		return "", nil, fmt.Errorf("clock: no node running")
	}
	x := running[env.Rand.IntN(len(running))]
	off := time.Duration(5+env.Rand.IntN(56)) * time.Second
	if env.Rand.IntN(2) == 0 {
		off = -off
	}
	if err := env.Cluster.Kill(x); err != nil {
		return "", nil, err
	}
	if err := env.Cluster.RestartWith(x, "--debug-clock-offset="+off.String()); err != nil {
		return "", func(context.Context) error { return env.Cluster.Restart(x) }, err
	}
	heal := func(context.Context) error {
		if env.Cluster.Running(x) {
			if err := env.Cluster.Kill(x); err != nil {
				return err
			}
		}
		return env.Cluster.Restart(x)
	}
	return fmt.Sprintf("n%d restarted with its clock %+v off", x+1, off), heal, nil
}
