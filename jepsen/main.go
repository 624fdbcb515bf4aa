package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func main() {
	var cfg Config
	var workloads, nemeses string
	var seed int64
	flag.DurationVar(&cfg.Duration, "duration", 5*time.Minute, "how long workloads and faults run")
	flag.StringVar(&workloads, "workloads", strings.Join(DefaultWorkloads, ","), "comma-separated workloads: register, "+
		"claim, set (debug KV API); messages, profile, username (MTProto)")
	flag.StringVar(&nemeses, "nemesis", "mixed", "comma-separated faults: mixed, partition-one, partition-leader, "+
		"partition-halves, partition-bridge, clients, kill, kill-leader, pause, wipe; none for no faults")
	flag.DurationVar(&cfg.Hold, "hold", 6*time.Second, "how long a fault stays (jittered ±50%)")
	flag.DurationVar(&cfg.Quiet, "quiet", 6*time.Second, "healthy time between faults (jittered ±50%)")
	flag.IntVar(&cfg.Streams, "streams", 1, "concurrent fault schedules (2+: faults overlap, e.g. a partition during a kill)")
	flag.IntVar(&cfg.Clients, "clients", 6, "concurrent clients per workload")
	flag.IntVar(&cfg.Shards, "shards", 3, "shards of the cluster")
	flag.IntVar(&cfg.MsgUsers, "msg-users", 4, "messages workload: users (2 devices each)")
	flag.IntVar(&cfg.Owners, "owners", 3, "profile workload: owners (2 devices each)")
	flag.IntVar(&cfg.Claimers, "claimers", 6, "username workload: claimers (one device each; 4 race per round)")
	flag.DurationVar(&cfg.OpTimeout, "op-timeout", 5*time.Second, "client timeout of one operation")
	flag.Int64Var(&seed, "seed", 0, "random seed (0: from the clock; printed)")
	flag.StringVar(&cfg.Out, "out", "", "output directory (default jepsen/out/<time>)")
	flag.BoolVar(&cfg.Keep, "keep", false, "keep the nodes' data dirs")
	verbose := flag.Bool("v", false, "debug logs")
	flag.Parse()

	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	cfg.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if seed == 0 {
		seed = time.Now().UnixNano() & 0x7fffffff
	}
	cfg.Seed = uint64(seed)
	cfg.Workloads = split(workloads)
	if nemeses != "none" {
		cfg.Nemeses = split(nemeses)
	}
	if cfg.Out == "" {
		cfg.Out = filepath.Join("jepsen", "out", time.Now().UTC().Format("20060102-150405"))
	}
	cfg.Command = fmt.Sprintf("go run ./jepsen -duration %s -workloads %s -nemesis %s -hold %s -quiet %s -clients %d "+
		"-shards %d -streams %d -msg-users %d -owners %d -claimers %d -seed %d", cfg.Duration, workloads, nemeses, cfg.Hold,
		cfg.Quiet, cfg.Clients, cfg.Shards, cfg.Streams, cfg.MsgUsers, cfg.Owners, cfg.Claimers, seed)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sum, err := Run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "jepsen:", err)
		os.Exit(2)
	}
	printSummary(os.Stdout, sum)
	if !sum.Valid {
		os.Exit(1)
	}
}

func split(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}
