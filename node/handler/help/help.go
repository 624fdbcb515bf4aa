package help

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/raftgram/raftgram/node"
	"github.com/raftgram/raftgram/node/handler"
	"github.com/raftgram/raftgram/node/messenger"
	"github.com/raftgram/raftgram/tl"
)

// catalogHash is the hash this server gives every (empty) catalog that has one. It is not 0, so a client
// that caches it and sends it back exercises the "not modified" answer; 0 means the client has nothing.
const catalogHash = 0x72676d31 // "rgm1"

// notModified reports whether a client's cached catalog (its hash) is the current one.
func notModified(clientHash int64) bool { return clientHash == catalogHash }

// Domain serves the help, langpack and start-up default methods.
type Domain struct {
	n     *node.Node
	opts  messenger.Options
	log   *slog.Logger
	clock func() time.Time

	mu      sync.Mutex
	dcs     dcCache
	dcsLoad func(ctx context.Context) ([]node.ClientAddrs, int, error)
}

var _ messenger.Domain = (*Domain)(nil)

// New is the domain's messenger.Builder.
func New(d messenger.Deps) (messenger.Domain, error) {
	h := &Domain{n: d.Node, opts: d.Options, log: d.Log, clock: d.Clock}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.clock == nil {
		h.clock = time.Now
	}
	h.log = h.log.With("domain", "help")
	h.dcsLoad = h.loadClientAddrs
	return h, nil
}

// Extension implements messenger.Domain: the domain is stateless.
func (h *Domain) Extension() node.Extension { return node.Extension{} }

// Start implements messenger.Domain (nothing runs in the background).
func (h *Domain) Start(context.Context) error { return nil }

// Close implements messenger.Domain.
func (h *Domain) Close() error { return nil }

// Register implements messenger.Domain.
func (h *Domain) Register(r *handler.Router) {
	h.registerHelp(r)
	h.registerLangpack(r)
	h.registerAccount(r)
	h.registerCatalogs(r)
}

// public registers fn for a method callable before sign-in, unless another domain already serves it.
func public[T tl.Object](r *handler.Router, fn func(ctx context.Context, c *handler.Call, req T) (tl.Object, error)) {
	var zero T
	if r.Has(zero) {
		return
	}
	handler.HandlePublic(r, fn)
}

// signedIn registers fn for a method that needs a signed-in user, unless another domain already serves it.
func signedIn[T tl.Object](r *handler.Router, fn func(ctx context.Context, c *handler.Call, req T) (tl.Object, error)) {
	var zero T
	if r.Has(zero) {
		return
	}
	handler.Handle(r, fn)
}
