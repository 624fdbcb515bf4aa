package main

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/raftgram/raftgram/jepsen/validate"
)

// TestJepsenShort is the short form that `make test` runs: a real 3-process cluster for about 40 s under the
// mixed nemesis (partitions as nft rules when root, kill -9, SIGSTOP) with the register, claim and set workloads,
// then every checker. It is skipped with -short. JEPSEN_OUT keeps the output (history, report) in that
// directory; otherwise it goes to a temp dir and is deleted.
func TestJepsenShort(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the Jepsen short form runs a real cluster for about a minute")
	}
	out := os.Getenv("JEPSEN_OUT")
	if out == "" {
		out = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	sum, err := Run(ctx, Config{
		Duration:  38 * time.Second,
		Workloads: []string{"register", "claim", "set"},
		Nemeses:   []string{"mixed"},
		Hold:      3 * time.Second,
		Quiet:     3 * time.Second,
		Clients:   6,
		Seed:      1,
		Out:       out,
		Log:       slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		t.Fatal(err)
	}
	printSummary(testWriter{t}, sum)
	if len(sum.Injected) == 0 {
		t.Fatal("no fault was injected")
	}
	if sum.Ops["put:ok"] == 0 || sum.Ops["get:ok"] == 0 || sum.Ops["claim:ok"] == 0 || sum.Ops["cas:ok"] == 0 {
		t.Fatalf("too little traffic: %v", sum.Ops)
	}
	for _, r := range sum.Results {
		if r.Verdict == validate.Invalid {
			for _, a := range r.Anomalies {
				t.Errorf("%s: %s: %s (events %v)", r.Checker, a.Kind, a.Text, a.Events)
			}
			t.Errorf("%s: invalid; history and report in %s (set JEPSEN_OUT to keep them)", r.Checker, out)
		}
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}
