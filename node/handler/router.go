package handler

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"sort"
	"sync"

	"github.com/raftgram/raftgram/gateway"
	"github.com/raftgram/raftgram/tl"
)

// Call is what a handler sees of one client call (ids of the key, session and signed-in user, layer, init).
type Call = gateway.Call

// Func serves one method. It returns the result, or an error: *gateway.RPCError (see Err) reaches the client
// as is, anything else becomes 500 INTERNAL and is logged.
type Func func(ctx context.Context, c *Call, req tl.Object) (tl.Object, error)

type entry struct {
	fn     Func
	public bool // callable without a signed-in user
}

// Router implements gateway.Backend.
type Router struct {
	log      *slog.Logger
	handlers map[reflect.Type]entry

	mu   sync.Mutex
	seen map[string]int // unimplemented method name -> calls; bounded by the methods the registry decodes
}

var _ gateway.Backend = (*Router)(nil)

// NewRouter returns an empty Router.
func NewRouter(log *slog.Logger) *Router {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Router{log: log, handlers: map[reflect.Type]entry{}, seen: map[string]int{}}
}

// Handle registers fn for method T (a request type such as *api.MessagesSendMessageRequest); the caller must be
// signed in. Registering a method twice panics (a wiring bug).
func Handle[T tl.Object](r *Router, fn func(ctx context.Context, c *Call, req T) (tl.Object, error)) {
	register(r, fn, false)
}

// HandlePublic is Handle for methods callable before sign-in (auth.*, help.*, langpack.*).
func HandlePublic[T tl.Object](r *Router, fn func(ctx context.Context, c *Call, req T) (tl.Object, error)) {
	register(r, fn, true)
}

func register[T tl.Object](r *Router, fn func(ctx context.Context, c *Call, req T) (tl.Object, error), public bool) {
	t := reflect.TypeFor[T]()
	if _, dup := r.handlers[t]; dup {
		panic("handler: method registered twice: " + t.String())
	}
	r.handlers[t] = entry{public: public, fn: func(ctx context.Context, c *Call, req tl.Object) (tl.Object, error) {
		return fn(ctx, c, req.(T))
	}}
}

// Has reports whether a handler serves the request type of req.
func (r *Router) Has(req tl.Object) bool {
	_, ok := r.handlers[reflect.TypeOf(req)]
	return ok
}

// Invoke implements gateway.Backend.
func (r *Router) Invoke(ctx context.Context, call gateway.Call) (tl.Object, error) {
	e, ok := r.handlers[reflect.TypeOf(call.Request)]
	if !ok {
		r.unimplemented(call)
		return nil, gateway.ErrNotImplemented
	}
	if !e.public && call.UserID == 0 {
		return nil, ErrUnregistered
	}
	res, err := e.fn(ctx, &call, call.Request)
	if err != nil {
		var re *gateway.RPCError
		if !errors.As(err, &re) && !errors.Is(err, gateway.ErrNotImplemented) {
			r.log.Warn("method failed", "method", tl.Name(call.Request), "user", call.UserID, "err", err)
		}
	}
	return res, err
}

func (r *Router) unimplemented(call gateway.Call) {
	name := tl.Name(call.Request)
	r.mu.Lock()
	r.seen[name]++
	first := r.seen[name] == 1
	r.mu.Unlock()
	if first {
		r.log.Info("API method not implemented (logged once per method)", "method", name, "layer", call.Layer)
	}
}

// Unimplemented lists the methods clients called that no handler serves, with how often, sorted by name.
func (r *Router) Unimplemented() []MethodCount {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]MethodCount, 0, len(r.seen))
	for m, n := range r.seen {
		out = append(out, MethodCount{Method: m, Calls: n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Method < out[j].Method })
	return out
}

// MethodCount is one unimplemented method and how often clients called it.
type MethodCount struct {
	Method string `json:"method"`
	Calls  int    `json:"calls"`
}
