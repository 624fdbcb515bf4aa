package shard

import (
	"bytes"
	"context"
	"log/slog"

	"github.com/hashicorp/go-hclog"
)

type hclogLogger = hclog.Logger

// newHCLog adapts hashicorp/raft's logger to the node's slog logger: raft logs at Warn and above only, since
// its Info level is one line per heartbeat failure and election step.
func newHCLog(l *slog.Logger) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:   "raft",
		Level:  hclog.Warn,
		Output: slogWriter{l},
	})
}

type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	line := bytes.TrimSpace(p)
	level := slog.LevelInfo
	switch {
	case bytes.Contains(line, []byte("[ERROR]")):
		level = slog.LevelError
	case bytes.Contains(line, []byte("[WARN]")):
		level = slog.LevelWarn
	}
	// Strip hclog's own timestamp: slog adds one.
	if i := bytes.IndexByte(line, '['); i > 0 {
		line = line[i:]
	}
	w.l.Log(context.Background(), level, string(line))
	return len(p), nil
}
