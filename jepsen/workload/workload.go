package workload

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/raftgram/raftgram/jepsen/client"
	"github.com/raftgram/raftgram/jepsen/history"
	"github.com/raftgram/raftgram/jepsen/validate"
)

// Workload is one kind of traffic with its checkers.
type Workload interface {
	Name() string
	// Run issues operations until ctx is done.
	Run(ctx context.Context) error
	// Final reads what the checkers need once the cluster is healed.
	Final(ctx context.Context) error
	Checkers() []validate.Checker
}

// Options are shared by the KV workloads.
type Options struct {
	KV    *client.KV
	Nodes int
	// Clients is the number of concurrent clients (default 6).
	Clients int
	// Procs hands out process ids, unique across workloads (a client takes a new one after an info).
	Procs *atomic.Int64
	Seed  uint64
	// Pace is the pause between one client's operations (default 10 ms), to keep 2 shared cores usable.
	Pace time.Duration
}

func (o *Options) setDefaults() {
	if o.Clients == 0 {
		o.Clients = 6
	}
	if o.Procs == nil {
		o.Procs = new(atomic.Int64)
	}
	if o.Pace == 0 {
		o.Pace = 10 * time.Millisecond
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// Register: each client loops over get (40%), put (30%) and cas (30%) on one of Slots live keys through its
// own node (client c talks to node c mod Nodes, as Jepsen binds processes to nodes: a faulty node then stalls
// only its own clients, and every key is still written and read through every node). A key is retired after OpsPerKey operations and replaced by a fresh one, which keeps each
// key's history small enough for porcupine even with many indeterminate writes.
type Register struct {
	Options
	Slots     int // live keys at a time (default 3)
	OpsPerKey int // default 120

	mu   sync.Mutex
	gen  []int
	ops  []int
	keys []string // every key used, for the final reads
	seq  atomic.Int64
}

// NewRegister builds the workload.
func NewRegister(o Options) *Register {
	o.setDefaults()
	r := &Register{Options: o, Slots: 3, OpsPerKey: 120}
	return r
}

// Name is "register".
func (r *Register) Name() string { return "register" }

// Checkers: linearizability.
func (r *Register) Checkers() []validate.Checker {
	return []validate.Checker{validate.Linearizable{Except: client.KeyPrefix}}
}

func (r *Register) key(slot int) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.gen == nil {
		r.gen, r.ops = make([]int, r.Slots), make([]int, r.Slots)
	}
	r.ops[slot]++
	if r.ops[slot] > r.OpsPerKey {
		r.gen[slot]++
		r.ops[slot] = 1
	}
	k := fmt.Sprintf("reg-%d-%d", slot, r.gen[slot])
	if r.ops[slot] == 1 {
		r.keys = append(r.keys, k)
	}
	return k
}

// Run drives Clients concurrent clients.
func (r *Register) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for c := 0; c < r.Clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(r.Seed, uint64(c)))
			proc := int(r.Procs.Add(1))
			last := map[string]string{}
			for ctx.Err() == nil {
				key := r.key(rng.IntN(r.Slots))
				node := c % r.Nodes
				var done history.Event
				switch x := rng.IntN(10); {
				case x < 4:
					done = r.KV.Get(ctx, proc, node, key, false)
					if done.Type == history.OK {
						last[key] = done.Value
					}
				case x < 7:
					v := fmt.Sprint(r.seq.Add(1))
					done = r.KV.Put(ctx, proc, node, key, v)
					if done.Type == history.OK {
						last[key] = v
					}
				default:
					v := fmt.Sprint(r.seq.Add(1))
					old, seen := last[key]
					done = r.KV.CAS(ctx, proc, node, key, old, !seen, v)
					if done.Type == history.OK && !done.Mismatch {
						last[key] = v
					}
				}
				pause := r.Pace
				switch done.Type {
				case history.Info:
					proc = int(r.Procs.Add(1)) // the old operation may still take effect
				case history.Fail:
					pause = 10 * r.Pace // the node is down or cut: do not spin on it
				}
				sleep(ctx, pause)
			}
		}()
	}
	wg.Wait()
	return nil
}

// Final reads every key once through each node in turn until one read succeeds.
func (r *Register) Final(ctx context.Context) error {
	r.mu.Lock()
	keys := append([]string(nil), r.keys...)
	r.mu.Unlock()
	proc := int(r.Procs.Add(1))
	for i, k := range keys {
		if err := finalRead(ctx, r.KV, proc, i, r.Nodes, k); err != nil {
			return err
		}
	}
	return nil
}

func finalRead(ctx context.Context, kv *client.KV, proc, start, nodes int, key string) error {
	for try := 0; ; try++ {
		e := kv.Get(ctx, proc, (start+try)%nodes, key, true)
		if e.Type == history.OK {
			return nil
		}
		if ctx.Err() != nil || try > 30 {
			return fmt.Errorf("final read of %s: %s", key, e.Error)
		}
		sleep(ctx, 200*time.Millisecond)
	}
}

// Claim: in each round every client claims the round's key (compare-and-set from absent) through its own node
// at the same moment; the round ends when all have answered.
type Claim struct {
	Options
	mu   sync.Mutex
	keys []string
}

// NewClaim builds the workload.
func NewClaim(o Options) *Claim {
	o.setDefaults()
	return &Claim{Options: o}
}

// Name is "claim".
func (c *Claim) Name() string { return "claim" }

// Checkers: unique claim, and linearizability of the same operations.
func (c *Claim) Checkers() []validate.Checker {
	return []validate.Checker{validate.UniqueClaim{Except: client.KeyPrefix}}
}

// Run plays rounds until ctx is done.
func (c *Claim) Run(ctx context.Context) error {
	procs := make([]int, c.Clients)
	for i := range procs {
		procs[i] = int(c.Procs.Add(1))
	}
	for round := 0; ctx.Err() == nil; round++ {
		key := fmt.Sprintf("claim-%d", round)
		c.mu.Lock()
		c.keys = append(c.keys, key)
		c.mu.Unlock()
		var wg sync.WaitGroup
		for i := range procs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				e := c.KV.Claim(ctx, procs[i], (i+round)%c.Nodes, key, fmt.Sprintf("c%d", procs[i]))
				if e.Type == history.Info {
					procs[i] = int(c.Procs.Add(1))
				}
			}()
		}
		wg.Wait()
		sleep(ctx, 5*c.Pace)
	}
	return nil
}

// Final reads every claimed key.
func (c *Claim) Final(ctx context.Context) error {
	c.mu.Lock()
	keys := append([]string(nil), c.keys...)
	c.mu.Unlock()
	proc := int(c.Procs.Add(1))
	for i, k := range keys {
		if err := finalRead(ctx, c.KV, proc, i, c.Nodes, k); err != nil {
			return err
		}
	}
	return nil
}
