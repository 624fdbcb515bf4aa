package gateway

import (
	"crypto/rand"
	"errors"
	"io"
	"runtime"
	"time"

	"github.com/raftgram/raftgram/gateway/crypto"
	"github.com/raftgram/raftgram/gateway/edge"
)

// Options configure a Server. Zero fields take the defaults listed.
type Options struct {
	Edge       edge.Options      // listener and connection limits (see edge.Options)
	ServerKey  *crypto.ServerKey // required: the cluster's RSA key
	SaltSecret []byte            // required, >= 16 bytes, the same on every node: salts derive from it
	DC         int32             // this node's DC id (informational; keys record the DC the client named)

	// HSWorkers serve connections still exchanging keys (default GOMAXPROCS), apart from the Workers
	// (default 2*GOMAXPROCS) that serve encrypted traffic: a flood of handshakes cannot starve other clients.
	Workers      int
	HSWorkers    int
	QueueSize    int           // connections waiting for a worker before new ones get -429 (default 16384)
	MaxInbox     int           // unprocessed bytes per connection before it is closed (default 4 MiB)
	MaxInboxAll  int64         // unprocessed bytes over all connections before new frames are refused (default 256 MiB)
	MaxInflight  int           // concurrent Backend.Invoke calls (default 4096)
	CallTimeout  time.Duration // context deadline of one Backend.Invoke (default 60s)
	SaltWindow   time.Duration // lifetime of one salt (default 30 min)
	SessionTTL   time.Duration // sessions without a connection are dropped after this (default 15 min)
	GzipMin      int           // rpc_result bodies above this go gzip_packed (default 1024)
	RequireInit  bool          // answer CONNECTION_NOT_INITED to calls before invokeWithLayer on the key
	StrictSeqNo  bool          // refuse content messages with an even seq_no (code 35); gotd sends some
	ExponentBits int           // DH secret exponent size (default crypto.DefaultExponentBits)
	PQPrimeBits  int           // size of the primes in resPQ's pq, the client's proof of work (default 31)

	// Presence, if set, is told when a user gets its first signed-in key in this gateway (present) and when
	// its last one leaves (absent), in the order the gateway's state changed: it is called under the server's
	// lock and must not block. The function it returns (nil: none) is waited for outside the lock before the
	// key's next message is served (or the sign-in binding returns), so that other nodes know where to push
	// the user's updates before the client can miss one (node/push DESIGN.md).
	Presence func(userID int64, present bool) (wait func())

	Now  func() time.Time // default time.Now
	Rand io.Reader        // default crypto/rand.Reader; must be safe for concurrent use
}

func (o *Options) setDefaults() error {
	if o.ServerKey == nil || len(o.SaltSecret) < 16 {
		return errors.New("gateway: Options.ServerKey and a SaltSecret of >= 16 bytes are required")
	}
	if o.Workers <= 0 {
		o.Workers = 2 * runtime.GOMAXPROCS(0)
	}
	if o.HSWorkers <= 0 {
		o.HSWorkers = runtime.GOMAXPROCS(0)
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 16384
	}
	if o.MaxInbox <= 0 {
		o.MaxInbox = 4 << 20
	}
	if o.MaxInboxAll <= 0 {
		o.MaxInboxAll = 256 << 20
	}
	if o.MaxInflight <= 0 {
		o.MaxInflight = 4096
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = 60 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	if o.Edge.Now == nil {
		o.Edge.Now = o.Now
	}
	return nil
}
