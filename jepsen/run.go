package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gwcrypto "github.com/raftgram/raftgram/gateway/crypto"
	"github.com/raftgram/raftgram/jepsen/client"
	"github.com/raftgram/raftgram/jepsen/history"
	"github.com/raftgram/raftgram/jepsen/nemesis"
	"github.com/raftgram/raftgram/jepsen/report"
	"github.com/raftgram/raftgram/jepsen/validate"
	"github.com/raftgram/raftgram/jepsen/workload"
	"github.com/raftgram/raftgram/node/testcluster"
)

// Config is one run.
type Config struct {
	Duration  time.Duration // how long workloads and faults run (default 5 m)
	Workloads []string      // register, claim, set
	Nemeses   []string      // nemesis names or "mixed"; empty: no faults
	Hold      time.Duration // a fault stays about this long (default 6 s)
	Quiet     time.Duration // healthy time between faults (default 6 s)
	Streams   int           // concurrent fault schedules, so faults overlap (default 1)
	Clients   int           // concurrent clients per workload (default 6)
	Shards    int           // default 3
	OpTimeout time.Duration // one operation's client timeout (default 5 s)
	// MTProto workload sizes: messenger users (2 devices each, default 4), profile owners (2 devices each,
	// default 3), username claimers (one device each, default 6). Every device costs a new auth key, seconds
	// of client CPU under -race.
	MsgUsers, Owners, Claimers int
	Seed                       uint64
	Out                        string // output directory (required)
	Keep                       bool   // keep the nodes' data dirs
	Command                    string // how to reproduce, for the report
	Log                        *slog.Logger
	Now                        func() time.Time
}

func (c *Config) setDefaults() {
	if c.Duration == 0 {
		c.Duration = 5 * time.Minute
	}
	if len(c.Workloads) == 0 {
		c.Workloads = DefaultWorkloads
	}
	if c.Hold == 0 {
		c.Hold = 6 * time.Second
	}
	if c.Quiet == 0 {
		c.Quiet = 6 * time.Second
	}
	if c.Shards == 0 {
		c.Shards = 3
	}
	if c.MsgUsers == 0 {
		c.MsgUsers = 4
	}
	if c.Owners == 0 {
		c.Owners = 3
	}
	if c.Claimers == 0 {
		c.Claimers = 6
	}
	if c.Log == nil {
		c.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Summary is what a run produced (also written as summary.json).
type Summary struct {
	Out      string            `json:"out"`
	Seed     uint64            `json:"seed"`
	Duration string            `json:"duration"`
	Ops      map[string]int    `json:"ops"`      // f:outcome -> count
	Injected map[string]int    `json:"injected"` // fault -> times started
	Results  []validate.Result `json:"results"`
	Valid    bool              `json:"valid"`
	Notes    []string          `json:"notes,omitempty"`
}

const nodes = 3

// DefaultWorkloads run when none are named: the KV ones over the debug API and the messenger's over MTProto.
var DefaultWorkloads = []string{"register", "claim", "set", "messages", "profile", "username"}

// devCode is the login code the nodes accept for every phone (MTProto workloads sign users up with it).
const devCode = "22222"

func needsMTProto(ws []string) bool {
	for _, w := range ws {
		switch strings.TrimSpace(w) {
		case "messages", "profile", "username":
			return true
		}
	}
	return false
}

// Run performs one run end to end. It can run once per process: testcluster builds (or picks) its binary once.
func Run(ctx context.Context, cfg Config) (*Summary, error) {
	cfg.setDefaults()
	log := cfg.Log
	if cfg.Out == "" {
		return nil, errors.New("jepsen: Out required")
	}
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return nil, fmt.Errorf("jepsen: %w", err)
	}
	faults, err := nemesis.ByName(cfg.Nemeses)
	if err != nil {
		return nil, err
	}
	sum := &Summary{Out: cfg.Out, Seed: cfg.Seed}
	note := func(format string, args ...any) {
		s := fmt.Sprintf(format, args...)
		sum.Notes = append(sum.Notes, s)
		log.Warn(s)
	}

	// The binary, wrapped so every node runs in its own cgroup when partitions are wanted.
	bin, err := buildBinary(ctx, cfg.Out)
	if err != nil {
		return nil, err
	}
	if !cfg.Keep {
		defer os.RemoveAll(filepath.Join(cfg.Out, "bin"))
	}
	var cg *nemesis.Cgroups
	if nemesis.NeedsNet(faults) {
		cg, err = setupNet(ctx, log, cfg.Out, bin)
		if err != nil {
			note("partition and client-cut nemeses disabled: %v", err)
			faults = withoutNet(faults)
			if err := os.Setenv("RAFTGRAM_BIN", bin); err != nil {
				return nil, err
			}
		} else {
			defer func() {
				if err := cg.Close(); err != nil {
					log.Warn("cgroup cleanup", "err", err)
				}
			}()
		}
	} else if err := os.Setenv("RAFTGRAM_BIN", bin); err != nil {
		return nil, err
	}

	clusterDir := filepath.Join(cfg.Out, "cluster")
	startCtx, cancelStart := context.WithTimeout(ctx, 3*time.Minute)
	mt := needsMTProto(cfg.Workloads)
	copts := testcluster.Options{Nodes: nodes, Shards: cfg.Shards, Dir: clusterDir}
	if mt {
		copts.Client, copts.DevCode = true, devCode
	}
	c, err := testcluster.Start(startCtx, copts)
	cancelStart()
	if err != nil {
		return nil, fmt.Errorf("jepsen: start cluster: %w", err)
	}
	defer func() {
		c.Close()
		if !cfg.Keep {
			for _, n := range c.Nodes {
				_ = os.RemoveAll(n.Dir)
			}
		}
	}()
	var nt *nemesis.Net
	if cg != nil {
		nt, err = netFor(cg, c)
		if err != nil {
			note("partition and client-cut nemeses disabled: %v", err)
			faults = withoutNet(faults)
		}
	}

	hf, err := os.Create(filepath.Join(cfg.Out, "history.jsonl"))
	if err != nil {
		return nil, fmt.Errorf("jepsen: %w", err)
	}
	defer hf.Close()
	rec := history.NewRecorder(cfg.Now, hf)
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x6a657073656e))
	admins := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		admins[i] = n.Admin
	}
	kv := client.NewKV(rec, client.KVOptions{Admin: admins, SourceIP: clientSource, Timeout: cfg.OpTimeout,
		Rand: rand.New(rand.NewPCG(cfg.Seed, 1))})
	defer kv.Close()
	procs := new(atomic.Int64)
	var mtOpts client.MTOptions
	if mt {
		pem, err := c.PublicKeyPEM()
		if err != nil {
			return nil, fmt.Errorf("jepsen: public key: %w", err)
		}
		pub, err := gwcrypto.ParsePublicPEM(pem)
		if err != nil {
			return nil, fmt.Errorf("jepsen: public key: %w", err)
		}
		mtOpts = client.MTOptions{PublicKey: pub, DevCode: devCode, SourceIP: clientSource, Timeout: cfg.OpTimeout,
			Log: log}
		for _, n := range c.Nodes {
			mtOpts.Addrs = append(mtOpts.Addrs, n.Client)
		}
	}
	var mtRegs *client.MTRegisters // shared by profile and username
	regs := func() *client.MTRegisters {
		if mtRegs == nil {
			mtRegs = client.NewMTRegisters(rec, mtOpts, cfg.Owners, 2, cfg.Claimers, "1556")
		}
		return mtRegs
	}
	var setups []func(context.Context) error
	var wls []workload.Workload
	for i, name := range cfg.Workloads {
		seed := cfg.Seed + uint64(i)*1000
		o := workload.Options{KV: kv, Nodes: len(c.Nodes), Clients: cfg.Clients, Procs: procs, Seed: seed}
		switch strings.TrimSpace(name) {
		case "register":
			wls = append(wls, workload.NewRegister(o))
		case "claim":
			wls = append(wls, workload.NewClaim(o))
		case "set":
			wls = append(wls, workload.NewSet(o))
		case "messages":
			m := client.NewMTMessenger(rec, mtOpts, cfg.MsgUsers, 2, "1555", seed)
			defer m.Close()
			setups = append(setups, m.Setup)
			wls = append(wls, &workload.Messages{M: client.NewMessages(rec, m), Users: cfg.MsgUsers, Devices: 2, Procs: procs,
				Seed: seed, Pace: 40 * time.Millisecond, Background: m.Run, Settle: m.Settle, Pts: true})
		case "profile":
			r := mtRegs
			if r == nil {
				r = regs()
				defer r.Close()
				setups = append(setups, r.Setup)
			}
			wls = append(wls, &workload.Profile{R: r, Procs: procs, Seed: seed})
		case "username":
			r := mtRegs
			if r == nil {
				r = regs()
				defer r.Close()
				setups = append(setups, r.Setup)
			}
			wls = append(wls, &workload.Username{R: r, Procs: procs, Seed: seed})
		default:
			return nil, fmt.Errorf("jepsen: unknown workload %q (register, claim, set, messages, profile, username)", name)
		}
	}
	// Sign the MTProto users up before any fault (one driver at a time: the 2 cores are shared).
	for _, setup := range setups {
		t0 := time.Now()
		sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		err := setup(sctx)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("jepsen: MTProto setup: %w", err)
		}
		log.Info("MTProto clients signed in", "took", time.Since(t0).Round(time.Millisecond))
	}

	env := &nemesis.Env{Cluster: tcCluster{c}, Net: nt, Shards: cfg.Shards, Rand: rng, Log: log}
	var scheds []*nemesis.Schedule
	for k := 0; k < max(cfg.Streams, 1); k++ {
		ek := *env
		if k > 0 { // each stream draws from its own generator (rand.Rand is not safe for concurrent use)
			ek.Rand = rand.New(rand.NewPCG(cfg.Seed, 0x6a657073656e+uint64(k)))
		}
		scheds = append(scheds, &nemesis.Schedule{Env: &ek, Faults: faults, Rec: rec, Process: history.NemesisProcess - k,
			Hold: cfg.Hold, Quiet: cfg.Quiet})
	}
	log.Info("running", "duration", cfg.Duration, "workloads", cfg.Workloads, "faults", faultNames(faults), "out", cfg.Out)
	runCtx, cancel := context.WithTimeout(ctx, cfg.Duration)
	var wg sync.WaitGroup
	errs := make(chan error, len(wls)+len(scheds))
	for _, w := range wls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.Run(runCtx); err != nil {
				errs <- fmt.Errorf("%s: %w", w.Name(), err)
			}
		}()
	}
	for _, sched := range scheds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := sched.Run(runCtx); err != nil {
				errs <- fmt.Errorf("nemesis: %w", err)
			}
		}()
	}
	wg.Wait()
	cancel()
	close(errs)
	for err := range errs {
		note("%v", err)
	}

	// Heal everything, let the cluster recover, then read what the checkers need.
	healCtx, cancelHeal := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancelHeal()
	crashed := crashedNodes(c)
	if err := nemesis.HealAll(healCtx, env); err != nil {
		note("heal: %v", err)
	}
	if err := c.WaitReady(healCtx); err != nil {
		note("cluster not ready after healing: %v", err)
	}
	for _, w := range wls {
		if err := w.Final(healCtx); err != nil {
			note("final reads of %s: %v", w.Name(), err)
		}
	}
	if err := rec.Flush(); err != nil {
		return nil, err
	}
	sum.Injected = map[string]int{}
	for _, sched := range scheds {
		for k, v := range sched.Injected() {
			sum.Injected[k] += v
		}
	}

	// Check.
	events := rec.Events()
	var checkers []validate.Checker
	for _, w := range wls {
		checkers = append(checkers, w.Checkers()...)
	}
	for _, ch := range checkers {
		if l, ok := ch.(validate.Linearizable); ok {
			l.VisualizePath = filepath.Join(cfg.Out, visualName(l.Label))
			ch = l
		}
		sum.Results = append(sum.Results, ch.Check(events))
	}
	logs := map[string]string{}
	for _, n := range c.Nodes {
		logs[n.ID] = filepath.Join(filepath.Dir(n.Dir), n.ID+".log")
	}
	sum.Results = append(sum.Results, nodeHealth(logs, crashed))
	for _, ch := range checkers {
		if l, ok := ch.(validate.Linearizable); ok {
			if _, err := os.Stat(filepath.Join(cfg.Out, visualName(l.Label))); err == nil {
				note("porcupine's step-through of the keys that are not linearizable: %s", visualName(l.Label))
			}
		}
	}
	sum.Valid = validate.AllValid(sum.Results)
	sum.Ops = opCounts(events)
	sum.Duration = rec.Since().Round(time.Millisecond).String()

	meta := report.Meta{Title: "raftgram Jepsen run", Command: cfg.Command, Start: rec.Start(), Duration: rec.Since(),
		Seed: cfg.Seed, Workloads: cfg.Workloads, Nemeses: faultNames(faults), Injected: sum.Injected, Notes: sum.Notes}
	rf, err := os.Create(filepath.Join(cfg.Out, "report.html"))
	if err != nil {
		return nil, fmt.Errorf("jepsen: %w", err)
	}
	defer rf.Close()
	if err := report.Write(rf, meta, events, sum.Results); err != nil {
		return nil, err
	}
	b, _ := json.MarshalIndent(sum, "", "  ")
	if err := os.WriteFile(filepath.Join(cfg.Out, "summary.json"), b, 0o644); err != nil {
		return nil, fmt.Errorf("jepsen: %w", err)
	}
	return sum, nil
}

// visualName is the porcupine visualization file of a Linearizable checker.
func visualName(label string) string {
	if label == "" {
		return "linearizability.html"
	}
	return "linearizability-" + label + ".html"
}

// clientSource: the KV and MTProto clients talk to node i from 127.0.1.(i+1), so cutting clients from a node is a filter
// on the source address.
func clientSource(i int) string { return fmt.Sprintf("127.0.1.%d", i+1) }

func buildBinary(ctx context.Context, out string) (string, error) {
	if p := os.Getenv("RAFTGRAM_REAL_BIN"); p != "" {
		return p, nil
	}
	bin, err := filepath.Abs(filepath.Join(out, "bin", "raftgram"))
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/raftgram/raftgram/cmd/raftgram")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("jepsen: go build raftgram: %v\n%s", err, b)
	}
	return bin, nil
}

// setupNet makes sure nft works, creates the run's cgroups and points testcluster at the wrapper.
func setupNet(ctx context.Context, log *slog.Logger, out, bin string) (*nemesis.Cgroups, error) {
	if err := nemesis.EnsureNft(ctx, log); err != nil {
		return nil, err
	}
	nemesis.CleanStale(ctx, log)
	cg, err := nemesis.NewCgroups(fmt.Sprintf("raftgram-jepsen-%d", os.Getpid()))
	if err != nil {
		return nil, err
	}
	for i := 0; i < nodes; i++ {
		if _, _, err := cg.Add(fmt.Sprintf("n%d", i+1)); err != nil {
			_ = cg.Close()
			return nil, err
		}
	}
	wrapper, err := filepath.Abs(filepath.Join(out, "bin", "raftgram-in-cgroup"))
	if err != nil {
		return nil, err
	}
	if err := cg.Wrapper(wrapper, bin); err != nil {
		_ = cg.Close()
		return nil, err
	}
	if err := os.Setenv("RAFTGRAM_BIN", wrapper); err != nil {
		return nil, err
	}
	return cg, nil
}

// netFor builds the packet filter once the nodes' ports are known, after checking the nodes really run inside
// their cgroups (testcluster picks its binary once per process).
func netFor(cg *nemesis.Cgroups, c *testcluster.Cluster) (*nemesis.Net, error) {
	var eps []nemesis.Endpoint
	for _, n := range c.Nodes {
		procs, err := os.ReadFile(filepath.Join(cg.Dir(n.ID), "cgroup.procs"))
		if err != nil || len(strings.TrimSpace(string(procs))) == 0 {
			return nil, fmt.Errorf("node %s is not inside its cgroup (was testcluster's binary chosen earlier in this process?)", n.ID)
		}
		path, level, err := cg.Add(n.ID)
		if err != nil {
			return nil, err
		}
		port, err := portOf(n.Addr)
		if err != nil {
			return nil, err
		}
		admin, err := portOf(n.Admin)
		if err != nil {
			return nil, err
		}
		ep := nemesis.Endpoint{Cgroup: path, Level: level, Port: port, AdminPort: admin, ClientSrc: clientSource(n.Index)}
		if n.Client != "" {
			if ep.ClientPort, err = portOf(n.Client); err != nil {
				return nil, err
			}
		}
		eps = append(eps, ep)
	}
	nt := nemesis.NewNet(fmt.Sprintf("raftgram_jepsen_%d", os.Getpid()), eps)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := nt.Probe(ctx); err != nil {
		return nil, err
	}
	return nt, nil
}

func portOf(addr string) (int, error) {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(p)
}

func withoutNet(fs []nemesis.Fault) []nemesis.Fault {
	var out []nemesis.Fault
	for _, f := range fs {
		if !nemesis.NeedsNet([]nemesis.Fault{f}) {
			out = append(out, f)
		}
	}
	return out
}

func faultNames(fs []nemesis.Fault) []string {
	seen := map[string]bool{}
	var out []string
	for _, f := range fs {
		if !seen[f.Name()] {
			seen[f.Name()] = true
			out = append(out, f.Name())
		}
	}
	return out
}

// crashedNodes lists nodes that are down although the nemesis did not take them down (it heals what it did
// before the run ends, so any node down now exited on its own).
func crashedNodes(c *testcluster.Cluster) []string {
	var out []string
	for _, n := range c.Nodes {
		if !n.Running() {
			out = append(out, n.ID)
		}
	}
	return out
}

// nodeHealth is a checker over the nodes' logs (node id -> log path) rather than the history: no node may
// panic, hit a fatal error or exit on its own (crashed: the nodes found down at the end).
func nodeHealth(logs map[string]string, crashed []string) validate.Result {
	r := validate.Result{Checker: "node-health", Verdict: validate.Valid, Stats: map[string]int{}}
	for _, id := range crashed {
		r.Verdict = validate.Invalid
		r.Anomalies = append(r.Anomalies, validate.Anomaly{Kind: "exited", Text: fmt.Sprintf("%s was down at the "+
			"end of the run without the nemesis having stopped it (see cluster/%s.log)", id, id)})
	}
	ids := make([]string, 0, len(logs))
	for id := range logs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		f, err := os.Open(logs[id])
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for line := 1; sc.Scan(); line++ {
			t := sc.Text()
			if strings.HasPrefix(t, "panic:") || strings.HasPrefix(t, "fatal error:") {
				r.Verdict = validate.Invalid
				r.Stats["panics"]++
				if len(r.Anomalies) < validate.MaxAnomalies {
					r.Anomalies = append(r.Anomalies, validate.Anomaly{Kind: "panic",
						Text: fmt.Sprintf("%s.log:%d: %s", id, line, truncate(t, 300))})
				}
			}
		}
		f.Close()
	}
	return r
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func opCounts(events []history.Event) map[string]int {
	out := map[string]int{}
	for _, e := range events {
		if history.IsNemesis(e.Process) || e.Type == history.Invoke || e.Type == history.Observe {
			continue
		}
		out[e.F+":"+string(e.Type)]++
	}
	return out
}

// printSummary writes the verdicts for a terminal.
func printSummary(w io.Writer, s *Summary) {
	fmt.Fprintf(w, "\nraftgram Jepsen run, seed %d, %s: %s\n", s.Seed, s.Duration, map[bool]string{true: "VALID", false: "INVALID"}[s.Valid])
	keys := make([]string, 0, len(s.Ops))
	for k := range s.Ops {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Fprintf(w, "operations:")
	for _, k := range keys {
		fmt.Fprintf(w, " %s=%d", k, s.Ops[k])
	}
	fmt.Fprintf(w, "\nfaults injected: %v\n", s.Injected)
	for _, r := range s.Results {
		fmt.Fprintf(w, "  %-18s %-8s anomalies=%d %s\n", r.Checker, r.Verdict, len(r.Anomalies)+r.Dropped, r.Note)
		for i, a := range r.Anomalies {
			if i == 5 {
				fmt.Fprintf(w, "      …\n")
				break
			}
			fmt.Fprintf(w, "      %s: %s\n", a.Kind, a.Text)
		}
	}
	for _, n := range s.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	fmt.Fprintf(w, "report: %s\n", filepath.Join(s.Out, "report.html"))
}
