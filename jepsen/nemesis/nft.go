package nemesis

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
)

// Endpoint is what the packet filter needs to know about one node.
type Endpoint struct {
	Cgroup    string // nft cgroupv2 path (Cgroups.Add)
	Level     int
	Port      int // the node's cluster (Raft + RPC) port
	AdminPort int // the node's admin HTTP port (where the KV clients go)
	// ClientPort is the node's MTProto port (where the messenger clients go), 0 if none.
	ClientPort int
	ClientSrc  string // the source address clients use towards this node (client cuts)
}

// Pair is an unordered pair of node indexes that cannot talk.
type Pair [2]int

// Net renders partitions and client cuts into one nft table and applies it atomically.
type Net struct {
	Table string // e.g. raftgram_jepsen_1234 (family inet)
	Nodes []Endpoint
	// Apply runs an nft script (default: `nft -f -`); tests replace it.
	Apply func(ctx context.Context, script string) error

	mu   sync.Mutex
	cut  map[Pair]bool
	cutC map[int]bool
}

// NewNet builds the filter for nodes; nothing is applied until a fault.
func NewNet(table string, nodes []Endpoint) *Net {
	return &Net{Table: table, Nodes: nodes, Apply: RunNft, cut: map[Pair]bool{}, cutC: map[int]bool{}}
}

// RunNft runs `nft -f -` with script on stdin.
func RunNft(ctx context.Context, script string) error {
	cmd := exec.CommandContext(ctx, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("nft: %v: %s\nscript:\n%s", err, bytes.TrimSpace(out), script)
	}
	return nil
}

// Cut makes every pair in pairs unable to exchange packets (on top of what is cut already).
func (n *Net) Cut(ctx context.Context, pairs ...Pair) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, p := range pairs {
		if p[0] > p[1] {
			p[0], p[1] = p[1], p[0]
		}
		if p[0] != p[1] {
			n.cut[p] = true
		}
	}
	return n.apply(ctx)
}

// CutClients drops the clients' packets to the given nodes' admin ports.
func (n *Net) CutClients(ctx context.Context, nodes ...int) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, i := range nodes {
		n.cutC[i] = true
	}
	return n.apply(ctx)
}

// Uncut lets pairs talk again (other cuts stay).
func (n *Net) Uncut(ctx context.Context, pairs ...Pair) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, p := range pairs {
		if p[0] > p[1] {
			p[0], p[1] = p[1], p[0]
		}
		delete(n.cut, p)
	}
	return n.apply(ctx)
}

// UncutClients lets clients reach the given nodes again.
func (n *Net) UncutClients(ctx context.Context, nodes ...int) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, i := range nodes {
		delete(n.cutC, i)
	}
	return n.apply(ctx)
}

// Heal removes every rule (deletes the table).
func (n *Net) Heal(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.cut, n.cutC = map[Pair]bool{}, map[int]bool{}
	return n.apply(ctx)
}

// Script renders the current cuts. With nothing cut it only deletes the table.
func (n *Net) Script() string {
	var b strings.Builder
	// Declaring then deleting makes the delete succeed whether the table exists or not; all in one transaction.
	fmt.Fprintf(&b, "table inet %s\ndelete table inet %s\n", n.Table, n.Table)
	if len(n.cut) == 0 && len(n.cutC) == 0 {
		return b.String()
	}
	var rules []string
	for p := range n.cut {
		for _, d := range [][2]int{{p[0], p[1]}, {p[1], p[0]}} {
			from, to := n.Nodes[d[0]], n.Nodes[d[1]]
			rules = append(rules, fmt.Sprintf("tcp dport %d socket cgroupv2 level %d %q drop", to.Port, from.Level, from.Cgroup))
		}
	}
	for i := range n.cutC {
		e := n.Nodes[i]
		if e.ClientSrc != "" {
			rules = append(rules, fmt.Sprintf("ip saddr %s tcp dport %d drop", e.ClientSrc, e.AdminPort))
			if e.ClientPort != 0 {
				rules = append(rules, fmt.Sprintf("ip saddr %s tcp dport %d drop", e.ClientSrc, e.ClientPort))
			}
		}
	}
	sort.Strings(rules)
	fmt.Fprintf(&b, "table inet %s {\n\tchain out {\n\t\ttype filter hook output priority 0; policy accept;\n", n.Table)
	for _, r := range rules {
		fmt.Fprintf(&b, "\t\t%s\n", r)
	}
	b.WriteString("\t}\n}\n")
	return b.String()
}

func (n *Net) apply(ctx context.Context) error { return n.Apply(ctx, n.Script()) }

// Probe loads and drops, in one transaction, a table holding one rule of each kind the faults use, so a kernel
// or nft without cgroupv2 socket matching is found before the run rather than at the first partition.
func (n *Net) Probe(ctx context.Context) error {
	if len(n.Nodes) == 0 {
		return fmt.Errorf("nft probe: no nodes")
	}
	e := n.Nodes[0]
	t := n.Table + "_probe"
	script := fmt.Sprintf("table inet %s {\n\tchain out {\n\t\ttype filter hook output priority 0; policy accept;\n"+
		"\t\ttcp dport 1 socket cgroupv2 level %d %q drop\n\t\tip saddr 127.0.1.255 tcp dport 1 drop\n\t}\n}\n"+
		"delete table inet %s\n", t, e.Level, e.Cgroup, t)
	if err := n.Apply(ctx, script); err != nil {
		return fmt.Errorf("nft probe: %w", err)
	}
	return nil
}

// Cuts lists the cut pairs (for the record).
func (n *Net) Cuts() []Pair {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]Pair, 0, len(n.cut))
	for p := range n.cut {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] || out[i][0] == out[j][0] && out[i][1] < out[j][1] })
	return out
}

// EnsureNft makes the nft binary available: found on PATH, or, when running as root with apt-get, installed
// with `apt-get install -y nftables` (after `apt-get update` if the first try fails). It says what it did.
func EnsureNft(ctx context.Context, log *slog.Logger) error {
	if _, err := exec.LookPath("nft"); err == nil {
		return nil
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("nft not found and not root: install nftables for partition nemeses")
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		return fmt.Errorf("nft not found and no apt-get: install nftables for partition nemeses")
	}
	log.Info("nft not found: installing nftables with apt-get (partition nemeses need it)")
	install := func() error {
		out, err := exec.CommandContext(ctx, "apt-get", "install", "-y", "nftables").CombinedOutput()
		if err != nil {
			return fmt.Errorf("apt-get install nftables: %v: %s", err, tail(out))
		}
		return nil
	}
	if err := install(); err != nil {
		if out, err := exec.CommandContext(ctx, "apt-get", "update").CombinedOutput(); err != nil {
			return fmt.Errorf("apt-get update: %v: %s", err, tail(out))
		}
		if err := install(); err != nil {
			return err
		}
	}
	if _, err := exec.LookPath("nft"); err != nil {
		return fmt.Errorf("nftables installed but nft still not on PATH: %w", err)
	}
	log.Info("installed nftables")
	return nil
}

func tail(b []byte) []byte {
	if len(b) > 400 {
		return b[len(b)-400:]
	}
	return b
}
