package gateway

import (
	"context"
	"errors"

	"github.com/raftgram/raftgram/gateway/handshake"
	"github.com/raftgram/raftgram/gateway/session"
	"github.com/raftgram/raftgram/tl"
)

// Backend runs API methods for the gateway.
type Backend interface {
	Invoke(ctx context.Context, call Call) (tl.Object, error)
}

// BackendFunc adapts a function to Backend.
type BackendFunc func(ctx context.Context, call Call) (tl.Object, error)

// Invoke implements Backend.
func (f BackendFunc) Invoke(ctx context.Context, call Call) (tl.Object, error) { return f(ctx, call) }

// Call is one API method call from a client.
type Call struct {
	AuthKeyID int64
	PermKeyID int64 // the permanent key behind a bound temporary key, else AuthKeyID
	SessionID int64
	MsgID     int64
	UserID    int64 // 0 if the key is not signed in
	Layer     int   // from invokeWithLayer on this session (or earlier ones of the key); 0 if never said
	Init      *session.InitInfo
	Request   tl.Object
	NoUpdates bool // invokeWithoutUpdates
}

// RPCError is an error answer (rpc_error) with a Telegram error code and message.
type RPCError = session.RPCError

// ErrNotImplemented tells the gateway to answer 400 METHOD_NOT_IMPLEMENTED.
var ErrNotImplemented = errors.New("gateway: method not implemented")

// Re-exported so that callers need only this package.
type (
	// AuthKey is a stored auth key.
	AuthKey = handshake.AuthKey
	// AuthKeyStore persists auth keys.
	AuthKeyStore = handshake.AuthKeyStore
	// MemoryStore is an in-memory AuthKeyStore.
	MemoryStore = handshake.MemoryStore
)

// NewMemoryStore returns an empty in-memory AuthKeyStore.
func NewMemoryStore() *MemoryStore { return handshake.NewMemoryStore() }

// ErrKeyExists is what AuthKeyStore.Put returns for a taken id.
var ErrKeyExists = handshake.ErrKeyExists
