// Package transport implements the server side of the MTProto transports: abridged, intermediate, padded
// intermediate and full framing, obfuscated2 over the first three, detection of the transport from a
// connection's first bytes, and the minimal RFC 6455 WebSocket server framing that web clients wrap the
// obfuscated2 stream in.
//
// It owns framing only: bytes in, frames out, and the reverse. It never does I/O, never starts goroutines,
// never looks inside a frame (auth keys, msg ids and the rest belong to the session layer), and never
// allocates more than the configured frame size limit for any input. The codecs are push-style streaming
// decoders so that an event loop can feed them whatever slices the socket produced; see DESIGN.md for the
// invariants.
package transport
