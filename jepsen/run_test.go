package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/raftgram/raftgram/jepsen/validate"
)

func TestNodeHealth(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "n1.log")
	bad := filepath.Join(dir, "n2.log")
	_ = os.WriteFile(good, []byte("time=... level=INFO msg=ok\n"), 0o644)
	_ = os.WriteFile(bad, []byte("time=... level=INFO msg=ok\npanic: log not found\n\ngoroutine 1 [running]:\n"), 0o644)
	if r := nodeHealth(map[string]string{"n1": good}, nil); r.Verdict != validate.Valid {
		t.Fatalf("healthy logs: %+v", r)
	}
	r := nodeHealth(map[string]string{"n1": good, "n2": bad}, []string{"n3"})
	if r.Verdict != validate.Invalid || len(r.Anomalies) != 2 || r.Anomalies[1].Kind != "panic" {
		t.Fatalf("panic and exit not reported: %+v", r)
	}
}
