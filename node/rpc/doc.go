// Package rpc owns the framing of internal RPC between cluster members: multiplexed request/response frames
// over a stream the caller has already authenticated (node/mux), a client that keeps a few connections per
// peer and pipelines every concurrent call over them, and a server loop.
//
// Frame: u32 big-endian length (of what follows), one byte (method in a request, status in a response), u64
// big-endian call id (echoed by the response), then the body. Status 0 carries the method's result; any other
// status carries an error code (StatusNotLeader, StatusError, ...) and a UTF-8 message (the leader hint for
// StatusNotLeader). Calls on one connection run concurrently on the server; responses come back in completion
// order, matched by id. Writers flush only when their queue is empty, so concurrent calls share syscalls and
// TLS records. WriteFrame/ReadFrame (no id) are the one-shot framing of the join stream.
//
// It must never: read a frame larger than MaxFrame (hostile peers get an error, not an allocation); run more
// than MaxInFlight requests of one connection at once; know what a method means (node/ registers handlers).
package rpc
