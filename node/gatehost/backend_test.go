package gatehost_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/raftgram/raftgram/gateway"
	"github.com/raftgram/raftgram/node/gatehost"
	"github.com/raftgram/raftgram/tl/api"
)

// TestNotImplementedBackend: every call gets ErrNotImplemented; each method is logged once at INFO.
func TestNotImplementedBackend(t *testing.T) {
	var buf bytes.Buffer
	b := gatehost.NewNotImplementedBackend(slog.New(slog.NewTextHandler(&buf, nil)))
	calls := []gateway.Call{{Request: &api.HelpGetConfigRequest{}}, {Request: &api.HelpGetConfigRequest{}},
		{Request: &api.HelpGetNearestDCRequest{}}}
	for _, c := range calls {
		if res, err := b.Invoke(context.Background(), c); res != nil || !errors.Is(err, gateway.ErrNotImplemented) {
			t.Fatalf("%v %v", res, err)
		}
	}
	out := buf.String()
	if strings.Count(out, "help.getConfig") != 1 || strings.Count(out, "help.getNearestDc") != 1 ||
		strings.Count(out, "level=INFO") != 2 {
		t.Fatalf("log:\n%s", out)
	}
}
