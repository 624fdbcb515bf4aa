package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/raftgram/raftgram/fsm"
	"github.com/raftgram/raftgram/node"
	"github.com/raftgram/raftgram/shard"
)

// cmdBench measures committed commands/s and latency of KV puts sent straight to each shard's leader over
// internal RPC (the client holds the data dir's node certificate), at several client counts, and checks that no
// group's Raft term moved during the run (an election would invalidate the numbers).
func cmdBench(args []string) error {
	c := newFlags("bench")
	dir, addr := clientFlags(c)
	clientsFlag := c.fs.String("clients", "1,16,100", "comma-separated concurrent client counts")
	dur := c.fs.Duration("duration", 10*time.Second, "measured time per client count")
	warm := c.fs.Duration("warmup", 2*time.Second, "unmeasured time before each run")
	size := c.fs.Int("size", 256, "command payload bytes (key + value)")
	rawPebble := c.fs.String("raw-pebble", "", "instead of the cluster, measure synced Pebble Sets of the same size "+
		"into a new Pebble DB in this directory (the disk's baseline)")
	if _, err := c.parse(args); err != nil {
		return err
	}
	var counts []int
	for _, s := range strings.Split(*clientsFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return fmt.Errorf("--clients: bad count %q", s)
		}
		counts = append(counts, n)
	}
	if *rawPebble != "" {
		return benchRawPebble(*rawPebble, counts, *warm, *dur, *size)
	}
	cl, a, err := openClient(*dir, *addr)
	if err != nil {
		return err
	}
	defer cl.Close()
	b := &bench{cl: cl, addr: a, size: *size}
	if err := b.refresh(); err != nil {
		return err
	}
	before := b.terms
	fmt.Printf("cluster: %d nodes, %d shards; payload %d bytes; fsync on\n", b.nodes, b.shards, *size)
	fmt.Printf("%8s %12s %10s %10s %10s %8s\n", "clients", "commands/s", "p50", "p99", "max", "errors")
	for _, n := range counts {
		b.run(n, *warm)
		printResult("raftgram", n, b.run(n, *dur))
	}
	if b.firstErr != nil {
		fmt.Printf("first error: %v\n", b.firstErr)
	}
	if err := b.refresh(); err != nil {
		return err
	}
	var moved []string
	for g, t := range before {
		if b.terms[g] != t {
			moved = append(moved, fmt.Sprintf("group %d: term %d -> %d", g, t, b.terms[g]))
		}
	}
	if len(moved) > 0 {
		fmt.Printf("WARNING: Raft terms moved during the run (elections; numbers invalid): %s\n", strings.Join(moved, ", "))
		return errors.New("terms moved")
	}
	fmt.Println("Raft terms unchanged during the run")
	return nil
}

type bench struct {
	cl   *node.Client
	addr string
	size int

	mu        sync.RWMutex
	leaders   map[uint32]string
	terms     map[uint32]uint64
	shards    int
	nodes     int
	refreshed time.Time
	firstErr  error
}

func (b *bench) refresh() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := b.cl.ClusterStatus(ctx, b.addr)
	if err != nil {
		return err
	}
	leaders, terms := map[uint32]string{}, map[uint32]uint64{}
	shards := 0
	for _, n := range st {
		for _, g := range n.Groups {
			if g.State == "Leader" {
				leaders[g.Group], terms[g.Group] = n.Addr, g.Term
			}
			if g.Group != shard.MetaGroup && int(g.Group)+1 > shards {
				shards = int(g.Group) + 1
			}
		}
	}
	if shards == 0 {
		return errors.New("no shard groups reported")
	}
	b.mu.Lock()
	b.leaders, b.terms, b.shards, b.nodes = leaders, terms, shards, len(st)
	b.mu.Unlock()
	return nil
}

func (b *bench) noteErr(err error) {
	b.mu.Lock()
	if b.firstErr == nil {
		b.firstErr = err
	}
	b.mu.Unlock()
}

// maybeRefresh re-reads the leaders at most every 200 ms, however many clients ask.
func (b *bench) maybeRefresh() {
	b.mu.Lock()
	if time.Since(b.refreshed) < 200*time.Millisecond {
		b.mu.Unlock()
		return
	}
	b.refreshed = time.Now()
	b.mu.Unlock()
	_ = b.refresh()
}

type benchResult struct {
	rate          float64
	p50, p99, max time.Duration
	errs          int
}

func (b *bench) run(clients int, d time.Duration) benchResult {
	return measure(clients, d, b.size, func(w, seq int, rng *rand.Rand, val []byte) error {
		key := fmt.Sprintf("b%05d-%09d", w, seq)[:16]
		s := uint32(rng.IntN(b.shards))
		b.mu.RLock()
		addr := b.leaders[s]
		b.mu.RUnlock()
		var rid fsm.RequestID
		for i := range rid {
			rid[i] = byte(rng.UintN(256))
		}
		cmd := fsm.Command{Type: fsm.TypeKVPut, RequestID: rid, Time: time.Now().UnixMilli(),
			Payload: fsm.EncodeKVPut([]byte(key), val)}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		res, err := b.cl.ProposeAt(ctx, addr, s, cmd)
		if err == nil && res.Err != nil {
			err = res.Err
		}
		if err != nil {
			b.noteErr(err)
			// Back off: a client storm during an election would only prolong it.
			time.Sleep(50 * time.Millisecond)
			if errors.Is(err, shard.ErrNotLeader) || errors.Is(err, shard.ErrUnavailable) {
				b.maybeRefresh()
			}
		}
		return err
	})
}

// printResult prints one row of the table and a RESULT line that scripts/bench-cluster.sh collects.
func printResult(system string, clients int, r benchResult) {
	fmt.Printf("%8d %12.0f %10s %10s %10s %8d\n", clients, r.rate, r.p50.Round(10*time.Microsecond),
		r.p99.Round(10*time.Microsecond), r.max.Round(10*time.Microsecond), r.errs)
	fmt.Printf("RESULT %s %d %.1f %.3f %.3f\n", system, clients, r.rate, float64(r.p50)/1e6, float64(r.p99)/1e6)
}

// measure runs op from `clients` goroutines for d and reports the rate and latencies of the successful calls.
// val is a per-client random value of size-16 bytes (keys are 16 bytes).
func measure(clients int, d time.Duration, size int, op func(w, seq int, rng *rand.Rand, val []byte) error) benchResult {
	var wg sync.WaitGroup
	lats := make([][]time.Duration, clients)
	errs := make([]int, clients)
	deadline := time.Now().Add(d)
	start := time.Now()
	for w := 0; w < clients; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), uint64(start.UnixNano())))
			val := make([]byte, max(size-16, 1))
			for i := range val {
				val[i] = byte('a' + rng.IntN(26))
			}
			for seq := 0; time.Now().Before(deadline); seq++ {
				t0 := time.Now()
				err := op(w, seq, rng, val)
				el := time.Since(t0)
				if err != nil {
					errs[w]++
					continue
				}
				lats[w] = append(lats[w], el)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []time.Duration
	r := benchResult{}
	for w := range lats {
		all = append(all, lats[w]...)
		r.errs += errs[w]
	}
	if len(all) == 0 {
		return r
	}
	slices.Sort(all)
	r.rate = float64(len(all)) / elapsed.Seconds()
	r.p50 = all[len(all)/2]
	r.p99 = all[len(all)*99/100]
	r.max = all[len(all)-1]
	return r
}

// benchRawPebble is the disk's baseline for the cluster numbers: `clients` goroutines each doing one synced
// Set (16-byte key, size-16 byte value) at a time into one fresh Pebble DB in dir, default options. Pebble's
// commit pipeline shares WAL fsyncs among concurrent synced writers, as raftgram's log store does; there is no
// replication, no network and no state machine, so it bounds what a replicated write on this disk can reach.
func benchRawPebble(dir string, counts []int, warm, dur time.Duration, size int) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if entries, _ := os.ReadDir(dir); len(entries) > 0 {
		return fmt.Errorf("--raw-pebble %s: directory not empty", dir)
	}
	db, err := pebble.Open(dir, &pebble.Options{Logger: quietPebbleLog{}})
	if err != nil {
		return fmt.Errorf("open pebble: %w", err)
	}
	defer func() { _ = db.Close() }()
	fmt.Printf("raw Pebble in %s: synced Set, %d-byte key+value, one DB, no replication\n", dir, size)
	fmt.Printf("%8s %12s %10s %10s %10s %8s\n", "clients", "writes/s", "p50", "p99", "max", "errors")
	var firstErr error
	var mu sync.Mutex
	op := func(w, seq int, _ *rand.Rand, val []byte) error {
		key := fmt.Sprintf("p%05d-%09d", w, seq)[:16]
		err := db.Set([]byte(key), val, pebble.Sync)
		if err != nil {
			mu.Lock()
			if firstErr == nil {
				firstErr = err
			}
			mu.Unlock()
		}
		return err
	}
	for _, n := range counts {
		measure(n, warm, size, op)
		printResult("pebble", n, measure(n, dur, size, op))
	}
	if firstErr != nil {
		return fmt.Errorf("raw pebble: %w", firstErr)
	}
	return nil
}

// quietPebbleLog drops Pebble's informational lines (they would interleave with the table).
type quietPebbleLog struct{}

func (quietPebbleLog) Infof(string, ...any) {}

func (quietPebbleLog) Errorf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "pebble: "+format+"\n", args...)
}

func (quietPebbleLog) Fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "pebble: fatal: "+format+"\n", args...)
	os.Exit(70)
}
