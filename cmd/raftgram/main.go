package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftgram/raftgram/node"
	"github.com/raftgram/raftgram/node/gatehost"
)

const usage = `raftgram: a Telegram-compatible MTProto server run as a Raft cluster.

Usage:
  raftgram init   --data-dir D [--shards N] [--node-id ID] [--listen ADDR] [--admin ADDR]
  raftgram token  --data-dir D                        mint a one-time join token
  raftgram join   ADDR --token T --data-dir D --node-id ID --listen ADDR [--admin ADDR] [--client ADDR]   then serves
  raftgram serve  --data-dir D [--listen ADDR] [--admin ADDR] [--client ADDR] [--debug-api]
                  [--code-command PROG] [--dev-code CODE]
                                                      --client: MTProto address of this node's gateway (none if empty)
                                                      --code-command: PROG PHONE CODE is run for every login code
  raftgram run --dev [--client ADDR]                  single node on 127.0.0.1, data in ./data, MTProto on 127.0.0.1:2443
  raftgram status [--data-dir D] [--addr ADDR] [--json]
  raftgram remove-node ID [--data-dir D] [--addr ADDR]
  raftgram codes  [--data-dir D] [--admin ADDR] [--json]   login codes waiting to be handed out by the operator
  raftgram bench  --data-dir D [--addr ADDR] [--clients 1,16,100] [--duration 10s] [--size 256]
  raftgram bench  --raw-pebble DIR [--clients 1,16,100] [--duration 10s] [--size 256]

Every command takes --config FILE (JSON object of flag name -> value; flags on the command line win),
--log-level (debug|info|warn|error) and --log-format (text|json).
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	cmds := map[string]func([]string) error{
		"init": cmdInit, "token": cmdToken, "join": cmdJoin, "serve": cmdServe, "run": cmdRun,
		"status": cmdStatus, "remove-node": cmdRemove, "bench": cmdBench, "codes": cmdCodes,
	}
	f, ok := cmds[os.Args[1]]
	if !ok {
		if os.Args[1] == "help" || os.Args[1] == "-h" || os.Args[1] == "--help" {
			fmt.Print(usage)
			return
		}
		fmt.Fprintf(os.Stderr, "raftgram: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	if err := f(os.Args[2:]); err != nil {
		fmt.Fprintln(os.Stderr, "raftgram "+os.Args[1]+": "+err.Error())
		os.Exit(1)
	}
}

// common are the flags every command has.
type common struct {
	fs        *flag.FlagSet
	config    string
	logLevel  string
	logFormat string
}

func newFlags(name string) *common {
	c := &common{fs: flag.NewFlagSet(name, flag.ContinueOnError)}
	c.fs.StringVar(&c.config, "config", "", "JSON config file (keys are flag names)")
	c.fs.StringVar(&c.logLevel, "log-level", "info", "debug|info|warn|error")
	c.fs.StringVar(&c.logFormat, "log-format", "text", "text|json")
	return c
}

// parse parses args (flags may follow positional arguments) and fills unset flags from --config.
func (c *common) parse(args []string) ([]string, error) {
	var pos []string
	for {
		if err := c.fs.Parse(args); err != nil {
			return nil, err
		}
		args = c.fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if c.config == "" {
		return pos, nil
	}
	b, err := os.ReadFile(c.config)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("config %s: %w", c.config, err)
	}
	set := map[string]bool{}
	c.fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for k, v := range m {
		if set[k] {
			continue
		}
		if c.fs.Lookup(k) == nil {
			return nil, fmt.Errorf("config %s: unknown setting %q", c.config, k)
		}
		if err := c.fs.Set(k, fmt.Sprint(v)); err != nil {
			return nil, fmt.Errorf("config %s: %s: %w", c.config, k, err)
		}
	}
	return pos, nil
}

func (c *common) logger(w io.Writer) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(c.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	o := &slog.HandlerOptions{Level: lv}
	switch c.logFormat {
	case "json":
		return slog.New(slog.NewJSONHandler(w, o)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, o)), nil
	}
	return nil, fmt.Errorf("--log-format %q: text or json", c.logFormat)
}

func cmdInit(args []string) error {
	c := newFlags("init")
	dir := c.fs.String("data-dir", "", "data directory to create")
	shards := c.fs.Int("shards", node.DefaultShards, "shard count (1..1024), fixed for the cluster's life")
	id := c.fs.String("node-id", "n1", "this node's id")
	listen := c.fs.String("listen", "127.0.0.1:7400", "cluster TLS port (Raft + internal RPC)")
	advertise := c.fs.String("advertise", "", "address other nodes dial (default --listen)")
	admin := c.fs.String("admin", "127.0.0.1:7401", "admin HTTP address (metrics, health); empty disables")
	if _, err := c.parse(args); err != nil {
		return err
	}
	dd, err := node.Init(node.InitOptions{Dir: *dir, NodeID: *id, Shards: *shards, Listen: *listen,
		Advertise: *advertise, Admin: *admin})
	if err != nil {
		return err
	}
	tok, err := dd.NewToken(nil)
	if err != nil {
		return err
	}
	pubPath, fp, err := gatehost.WritePublicKey(dd)
	if err != nil {
		return err
	}
	fmt.Printf("initialized cluster %s in %s (%d shards, node %s)\n", dd.File.ClusterID, dd.Path, dd.File.Shards, dd.File.NodeID)
	fmt.Printf("server public key for clients (PKCS#1 RSA PUBLIC KEY): %s (fingerprint %016x)\n", pubPath, uint64(fp))
	fmt.Printf("join token (one use): %s\n", tok)
	return nil
}

func cmdToken(args []string) error {
	c := newFlags("token")
	dir := c.fs.String("data-dir", "", "data directory of a member")
	if _, err := c.parse(args); err != nil {
		return err
	}
	dd, err := node.OpenDataDir(*dir)
	if err != nil {
		return err
	}
	tok, err := dd.NewToken(nil)
	if err != nil {
		return err
	}
	fmt.Println(tok)
	return nil
}

type serveFlags struct {
	dir, listen, advertise, admin *string
	debugAPI                      *bool
	snapThreshold, trailingLogs   *uint64
	snapInterval                  *time.Duration
	balance                       *time.Duration
	heartbeat                     *time.Duration
	inflight                      *int
	client                        *string
	devCode, codeCommand          *string
	clockOffset                   *time.Duration
}

func (sf serveFlags) raftConfig(g uint32, c *raft.Config) {
	if *sf.snapThreshold > 0 {
		c.SnapshotThreshold = *sf.snapThreshold
	}
	if *sf.trailingLogs > 0 {
		c.TrailingLogs = *sf.trailingLogs
	}
	if *sf.snapInterval > 0 {
		c.SnapshotInterval = *sf.snapInterval
	}
	if *sf.heartbeat > 0 {
		c.HeartbeatTimeout, c.ElectionTimeout, c.LeaderLeaseTimeout = *sf.heartbeat, *sf.heartbeat, *sf.heartbeat
	}
}

func addServeFlags(c *common) serveFlags {
	return serveFlags{
		dir:           c.fs.String("data-dir", "", "data directory"),
		listen:        c.fs.String("listen", "", "cluster TLS port (default from node.json)"),
		advertise:     c.fs.String("advertise", "", "address other nodes dial (default from node.json)"),
		admin:         c.fs.String("admin", "", "admin HTTP address (default from node.json)"),
		debugAPI:      c.fs.Bool("debug-api", false, "enable the unauthenticated /debug/kv API on the admin address"),
		snapThreshold: c.fs.Uint64("raft-snapshot-threshold", 0, "log entries between snapshots (default 8192)"),
		trailingLogs:  c.fs.Uint64("raft-trailing-logs", 0, "log entries kept after a snapshot (default 10240)"),
		snapInterval:  c.fs.Duration("raft-snapshot-interval", 0, "how often to check for a snapshot (default 60s)"),
		balance:       c.fs.Duration("balance-interval", 0, "leadership balancing period (default 3s; negative disables)"),
		heartbeat:     c.fs.Duration("raft-heartbeat-timeout", 0, "Raft heartbeat, election and leader lease timeout (default 1s)"),
		inflight:      c.fs.Int("batch-inflight", 0, "batches per group proposed but not yet applied (default 1)"),
		client: c.fs.String("client", "", "MTProto client address, e.g. 0.0.0.0:443 (every TCP transport, WebSocket at /apiws); "+
			"empty: this node runs no gateway"),
		devCode: c.fs.String("dev-code", "", "DEVELOPMENT ONLY: accept this login code for every phone number"),
		clockOffset: c.fs.Duration("debug-clock-offset", 0, "TESTING ONLY: shift every time this node stamps "+
			"(commands, message dates, code expiry) by this much (the Jepsen clock nemesis)"),
		codeCommand: c.fs.String("code-command", "", "program run for every login code with the phone and the code as "+
			"its two arguments (e.g. an in-house SMS gateway); split on spaces"),
	}
}

func cmdJoin(args []string) error {
	c := newFlags("join")
	sf := addServeFlags(c)
	token := c.fs.String("token", "", "one-time join token (raftgram token on a member)")
	id := c.fs.String("node-id", "", "this node's id (unique in the cluster)")
	pos, err := c.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errors.New("usage: raftgram join ADDR --token T --data-dir D --node-id ID --listen ADDR")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := node.Join(ctx, node.JoinOptions{Dir: *sf.dir, Via: pos[0], Token: *token, NodeID: *id,
		Listen: *sf.listen, Advertise: *sf.advertise, Admin: *sf.admin}); err != nil {
		return err
	}
	fmt.Printf("joined: credentials written to %s; serving\n", *sf.dir)
	return serve(c, sf)
}

func cmdServe(args []string) error {
	c := newFlags("serve")
	sf := addServeFlags(c)
	if _, err := c.parse(args); err != nil {
		return err
	}
	return serve(c, sf)
}

func serve(c *common, sf serveFlags) error {
	log, err := c.logger(os.Stderr)
	if err != nil {
		return err
	}
	cfg := node.Config{DataDir: *sf.dir, Listen: *sf.listen, Advertise: *sf.advertise,
		Admin: *sf.admin, DebugAPI: *sf.debugAPI, Logger: log, RaftConfig: sf.raftConfig, BalanceInterval: *sf.balance,
		BatchInflight: *sf.inflight}
	if off := *sf.clockOffset; off != 0 {
		log.Warn("clock offset in effect (testing only)", "offset", off)
		cfg.Clock = func() time.Time { return time.Now().Add(off) }
	}
	n, m, err := newNode(cfg, apiOptions{client: *sf.client, devCode: *sf.devCode,
		codeCommand: strings.Fields(*sf.codeCommand)}, log)
	if err != nil {
		return err
	}
	return runNode(n, func() error { return printClientInfo(os.Stdout, n, m.Host(), *sf.devCode) })
}

// runNode starts n, calls announce (if not nil) once it serves, and runs until SIGINT/SIGTERM.
func runNode(n *node.Node, announce func() error) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	startCtx, cancel := context.WithTimeout(ctx, time.Minute)
	err := n.Start(startCtx)
	cancel()
	if err != nil {
		return err
	}
	fmt.Printf("raftgram node %s serving: cluster %s admin http://%s\n", n.ID(), n.Addr(), n.AdminAddr())
	if announce != nil {
		if err := announce(); err != nil {
			return errors.Join(err, n.Close())
		}
	}
	<-ctx.Done()
	return n.Close()
}

func cmdRun(args []string) error {
	c := newFlags("run")
	dev := c.fs.Bool("dev", false, "single-node development mode (required)")
	dir := c.fs.String("data-dir", "", "data directory (default ./data, or $XDG_DATA_HOME/raftgram if ./ is read-only)")
	listen := c.fs.String("listen", "127.0.0.1:7400", "cluster TLS port")
	admin := c.fs.String("admin", "127.0.0.1:7401", "admin HTTP address")
	client := c.fs.String("client", devClientAddr, "MTProto client address (every TCP transport, WebSocket at /apiws); empty disables")
	if _, err := c.parse(args); err != nil {
		return err
	}
	if !*dev {
		return errors.New("only `raftgram run --dev` exists; use serve for a cluster member")
	}
	if *dir == "" {
		*dir = devDataDir()
	}
	if _, err := os.Stat(filepath.Join(*dir, "node.json")); err != nil {
		if _, err := node.Init(node.InitOptions{Dir: *dir, NodeID: "dev", Listen: *listen, Admin: *admin}); err != nil {
			return err
		}
	}
	log, err := c.logger(os.Stderr)
	if err != nil {
		return err
	}
	n, m, err := newNode(node.Config{DataDir: *dir, Listen: *listen, Admin: *admin, DebugAPI: true, Logger: log},
		apiOptions{client: *client, devCode: gatehost.DevLoginCode}, log)
	if err != nil {
		return err
	}
	fmt.Printf("dev node: data %s\n", *dir)
	return runNode(n, func() error { return printClientInfo(os.Stdout, n, m.Host(), gatehost.DevLoginCode) })
}

func devDataDir() string {
	if f, err := os.CreateTemp(".", ".raftgram-probe-*"); err == nil {
		name := f.Name()
		f.Close()
		os.Remove(name)
		return "data"
	}
	base := os.Getenv("XDG_DATA_HOME")
	if base == "" {
		home, _ := os.UserHomeDir()
		base = filepath.Join(home, ".local", "share")
	}
	return filepath.Join(base, "raftgram")
}

// clientFlags open a data dir's credentials and pick the member to talk to.
func clientFlags(c *common) (dir, addr *string) {
	return c.fs.String("data-dir", "data", "data directory of a member (for its certificate)"),
		c.fs.String("addr", "", "member to ask (default: the data dir's own node)")
}

func openClient(dir, addr string) (*node.Client, string, error) {
	dd, err := node.OpenDataDir(dir)
	if err != nil {
		return nil, "", err
	}
	if addr == "" {
		addr = dd.File.Advertise
	}
	return node.NewClient(dd), addr, nil
}

func cmdStatus(args []string) error {
	c := newFlags("status")
	dir, addr := clientFlags(c)
	asJSON := c.fs.Bool("json", false, "print JSON")
	if _, err := c.parse(args); err != nil {
		return err
	}
	cl, a, err := openClient(*dir, *addr)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := cl.ClusterStatus(ctx, a)
	if err != nil {
		return err
	}
	if *asJSON {
		e := json.NewEncoder(os.Stdout)
		e.SetIndent("", "  ")
		return e.Encode(st)
	}
	fmt.Print(node.FormatStatus(st))
	return nil
}

func cmdRemove(args []string) error {
	c := newFlags("remove-node")
	dir, addr := clientFlags(c)
	pos, err := c.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errors.New("usage: raftgram remove-node ID [--data-dir D] [--addr ADDR]")
	}
	cl, a, err := openClient(*dir, *addr)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := cl.RemoveNode(ctx, a, pos[0]); err != nil {
		return err
	}
	fmt.Printf("removed %s\n", pos[0])
	return nil
}
