package testcluster

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	gwcrypto "github.com/raftgram/raftgram/gateway/crypto"
	"github.com/raftgram/raftgram/internal/freeport"
	"github.com/raftgram/raftgram/node"
	"github.com/raftgram/raftgram/shard"
)

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// Binary builds cmd/raftgram once per test process and returns its path. RAFTGRAM_BIN overrides the build.
func Binary() (string, error) {
	buildOnce.Do(func() {
		if p := os.Getenv("RAFTGRAM_BIN"); p != "" {
			buildPath = p
			return
		}
		dir, err := os.MkdirTemp("", "raftgram-bin-")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "raftgram")
		cmd := exec.Command("go", "build", "-o", buildPath, "github.com/raftgram/raftgram/cmd/raftgram")
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build raftgram: %v\n%s", err, out)
		}
	})
	return buildPath, buildErr
}

// Options configures a cluster.
type Options struct {
	Nodes  int    // default 3
	Shards int    // default 3
	Dir    string // required: parent of the nodes' data dirs and logs (t.TempDir())
	// ServeArgs are extra flags for serve/join (e.g. "--raft-snapshot-threshold=64").
	ServeArgs []string
	// Client gives every node an MTProto gateway on its own 127.0.0.1 port (Node.Client).
	Client bool
	// DevCode makes every node accept this login code for every phone (`--dev-code`; messenger tests).
	DevCode string
	// Env is added to every node's environment (e.g. "GOMAXPROCS=1" when the nodes share a small machine).
	Env []string
}

// Node is one raftgram process.
type Node struct {
	Index int
	ID    string
	Dir   string
	Addr  string // cluster TLS port
	Admin string // admin HTTP address
	// Client is the MTProto address (TCP transports and WebSocket at /apiws) when Options.Client is set.
	Client string

	c    *Cluster
	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	logf *os.File
}

// Cluster is a set of raftgram processes.
type Cluster struct {
	opts  Options
	bin   string
	Nodes []*Node
	http  *http.Client
}

// Start builds the binary, inits node 0, starts it, and joins the others with one token each.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	if opts.Nodes == 0 {
		opts.Nodes = 3
	}
	if opts.Shards == 0 {
		opts.Shards = 3
	}
	if opts.Dir == "" {
		return nil, errors.New("testcluster: Dir required")
	}
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	c := &Cluster{opts: opts, bin: bin, http: &http.Client{Timeout: 15 * time.Second}}
	for i := 0; i < opts.Nodes; i++ {
		ports, err := freePorts(3)
		if err != nil {
			return nil, err
		}
		n := &Node{Index: i, ID: fmt.Sprintf("n%d", i+1),
			Dir: filepath.Join(opts.Dir, fmt.Sprintf("n%d", i+1)), Addr: ports[0], Admin: ports[1], c: c}
		if opts.Client {
			n.Client = ports[2]
		}
		c.Nodes = append(c.Nodes, n)
	}
	n0 := c.Nodes[0]
	if out, err := c.run(ctx, "init", "--data-dir", n0.Dir, "--node-id", n0.ID, "--shards", fmt.Sprint(opts.Shards),
		"--listen", n0.Addr, "--admin", n0.Admin); err != nil {
		return nil, fmt.Errorf("init: %v: %s", err, out)
	}
	if err := n0.start("serve", "--data-dir", n0.Dir); err != nil {
		return nil, err
	}
	if err := c.waitNodeReady(ctx, n0, 1); err != nil {
		c.Close()
		return nil, err
	}
	for _, n := range c.Nodes[1:] {
		if err := c.join(ctx, n, n0); err != nil {
			c.Close()
			return nil, err
		}
	}
	if err := c.WaitReady(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) join(ctx context.Context, n, via *Node) error {
	tok, err := c.run(ctx, "token", "--data-dir", via.Dir)
	if err != nil {
		return fmt.Errorf("token: %v: %s", err, tok)
	}
	if err := n.start("join", via.Addr, "--token", strings.TrimSpace(tok), "--data-dir", n.Dir,
		"--node-id", n.ID, "--listen", n.Addr, "--admin", n.Admin); err != nil {
		return err
	}
	return c.waitNodeReady(ctx, n, 0)
}

// AddNode starts a new process that joins through node via (with a fresh token from via's data dir) and
// returns its index. The new node's id is "n<index+1>".
func (c *Cluster) AddNode(ctx context.Context, via int) (int, error) {
	ports, err := freePorts(2)
	if err != nil {
		return -1, err
	}
	i := len(c.Nodes)
	n := &Node{Index: i, ID: fmt.Sprintf("n%d", i+1), Dir: filepath.Join(c.opts.Dir, fmt.Sprintf("n%d", i+1)),
		Addr: ports[0], Admin: ports[1], c: c}
	c.Nodes = append(c.Nodes, n)
	return i, c.join(ctx, n, c.Nodes[via])
}

// Binary is the path of the raftgram binary in use.
func (c *Cluster) Binary() string { return c.bin }

// Run runs a raftgram subcommand to completion and returns its combined output.
func (c *Cluster) Run(ctx context.Context, args ...string) (string, error) {
	return c.run(ctx, args...)
}

func (c *Cluster) run(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, c.bin, args...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (n *Node) start(args ...string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil {
		return fmt.Errorf("node %s already running", n.ID)
	}
	if err := os.MkdirAll(filepath.Dir(n.Dir), 0o755); err != nil {
		return err
	}
	logf, err := os.OpenFile(filepath.Join(filepath.Dir(n.Dir), n.ID+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	args = append(args, "--debug-api", "--log-level", "info")
	if n.Client != "" {
		args = append(args, "--client", n.Client)
	}
	if n.c.opts.DevCode != "" {
		args = append(args, "--dev-code", n.c.opts.DevCode)
	}
	args = append(args, n.c.opts.ServeArgs...)
	cmd := exec.Command(n.c.bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if len(n.c.opts.Env) > 0 {
		cmd.Env = append(os.Environ(), n.c.opts.Env...)
	}
	fmt.Fprintf(logf, "=== %s %s\n", time.Now().Format(time.RFC3339Nano), strings.Join(args, " "))
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", n.ID, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	n.cmd, n.done, n.logf = cmd, done, logf
	return nil
}

// Running reports whether the process is up.
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return false
	}
	select {
	case <-n.done:
		return false
	default:
		return true
	}
}

func (n *Node) signal(sig syscall.Signal, wait time.Duration) error {
	n.mu.Lock()
	cmd, done, logf := n.cmd, n.done, n.logf
	n.cmd = nil
	n.mu.Unlock()
	if cmd == nil {
		return nil
	}
	_ = cmd.Process.Signal(syscall.SIGCONT) // a paused process cannot act on SIGTERM
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(wait):
		_ = cmd.Process.Kill()
		<-done
	}
	return logf.Close()
}

// Kill sends SIGKILL (no shutdown path runs) and waits for the process to exit.
func (c *Cluster) Kill(i int) error { return c.Nodes[i].signal(syscall.SIGKILL, 10*time.Second) }

// Stop sends SIGTERM and waits (SIGKILL after 20 s).
func (c *Cluster) Stop(i int) error { return c.Nodes[i].signal(syscall.SIGTERM, 20*time.Second) }

// Pause freezes node i with SIGSTOP (a GC pause or a VM stall as far as the others can tell).
func (c *Cluster) Pause(i int) error { return c.Nodes[i].sendSignal(syscall.SIGSTOP) }

// Resume continues a paused node with SIGCONT.
func (c *Cluster) Resume(i int) error { return c.Nodes[i].sendSignal(syscall.SIGCONT) }

func (n *Node) sendSignal(sig syscall.Signal) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return fmt.Errorf("%s not running", n.ID)
	}
	return n.cmd.Process.Signal(sig)
}

// Restart starts node i again from its data dir (it must be stopped).
func (c *Cluster) Restart(i int) error {
	return c.RestartWith(i)
}

// RestartWith is Restart with extra serve flags for this run only (e.g. "--debug-clock-offset=30s").
func (c *Cluster) RestartWith(i int, args ...string) error {
	n := c.Nodes[i]
	return n.start(append([]string{"serve", "--data-dir", n.Dir}, args...)...)
}

// TransferLeadership asks node i, if it leads group g, to hand the leadership to another voter
// (POST /debug/transfer); it fails when node i does not lead g.
func (c *Cluster) TransferLeadership(ctx context.Context, i int, g uint32) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		fmt.Sprintf("http://%s/debug/transfer?group=%d", c.Nodes[i].Admin, g), nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("transfer group %d on %s: %s: %s", g, c.Nodes[i].ID, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

// Wipe deletes node i's Raft and state data (it must be stopped), keeping its identity (node.json, TLS): on
// restart it holds no log, no snapshot, no state and no record of its votes, so it rejoins through its known
// peers as a new raft incarnation (node/DESIGN.md) and catches up from the leaders.
func (c *Cluster) Wipe(i int) error {
	n := c.Nodes[i]
	if n.Running() {
		return fmt.Errorf("wipe %s: still running", n.ID)
	}
	for _, d := range []string{"raftlog", "state", "raft"} {
		if err := os.RemoveAll(filepath.Join(n.Dir, d)); err != nil {
			return err
		}
	}
	return nil
}

// PublicKeyPEM is the cluster's public RSA key (PKCS#1 PEM) that MTProto clients are configured with; every
// node serves with the same key. Valid once node 0 has started with a client address.
func (c *Cluster) PublicKeyPEM() ([]byte, error) {
	return os.ReadFile(filepath.Join(c.Nodes[0].Dir, "server_rsa.pub.pem"))
}

// PublicKey is PublicKeyPEM parsed, what a Go MTProto client is configured with.
func (c *Cluster) PublicKey() (*rsa.PublicKey, error) {
	pem, err := c.PublicKeyPEM()
	if err != nil {
		return nil, err
	}
	return gwcrypto.ParsePublicPEM(pem)
}

// Close kills every process.
func (c *Cluster) Close() {
	for i := range c.Nodes {
		_ = c.Kill(i)
	}
}

// Status fetches node i's own status over its admin HTTP.
func (c *Cluster) Status(ctx context.Context, i int) (node.NodeStatus, error) {
	var st node.NodeStatus
	err := c.getJSON(ctx, c.Nodes[i].Admin, "/status", &st)
	return st, err
}

func (c *Cluster) getJSON(ctx context.Context, admin, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+admin+path, nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s%s: %s: %s", admin, path, resp.Status, bytes.TrimSpace(b))
	}
	return json.Unmarshal(b, v)
}

// Leader returns the index of the node leading group g (shard number or shard.MetaGroup) in the highest term
// any running node reports, or -1.
func (c *Cluster) Leader(ctx context.Context, g uint32) int {
	best, bestTerm := -1, uint64(0)
	for i, n := range c.Nodes {
		if !n.Running() {
			continue
		}
		st, err := c.Status(ctx, i)
		if err != nil {
			continue
		}
		for _, gs := range st.Groups {
			if gs.Group == g && gs.State == "Leader" && gs.Term >= bestTerm {
				best, bestTerm = i, gs.Term
			}
		}
	}
	return best
}

// WaitReady waits until every running node reports ready (every group the placement gives it is open and has a
// leader) and every group open on it has a full set of voters (min(nodes, 3)).
func (c *Cluster) WaitReady(ctx context.Context) error {
	want := min(len(c.Nodes), shard.ReplicationFactor)
	for _, n := range c.Nodes {
		if !n.Running() {
			continue
		}
		if err := c.waitNodeReady(ctx, n, want); err != nil {
			return err
		}
	}
	return nil
}

func (c *Cluster) waitNodeReady(ctx context.Context, n *Node, voters int) error {
	var last error
	for {
		st, err := c.Status(ctx, n.Index)
		switch {
		case err != nil:
			last = err
		case !st.Ready: // every group the placement gives the node is open and has a leader
			last = errors.New("not ready")
		default:
			last = nil
			for _, g := range st.Groups {
				if g.LeaderID == "" || (voters > 0 && len(g.Voters) < voters) {
					last = fmt.Errorf("group %d: leader %q voters %v", g.Group, g.LeaderID, g.Voters)
					break
				}
			}
		}
		if last == nil {
			return nil
		}
		if !n.Running() {
			return fmt.Errorf("node %s exited (see %s.log): %v", n.ID, n.ID, last)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %s: %w (last: %v)", n.ID, ctx.Err(), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// KV is the debug KV API's answer.
type KV = node.KVResult

// Put writes key=value through node i (any node: it forwards to the shard leader). rid (32 hex digits, or "")
// makes retries idempotent.
func (c *Cluster) Put(ctx context.Context, i int, key, value, rid string) (KV, error) {
	q := url.Values{"key": {key}}
	if rid != "" {
		q.Set("rid", rid)
	}
	return c.kv(ctx, i, http.MethodPut, q, strings.NewReader(value))
}

// CAS sets key to value through node i if its current value is old (oldAbsent: if the key does not exist).
// A failed comparison comes back as KV.Error containing "CAS_MISMATCH", not as an error.
func (c *Cluster) CAS(ctx context.Context, i int, key, old string, oldAbsent bool, value, rid string) (KV, error) {
	q := url.Values{"key": {key}}
	if oldAbsent {
		q.Set("expect_absent", "1")
	} else {
		q.Set("expect", old)
	}
	if rid != "" {
		q.Set("rid", rid)
	}
	return c.kv(ctx, i, http.MethodPut, q, strings.NewReader(value))
}

// Get reads key linearizably through node i.
func (c *Cluster) Get(ctx context.Context, i int, key string) (KV, error) {
	return c.kv(ctx, i, http.MethodGet, url.Values{"key": {key}}, nil)
}

func (c *Cluster) kv(ctx context.Context, i int, method string, q url.Values, body io.Reader) (KV, error) {
	var out KV
	req, err := http.NewRequestWithContext(ctx, method, "http://"+c.Nodes[i].Admin+"/debug/kv?"+q.Encode(), body)
	if err != nil {
		return out, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return out, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return out, err
	}
	if resp.StatusCode != http.StatusOK {
		return out, fmt.Errorf("%s %s: %s: %s", method, q.Get("key"), resp.Status, bytes.TrimSpace(b))
	}
	return out, json.Unmarshal(b, &out)
}

// Metric returns the sum of a counter/gauge family's samples on node i whose line contains match.
func (c *Cluster) Metric(ctx context.Context, i int, name, match string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+c.Nodes[i].Admin+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	var sum float64
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, name) || !strings.Contains(line, match) {
			continue
		}
		var v float64
		if i := strings.LastIndexByte(line, ' '); i > 0 {
			if _, err := fmt.Sscan(line[i+1:], &v); err == nil {
				sum += v
			}
		}
	}
	return sum, nil
}

func freePorts(n int) ([]string, error) {
	out := make([]string, n)
	for i := range out {
		var err error
		if out[i], err = freeport.Addr(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Unimplemented is node i's admin /unimplemented answer (JSON): the API methods clients called that no handler
// serves. Tests log it so that the methods real clients need show up.
func (c *Cluster) Unimplemented(ctx context.Context, i int) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+c.Nodes[i].Admin+"/unimplemented", nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("/unimplemented: %s", resp.Status)
	}
	return bytes.Join(bytes.Fields(b), nil), err
}
