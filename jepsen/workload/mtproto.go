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

// Profile: linearizable profile names through MTProto. Every device of every owner loops: set the owner's
// first name to a fresh value (50%) or read it back with users.getUsers(self) (50%); every observer device
// (one per node) reads a random owner's name. So each name is written through two nodes and read through all
// three. Each owner's name is first set once (recorded) so the register starts from a known value.
type Profile struct {
	R     *client.MTRegisters
	Procs *atomic.Int64
	Seed  uint64
	// Pace is the pause between one device's operations (default 60 ms): porcupine must still search each
	// name's whole history, so it stays a few thousand operations.
	Pace time.Duration
	seq  atomic.Int64
}

// Name is "profile".
func (p *Profile) Name() string { return "profile" }

// Checkers: linearizability of the mt: keys.
func (p *Profile) Checkers() []validate.Checker {
	return []validate.Checker{validate.Linearizable{Only: client.KeyPrefix + "name-", Label: "profile"}}
}

// Run drives every owner device and every observer device until ctx is done.
func (p *Profile) Run(ctx context.Context) error {
	if p.Pace == 0 {
		p.Pace = 60 * time.Millisecond
	}
	var wg sync.WaitGroup
	for o := range p.R.Owners() {
		// A process of its own, used once: if the write is indeterminate nobody reuses the process.
		p.R.PutName(ctx, int(p.Procs.Add(1)), o, 0, fmt.Sprintf("n%d", p.seq.Add(1)))
		for d := range p.R.OwnerDevices() {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(p.Seed, uint64(o*10+d)))
				p.loop(ctx, func(proc int) history.Event {
					if rng.IntN(2) == 0 {
						return p.R.PutName(ctx, proc, o, d, fmt.Sprintf("n%d", p.seq.Add(1)))
					}
					return p.R.GetName(ctx, proc, o, d, true)
				})
			}()
		}
	}
	for d := range p.R.ObserverDevices() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(p.Seed, uint64(1000+d)))
			p.loop(ctx, func(proc int) history.Event {
				return p.R.GetName(ctx, proc, rng.IntN(p.R.Owners()), d, false)
			})
		}()
	}
	wg.Wait()
	return nil
}

func (p *Profile) loop(ctx context.Context, op func(proc int) history.Event) {
	proc := int(p.Procs.Add(1))
	for ctx.Err() == nil {
		pause := p.Pace
		switch op(proc).Type {
		case history.Info:
			proc = int(p.Procs.Add(1)) // the old write may still take effect
		case history.Fail:
			pause = 10 * p.Pace
		}
		sleep(ctx, pause)
	}
}

// Final reads nothing: every read of the run is checked.
func (p *Profile) Final(context.Context) error { return nil }

// Username: rounds of concurrent account.updateUsername of one fresh username by several users through
// different nodes; once all answered, the observer resolves the name (the round's final read) before the next
// round starts, because a winner that claims again later frees its old name. A claimer whose claim was
// indeterminate sits out for Cooldown, so its old attempt is decided before it claims anything else (a new
// attempt of the same user would replace it).
type Username struct {
	R     *client.MTRegisters
	Procs *atomic.Int64
	Seed  uint64
	// PerRound claimers race each round (default 4, at most R.Claimers()).
	PerRound int
	Cooldown time.Duration // default 10 s
	Pace     time.Duration // pause between rounds (default 50 ms)
}

// Name is "username".
func (u *Username) Name() string { return "username" }

// Checkers: exactly one winner per name, and linearizability of claims and resolutions.
func (u *Username) Checkers() []validate.Checker {
	return []validate.Checker{
		validate.UniqueClaim{Only: client.KeyPrefix + "user-", Label: "username"},
		validate.Linearizable{Only: client.KeyPrefix + "user-", Label: "username"},
	}
}

// Run plays rounds until ctx is done.
func (u *Username) Run(ctx context.Context) error {
	if u.PerRound == 0 {
		u.PerRound = 4
	}
	u.PerRound = min(u.PerRound, u.R.Claimers())
	if u.Cooldown == 0 {
		u.Cooldown = 10 * time.Second
	}
	if u.Pace == 0 {
		u.Pace = 50 * time.Millisecond
	}
	rng := rand.New(rand.NewPCG(u.Seed, 0x757365))
	procs := make([]int, u.R.Claimers())
	until := make([]time.Time, u.R.Claimers()) // cooling down until
	for i := range procs {
		procs[i] = int(u.Procs.Add(1))
	}
	reader := int(u.Procs.Add(1))
	for round := 0; ctx.Err() == nil; round++ {
		var ready []int
		for j, t := range until {
			if time.Now().After(t) {
				ready = append(ready, j)
			}
		}
		rng.Shuffle(len(ready), func(a, b int) { ready[a], ready[b] = ready[b], ready[a] })
		if len(ready) < 2 {
			sleep(ctx, time.Second)
			continue
		}
		ready = ready[:min(len(ready), u.PerRound)]
		name := fmt.Sprintf("jclaim%dr%d", u.Seed%1000, round)
		var wg sync.WaitGroup
		for _, j := range ready {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if e := u.R.Claim(ctx, procs[j], j, name); e.Type == history.Info {
					procs[j] = int(u.Procs.Add(1))
					until[j] = time.Now().Add(u.Cooldown)
				}
			}()
		}
		wg.Wait()
		// The round's final read: retried through each node in turn; it outlives the run's end by a little.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		for try := 0; rctx.Err() == nil; try++ {
			if e := u.R.ResolveName(rctx, reader, (round+try)%u.R.ObserverDevices(), name, true); e.Type == history.OK {
				break
			}
			sleep(rctx, 200*time.Millisecond)
		}
		cancel()
		sleep(ctx, u.Pace)
	}
	return nil
}

// Final: every round read its name already.
func (u *Username) Final(context.Context) error { return nil }
