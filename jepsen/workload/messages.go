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

// Messages: Users users with Devices devices each (device d of user u talks to node (u+d) mod nodes, so a
// user's devices sit on different nodes). One client per device loops: send a unique text to a random other
// user (60%), or read a random dialog (40%). Final reads: every dialog of every user through device 0.
// Checked by messages-set, dialog-order, read-your-writes, and pts when the driver records updates (Pts).
type Messages struct {
	M       *client.Messages
	Users   int // default 4
	Devices int // default 2
	Procs   *atomic.Int64
	Seed    uint64
	Pace    time.Duration // default 10 ms
	// Background, if set, runs beside the clients until the run ends (the MTProto driver's pts upkeep:
	// getDifference on gaps, devices going offline and coming back).
	Background func(ctx context.Context) error
	// Settle, if set, runs before the final reads (every device online and caught up).
	Settle func(ctx context.Context) error
	// Pts adds the pts checker (the driver records updates).
	Pts bool

	seq atomic.Int64
}

func (w *Messages) setDefaults() {
	if w.Users == 0 {
		w.Users = 4
	}
	if w.Devices == 0 {
		w.Devices = 2
	}
	if w.Procs == nil {
		w.Procs = new(atomic.Int64)
	}
	if w.Pace == 0 {
		w.Pace = 10 * time.Millisecond
	}
}

// Name is "messages".
func (w *Messages) Name() string { return "messages" }

// Checkers of the messenger's promises.
func (w *Messages) Checkers() []validate.Checker {
	cs := []validate.Checker{validate.MessageSet{}, validate.DialogOrder{}, validate.ReadYourWrites{}}
	if w.Pts {
		cs = append(cs, validate.Pts{})
	}
	return cs
}

func user(i int) int64 { return int64(i + 1) }

// Run drives one client per device until ctx is done.
func (w *Messages) Run(ctx context.Context) error {
	w.setDefaults()
	var wg sync.WaitGroup
	var bgErr error
	if w.Background != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bgErr = w.Background(ctx)
		}()
	}
	for u := 0; u < w.Users; u++ {
		for d := 0; d < w.Devices; d++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(w.Seed, uint64(u*w.Devices+d)))
				proc := int(w.Procs.Add(1))
				for ctx.Err() == nil {
					peer := rng.IntN(w.Users - 1)
					if peer >= u {
						peer++
					}
					var e history.Event
					if rng.IntN(10) < 6 {
						text := fmt.Sprintf("u%d-d%d-%d", user(u), d, w.seq.Add(1))
						e = w.M.Send(ctx, proc, user(u), user(peer), d, text)
					} else {
						e = w.M.Read(ctx, proc, user(u), user(peer), d, false)
					}
					pause := w.Pace
					switch e.Type {
					case history.Info:
						proc = int(w.Procs.Add(1))
					case history.Fail:
						pause = 10 * w.Pace // the node is down or cut: do not spin on it
					}
					sleep(ctx, pause)
				}
			}()
		}
	}
	wg.Wait()
	return bgErr
}

// Final reads every dialog of every user, retrying until each read succeeds.
func (w *Messages) Final(ctx context.Context) error {
	w.setDefaults()
	if w.Settle != nil {
		if err := w.Settle(ctx); err != nil {
			return fmt.Errorf("settle: %w", err)
		}
	}
	proc := int(w.Procs.Add(1))
	for u := 0; u < w.Users; u++ {
		for v := 0; v < w.Users; v++ {
			if u == v {
				continue
			}
			for try := 0; ; try++ {
				e := w.M.Read(ctx, proc, user(u), user(v), 0, true)
				if e.Type == history.OK {
					break
				}
				if ctx.Err() != nil || try > 30 {
					return fmt.Errorf("final read of %d's dialog with %d: %s", user(u), user(v), e.Error)
				}
				sleep(ctx, 200*time.Millisecond)
			}
		}
	}
	return nil
}
