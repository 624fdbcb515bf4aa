package nemesis

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/raftgram/raftgram/jepsen/history"
)

// TestMain doubles as a helper process: with JEPSEN_DIAL set it dials that address and exits 0 if the TCP
// handshake completes within a second, 1 otherwise.
func TestMain(m *testing.M) {
	if addr := os.Getenv("JEPSEN_DIAL"); addr != "" {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			os.Exit(1)
		}
		c.Close()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func testNodes() []Endpoint {
	return []Endpoint{
		{Cgroup: "unified/run/n1", Level: 2, Port: 7001, AdminPort: 8001, ClientSrc: "127.0.1.1"},
		{Cgroup: "unified/run/n2", Level: 2, Port: 7002, AdminPort: 8002, ClientSrc: "127.0.1.2", ClientPort: 9002},
		{Cgroup: "unified/run/n3", Level: 2, Port: 7003, AdminPort: 8003, ClientSrc: "127.0.1.3"},
	}
}

func TestScript(t *testing.T) {
	var scripts []string
	n := NewNet("rj_test", testNodes())
	n.Apply = func(_ context.Context, s string) error { scripts = append(scripts, s); return nil }
	ctx := context.Background()
	if err := n.Cut(ctx, Pair{2, 0}); err != nil {
		t.Fatal(err)
	}
	if err := n.CutClients(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := n.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	s := scripts[1]
	for _, want := range []string{
		`tcp dport 7003 socket cgroupv2 level 2 "unified/run/n1" drop`,
		`tcp dport 7001 socket cgroupv2 level 2 "unified/run/n3" drop`,
		`ip saddr 127.0.1.2 tcp dport 8002 drop`,
		`ip saddr 127.0.1.2 tcp dport 9002 drop`, // the MTProto devices pinned to n2
		"delete table inet rj_test",
	} {
		if !strings.Contains(s, want) {
			t.Fatalf("script lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "7002 socket") {
		t.Fatalf("n2 is not partitioned:\n%s", s)
	}
	if strings.Contains(scripts[2], "chain") {
		t.Fatalf("heal must only delete the table:\n%s", scripts[2])
	}
}

// fakeCluster records process faults.
type fakeCluster struct {
	mu      sync.Mutex
	running []bool
	paused  []bool
	log     []string
}

func (f *fakeCluster) Size() int { return len(f.running) }
func (f *fakeCluster) Running(i int) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.running[i]
}
func (f *fakeCluster) act(s string, i int, running bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = append(f.log, fmt.Sprintf("%s %d", s, i))
	f.running[i] = running
	return nil
}
func (f *fakeCluster) Kill(i int) error    { return f.act("kill", i, false) }
func (f *fakeCluster) Restart(i int) error { return f.act("restart", i, true) }
func (f *fakeCluster) Pause(i int) error   { f.paused[i] = true; return f.act("pause", i, true) }
func (f *fakeCluster) Resume(i int) error  { f.paused[i] = false; return f.act("resume", i, true) }
func (f *fakeCluster) Wipe(i int) error    { return f.act("wipe", i, false) }
func (f *fakeCluster) Leader(context.Context, uint32) int {
	return 1
}

func (f *fakeCluster) RestartWith(i int, args ...string) error {
	return f.act("restart "+strings.Join(args, " "), i, true)
}

func (f *fakeCluster) Transfer(_ context.Context, i int, g uint32) error {
	return f.act(fmt.Sprintf("transfer %d", g), i, true)
}

func TestScheduleRecordsAndHeals(t *testing.T) {
	fc := &fakeCluster{running: []bool{true, true, true}, paused: make([]bool, 3)}
	var mu sync.Mutex
	var scripts []string
	net := NewNet("rj_test", testNodes())
	net.Apply = func(_ context.Context, s string) error {
		mu.Lock()
		scripts = append(scripts, s)
		mu.Unlock()
		return nil
	}
	faults, err := ByName([]string{"mixed", "wipe", "clients", "partition-halves"})
	if err != nil {
		t.Fatal(err)
	}
	env := &Env{Cluster: fc, Net: net, Shards: 3, Rand: rand.New(rand.NewPCG(1, 1)),
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	rec := history.NewRecorder(time.Now, nil)
	ctx, cancel := context.WithCancel(context.Background())
	sleeps := 0
	s := &Schedule{Env: env, Faults: faults, Rec: rec, Sleep: func(context.Context, time.Duration) {
		sleeps++
		if sleeps >= 2*len(faults)+1 {
			cancel()
		}
	}}
	if err := s.Run(ctx); err != nil {
		t.Fatal(err)
	}
	ops, err := history.Pair(rec.Events())
	if err != nil {
		t.Fatal(err)
	}
	starts := 0
	for i, o := range ops {
		if o.Outcome() != history.OK {
			t.Fatalf("nemesis op failed: %+v", o.Complete)
		}
		want := "start"
		if i%2 == 1 {
			want = "stop"
		}
		if o.Invoke.F != want {
			t.Fatalf("op %d is %s, want %s", i, o.Invoke.F, want)
		}
		if want == "start" {
			starts++
		}
	}
	if got := s.Injected(); len(got) != len(faults) || starts != len(faults) {
		t.Fatalf("injected %v (%d starts), want each of %d faults once", got, starts, len(faults))
	}
	for i := range fc.running {
		if !fc.running[i] || fc.paused[i] {
			t.Fatalf("node %d left down or paused: %v", i, fc.log)
		}
	}
	if last := scripts[len(scripts)-1]; strings.Contains(last, "chain") {
		t.Fatalf("rules left in place:\n%s", last)
	}
	var sawClock, sawTransfer bool
	for _, l := range fc.log {
		sawClock = sawClock || strings.Contains(l, "--debug-clock-offset=")
		sawTransfer = sawTransfer || strings.HasPrefix(l, "transfer ")
	}
	if !sawClock || !sawTransfer {
		t.Fatalf("clock skew / transfer storm not applied: %v", fc.log)
	}
}

// TestRealPartition cuts a process in its own cgroup off a listener with a real nft rule and heals it.
func TestRealPartition(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for nft and cgroups")
	}
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("nft not installed (the runner installs it; see EnsureNft)")
	}
	cg, err := NewCgroups(fmt.Sprintf("raftgram-jepsen-test-%d", os.Getpid()))
	if err != nil {
		t.Skip(err)
	}
	defer cg.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	dir := t.TempDir()
	wrapper := filepath.Join(dir, "wrap.sh")
	self, _ := os.Executable()
	if err := cg.Wrapper(wrapper, self); err != nil {
		t.Fatal(err)
	}
	p1, l1, err := cg.Add("n1")
	if err != nil {
		t.Fatal(err)
	}
	p2, l2, err := cg.Add("n2")
	if err != nil {
		t.Fatal(err)
	}
	nt := NewNet(fmt.Sprintf("raftgram_jepsen_test_%d", os.Getpid()), []Endpoint{
		{Cgroup: p1, Level: l1, Port: 1},
		{Cgroup: p2, Level: l2, Port: port}, // "n2" is the listener
	})
	ctx := context.Background()
	defer nt.Heal(ctx)
	if err := nt.Probe(ctx); err != nil {
		t.Fatal(err)
	}
	dial := func() bool {
		cmd := exec.Command(wrapper, "--data-dir", filepath.Join(dir, "n1"))
		cmd.Env = append(os.Environ(), "JEPSEN_DIAL="+ln.Addr().String())
		out, err := cmd.CombinedOutput()
		if err != nil && len(out) > 0 {
			t.Logf("helper: %s", out)
		}
		return err == nil
	}
	if !dial() {
		t.Fatal("n1 cannot reach the listener before any fault")
	}
	if err := nt.Cut(ctx, Pair{0, 1}); err != nil {
		t.Fatal(err)
	}
	if dial() {
		t.Fatal("n1 reached the listener through the partition")
	}
	if c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err != nil {
		t.Fatalf("a process outside the node cgroups must not be cut: %v", err)
	} else {
		c.Close()
	}
	if err := nt.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	if !dial() {
		t.Fatal("n1 cannot reach the listener after healing")
	}
}

func TestCleanStale(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for nft and cgroups")
	}
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("nft not installed")
	}
	const deadPID = 999999 // any pid without /proc/<pid>
	if alive(deadPID) {
		t.Skip("pid 999999 is alive")
	}
	ctx := context.Background()
	table := fmt.Sprintf("raftgram_jepsen_%d", deadPID)
	if err := RunNft(ctx, fmt.Sprintf("table inet %s {\n}\n", table)); err != nil {
		t.Fatal(err)
	}
	cg, err := NewCgroups(fmt.Sprintf("raftgram-jepsen-%d", deadPID))
	if err != nil {
		t.Skip(err)
	}
	if _, _, err := cg.Add("n1"); err != nil {
		t.Fatal(err)
	}
	CleanStale(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)))
	out, _ := exec.Command("nft", "list", "tables").Output()
	if strings.Contains(string(out), table) {
		t.Fatalf("stale table left: %s", out)
	}
	if _, err := os.Stat(cg.Dir("n1")); !os.IsNotExist(err) {
		t.Fatalf("stale cgroup left: %v", err)
	}
}
