package edge

import (
	"crypto/rand"
	"io"
	"runtime"
	"time"

	"github.com/raftgram/raftgram/gateway/transport"
)

// Options configures a Server. Zero fields take the defaults listed.
type Options struct {
	// Addr is the TCP address to listen on, host:port (default "127.0.0.1:0"); every transport, WebSocket
	// included, is detected on it.
	Addr string
	// ExtraAddrs are further listeners served the same way (e.g. a separate WebSocket port).
	ExtraAddrs []string
	// EventLoops is the number of gnet event loops (default GOMAXPROCS).
	EventLoops int
	// MaxFrame limits a frame's payload in bytes (default transport.DefaultMaxFrame).
	MaxFrame int
	// MaxUnauthTime closes a connection not marked authenticated by then (default 60s; negative: never).
	MaxUnauthTime time.Duration
	// IdleTimeout closes a connection that sent nothing for this long (default 5m; negative: never). gotd
	// pings every 60s.
	IdleTimeout time.Duration
	// MaxConnsPerIP caps open connections from one IP address (default 256; negative: no cap).
	MaxConnsPerIP int
	// MaxPendingOut caps bytes sent but not yet written to the socket, per connection (default 8 MiB).
	MaxPendingOut int
	// TickInterval is how often timeouts are checked (default 1s).
	TickInterval time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Rand supplies padding bytes (default crypto/rand.Reader). It must be safe for concurrent use.
	Rand io.Reader
}

func (o *Options) setDefaults() {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.EventLoops <= 0 {
		o.EventLoops = runtime.GOMAXPROCS(0)
	}
	if o.MaxFrame <= 0 {
		o.MaxFrame = transport.DefaultMaxFrame
	}
	if o.MaxUnauthTime == 0 {
		o.MaxUnauthTime = 60 * time.Second
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = 5 * time.Minute
	}
	if o.MaxConnsPerIP == 0 {
		o.MaxConnsPerIP = 256
	}
	if o.MaxPendingOut <= 0 {
		o.MaxPendingOut = 8 << 20
	}
	if o.TickInterval <= 0 {
		o.TickInterval = time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
}
