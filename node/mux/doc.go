// Package mux owns a node's single TLS port: it accepts connections, completes the TLS handshake, reads a
// 6-byte stream header and hands the connection to the Raft group (as a raft.StreamLayer), to the internal RPC
// server, or to the join handler.
//
// Header: magic 'R', kind (1 = Raft, 2 = RPC, 3 = join), group id (uint32 big endian, 0 unless Raft).
//
// It must never: hand a Raft or RPC stream to anyone unless the peer presented a certificate signed by the
// cluster CA (only the join stream may come without one, and the join handler checks its token); block the
// accept loop on a slow peer (handshake and header run per connection under a deadline); close the shared
// listener when one group's StreamLayer is closed.
package mux
