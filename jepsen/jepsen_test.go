package main

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/raftgram/raftgram/jepsen/validate"
)

// TestJepsenShort is the short form that `make test` runs: a real 3-process cluster for 25 s under the mixed
// nemesis (partitions as nft rules when root, kill -9, SIGSTOP) with every workload (register, claim and set
// over the debug KV API; messages, profile and username through gotd MTProto clients), then every checker. It
// is skipped with -short. JEPSEN_OUT keeps the output (history, report) in that directory; otherwise it goes
// to a temp dir and is deleted.
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
		Duration:  25 * time.Second,
		Workloads: DefaultWorkloads,
		Nemeses:   []string{"mixed"},
		Hold:      3 * time.Second,
		Quiet:     3 * time.Second,
		Clients:   4,
		// Fewer MTProto devices than the long form: each new auth key costs seconds of CPU under -race.
		MsgUsers: 3,
		Owners:   2,
		Claimers: 4,
		Seed:     1,
		Out:      out,
		Log:      slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		t.Fatal(err)
	}
	printSummary(testWriter{t}, sum)
	if len(sum.Injected) == 0 {
		t.Fatal("no fault was injected")
	}
	if sum.Ops["put:ok"] == 0 || sum.Ops["get:ok"] == 0 || sum.Ops["claim:ok"] == 0 || sum.Ops["cas:ok"] == 0 ||
		sum.Ops["send:ok"] == 0 || sum.Ops["read:ok"] == 0 {
		t.Fatalf("too little traffic: %v", sum.Ops)
	}
	// Keys a known bug explains: the username checkers see bug 1 both as a stuck claim and as a key that is
	// not linearizable.
	stuck := map[string]bool{}
	for _, r := range sum.Results {
		for _, a := range r.Anomalies {
			if r.Checker+" "+a.Kind == stuckClaim && a.Key != "" {
				stuck[a.Key] = true
			}
		}
	}
	for _, r := range sum.Results {
		if r.Verdict != validate.Invalid {
			continue
		}
		unknown := r.Dropped > 0
		for _, a := range r.Anomalies {
			bug := knownBugs[r.Checker+" "+a.Kind]
			if bug == "" && stuck[a.Key] {
				bug = knownBugs[stuckClaim]
			}
			if bug != "" {
				t.Logf("known bug (jepsen/README.md, %s): %s: %s: %s (events %v)", bug, r.Checker, a.Kind, a.Text, a.Events)
				continue
			}
			unknown = true
			t.Errorf("%s: %s: %s (events %v)", r.Checker, a.Kind, a.Text, a.Events)
		}
		if unknown {
			t.Errorf("%s: invalid; history and report in %s (set JEPSEN_OUT to keep them)", r.Checker, out)
		}
	}
}

// knownBugs are the anomalies ("<checker> <kind>") of open bugs in the README's table: the short form logs them
// without failing, so `make test` keeps guarding everything else. The runner still reports them as invalid.
// Remove an entry once its bug is fixed.
var knownBugs = map[string]string{}

const stuckClaim = "unique-claim/username stuck-claim"

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}
