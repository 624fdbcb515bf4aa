package workload

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/raftgram/raftgram/jepsen/history"
	"github.com/raftgram/raftgram/jepsen/validate"
)

// Set: each client writes fresh keys once (set-<process>-<n>) through its own node; after healing, every key
// is read back. Checked by validate.Durable: no acknowledged write lost, no failed write visible.
type Set struct {
	Options
	mu   sync.Mutex
	keys []string
}

// NewSet builds the workload.
func NewSet(o Options) *Set {
	o.setDefaults()
	return &Set{Options: o}
}

// Name is "set".
func (s *Set) Name() string { return "set" }

// Checkers: durability of write-once keys.
func (s *Set) Checkers() []validate.Checker {
	return []validate.Checker{validate.Durable{Prefix: "set-"}}
}

// Run writes until ctx is done.
func (s *Set) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for c := 0; c < s.Clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			proc := int(s.Procs.Add(1))
			for n := 0; ctx.Err() == nil; n++ {
				key := fmt.Sprintf("set-%d-%d", proc, n)
				s.mu.Lock()
				s.keys = append(s.keys, key)
				s.mu.Unlock()
				e := s.KV.Put(ctx, proc, c%s.Nodes, key, fmt.Sprintf("v%d-%d", proc, n))
				pause := s.Pace
				switch e.Type {
				case history.Info:
					proc = int(s.Procs.Add(1))
				case history.Fail:
					pause = 10 * s.Pace
				}
				sleep(ctx, pause)
			}
		}()
	}
	wg.Wait()
	return nil
}

// Final reads every key, Clients reads at a time.
func (s *Set) Final(ctx context.Context) error {
	s.mu.Lock()
	keys := append([]string(nil), s.keys...)
	s.mu.Unlock()
	var wg sync.WaitGroup
	errs := make([]error, s.Clients)
	for c := 0; c < s.Clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			proc := int(s.Procs.Add(1))
			for i := c; i < len(keys); i += s.Clients {
				if err := finalRead(ctx, s.KV, proc, i, s.Nodes, keys[i]); err != nil {
					errs[c] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
