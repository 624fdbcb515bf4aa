package testcluster

import (
	"context"
	"os"
	"path/filepath"
	"time"
)

// Logger is what the log helpers write to (a *testing.T).
type Logger interface {
	Logf(format string, args ...any)
}

// LogTails logs the last n bytes of every node's log file in dir (the Dir a cluster was started with): what a
// failed test shows of the processes.
func LogTails(l Logger, dir string, n int) {
	logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	for _, f := range logs {
		b, _ := os.ReadFile(f)
		if len(b) > n {
			b = b[len(b)-n:]
		}
		l.Logf("---- %s (tail)\n%s", filepath.Base(f), b)
	}
}

// LogUnimplemented logs, for every running node, the API methods clients called that no handler serves
// (Unimplemented), so that the methods real clients need show up in the test's output.
func (c *Cluster) LogUnimplemented(l Logger) {
	for i, n := range c.Nodes {
		if !n.Running() {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		b, err := c.Unimplemented(ctx, i)
		cancel()
		if err != nil {
			l.Logf("%s /unimplemented: %v", n.ID, err)
			continue
		}
		l.Logf("%s: methods called but not implemented: %s", n.ID, b)
	}
}
