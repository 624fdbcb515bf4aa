package nemesis

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/raftgram/raftgram/jepsen/history"
)

// Schedule applies faults one at a time: a fault is on for about Hold, then everything is healed for about
// Quiet, then the next fault (round robin over a random order of Faults). Each start and stop is recorded as a
// nemesis operation: f "start" / "stop", Key = the fault's name, Value = what it did.
type Schedule struct {
	Env    *Env
	Faults []Fault
	Rec    *history.Recorder
	// Process is the nemesis process id of this schedule in the history (default history.NemesisProcess).
	Process int
	Hold    time.Duration // default 5 s
	Quiet   time.Duration // default 5 s
	// Sleep waits (injectable for tests); it returns early with ctx.
	Sleep func(ctx context.Context, d time.Duration)

	mu       sync.Mutex
	injected map[string]int
}

func (s *Schedule) setDefaults() {
	if s.Process == 0 {
		s.Process = history.NemesisProcess
	}
	if s.Hold == 0 {
		s.Hold = 5 * time.Second
	}
	if s.Quiet == 0 {
		s.Quiet = 5 * time.Second
	}
	if s.Sleep == nil {
		s.Sleep = func(ctx context.Context, d time.Duration) {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-ctx.Done():
			case <-t.C:
			}
		}
	}
}

// jitter spreads d over [d/2, 3d/2).
func (s *Schedule) jitter(d time.Duration) time.Duration {
	return d/2 + time.Duration(s.Env.Rand.Int64N(int64(d)+1))
}

// Run injects faults until ctx is done, then heals the fault in place (with a fresh context) and returns.
func (s *Schedule) Run(ctx context.Context) error {
	s.setDefaults()
	if len(s.Faults) == 0 {
		<-ctx.Done()
		return nil
	}
	order := s.Env.Rand.Perm(len(s.Faults))
	var errs []error
	s.Sleep(ctx, s.jitter(s.Quiet))
	for k := 0; ctx.Err() == nil; k++ {
		f := s.Faults[order[k%len(order)]]
		s.Rec.Add(history.Event{Type: history.Invoke, Process: s.Process, Node: -1, F: "start", Key: f.Name()})
		desc, heal, err := f.Start(ctx, s.Env)
		done := history.Event{Type: history.OK, Process: s.Process, Node: -1, F: "start", Key: f.Name(), Value: desc}
		if err != nil {
			done.Type, done.Error = history.Info, err.Error()
			s.Env.Log.Warn("nemesis start failed", "fault", f.Name(), "err", err)
		} else {
			s.count(f.Name())
			s.Env.Log.Info("nemesis", "fault", f.Name(), "what", desc)
		}
		s.Rec.Add(done)
		if heal != nil {
			s.Sleep(ctx, s.jitter(s.Hold))
			if err := s.heal(f.Name(), heal); err != nil {
				errs = append(errs, err)
			}
		}
		s.Sleep(ctx, s.jitter(s.Quiet))
	}
	return errors.Join(errs...)
}

func (s *Schedule) heal(name string, heal Heal) error {
	// Healing must happen even when the run is over.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s.Rec.Add(history.Event{Type: history.Invoke, Process: s.Process, Node: -1, F: "stop", Key: name})
	err := heal(ctx)
	done := history.Event{Type: history.OK, Process: s.Process, Node: -1, F: "stop", Key: name}
	if err != nil {
		done.Type, done.Error = history.Info, err.Error()
		s.Env.Log.Warn("nemesis heal failed", "fault", name, "err", err)
	}
	s.Rec.Add(done)
	if err != nil {
		return fmt.Errorf("heal %s: %w", name, err)
	}
	return nil
}

func (s *Schedule) count(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.injected == nil {
		s.injected = map[string]int{}
	}
	s.injected[name]++
}

// Injected counts the faults that started, by name.
func (s *Schedule) Injected() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for k, v := range s.injected {
		out[k] = v
	}
	return out
}

// HealAll removes every rule, resumes every node and restarts every node that is not running.
func HealAll(ctx context.Context, env *Env) error {
	var errs []error
	if env.Net != nil {
		if err := env.Net.Heal(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	for i := 0; i < env.Cluster.Size(); i++ {
		if env.Cluster.Running(i) {
			_ = env.Cluster.Resume(i) // harmless when it is not paused
			continue
		}
		_ = env.Cluster.Kill(i) // reaps a process that exited on its own, so it can be started again
		if err := env.Cluster.Restart(i); err != nil {
			errs = append(errs, fmt.Errorf("restart n%d: %w", i+1, err))
		}
	}
	return errors.Join(errs...)
}
