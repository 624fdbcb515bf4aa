package edge

import "sync/atomic"

// Metrics are the edge's counters; node/ exports them. All fields are updated atomically.
type Metrics struct {
	Accepted atomic.Uint64 // TCP connections accepted
	Opened   atomic.Uint64 // connections whose transport was detected (Handler.OnOpen called)
	Closed   atomic.Uint64 // connections closed, for any reason
	Active   atomic.Int64  // connections open now

	FramesIn  atomic.Uint64
	FramesOut atomic.Uint64
	BytesIn   atomic.Uint64 // raw bytes read from sockets
	BytesOut  atomic.Uint64 // raw bytes queued to sockets

	RejectedPerIP   atomic.Uint64 // refused: over MaxConnsPerIP
	BadTransport    atomic.Uint64 // closed: first bytes are no MTProto transport / bad WebSocket upgrade
	FrameTooLarge   atomic.Uint64 // closed: frame length over MaxFrame
	ProtocolError   atomic.Uint64 // closed: bad length, CRC, seqno or WebSocket framing
	UnauthTimeout   atomic.Uint64 // closed: not authenticated within MaxUnauthTime
	IdleTimeout     atomic.Uint64 // closed: silent for IdleTimeout
	OutboundOverrun atomic.Uint64 // closed: more than MaxPendingOut bytes waiting to be written
	Panics          atomic.Uint64 // panics recovered in an event (the connection is closed)
}
