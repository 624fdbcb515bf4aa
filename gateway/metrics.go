package gateway

import "sync/atomic"

// Metrics counts gateway events. Plain atomic counters (node/ exports them); the edge's and the sessions'
// own counters are Server.Edge().Metrics() and Server.Sessions().Metrics().
type Metrics struct {
	KeysCreated     atomic.Uint64 // dh_gen_ok sent (key stored)
	ExchangesFailed atomic.Uint64 // key exchanges ended by an error (connection closed)
	UnknownKey      atomic.Uint64 // frames with an unknown or expired auth_key_id (-404)
	Undecryptable   atomic.Uint64 // frames failing the msg_key or length checks (connection closed)
	Overloaded      atomic.Uint64 // connections refused because the worker queue was full (-429)
	InboxOverflow   atomic.Uint64 // connections closed for too many unprocessed bytes
	Calls           atomic.Uint64 // Backend.Invoke calls
	CallErrors      atomic.Uint64 // calls answered with an rpc_error
	Busy            atomic.Uint64 // calls refused because MaxInflight were running
	BackendPanics   atomic.Uint64 // Backend.Invoke panics (answered 500 INTERNAL)
	TempKeysBound   atomic.Uint64 // auth.bindTempAuthKey accepted
	Pushes          atomic.Uint64 // Push calls
}

// Metrics returns the gateway's counters.
func (s *Server) Metrics() *Metrics { return &s.metrics }

// PendingBytes is the size of received frames not yet processed, over all connections.
func (s *Server) PendingBytes() int64 { return s.inboxAll.Load() }
