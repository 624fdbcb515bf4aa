package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

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
		r := b.run(n, *dur)
		fmt.Printf("%8d %12.0f %10s %10s %10s %8d\n", n, r.rate, r.p50.Round(10*time.Microsecond),
			r.p99.Round(10*time.Microsecond), r.max.Round(10*time.Microsecond), r.errs)
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
			val := make([]byte, max(b.size-16, 1))
			for i := range val {
				val[i] = byte('a' + rng.IntN(26))
			}
			for seq := 0; time.Now().Before(deadline); seq++ {
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
				t0 := time.Now()
				res, err := b.cl.ProposeAt(ctx, addr, s, cmd)
				el := time.Since(t0)
				cancel()
				if err == nil && res.Err != nil {
					err = res.Err
				}
				if err != nil {
					errs[w]++
					b.noteErr(err)
					// Back off: a client storm during an election would only prolong it.
					time.Sleep(50 * time.Millisecond)
					if errors.Is(err, shard.ErrNotLeader) || errors.Is(err, shard.ErrUnavailable) {
						b.maybeRefresh()
					}
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
