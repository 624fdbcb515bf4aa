package gatehost

import (
	"context"
	"log/slog"
	"sync"

	"github.com/raftgram/raftgram/gateway"
	"github.com/raftgram/raftgram/tl"
)

// NotImplementedBackend answers every method with gateway.ErrNotImplemented (400 METHOD_NOT_IMPLEMENTED) and
// logs each method name once at INFO, so a developer sees what a client asks for.
type NotImplementedBackend struct {
	log  *slog.Logger
	mu   sync.Mutex
	seen map[string]struct{} // bounded by the number of methods the TL registry decodes
}

// NewNotImplementedBackend returns a NotImplementedBackend logging to log.
func NewNotImplementedBackend(log *slog.Logger) *NotImplementedBackend {
	return &NotImplementedBackend{log: log, seen: make(map[string]struct{})}
}

// Invoke implements gateway.Backend.
func (b *NotImplementedBackend) Invoke(_ context.Context, call gateway.Call) (tl.Object, error) {
	name := tl.Name(call.Request)
	b.mu.Lock()
	_, seen := b.seen[name]
	if !seen {
		b.seen[name] = struct{}{}
	}
	b.mu.Unlock()
	if !seen {
		b.log.Info("API method not implemented yet (logged once per method)", "method", name, "layer", call.Layer)
	}
	return nil, gateway.ErrNotImplemented
}
