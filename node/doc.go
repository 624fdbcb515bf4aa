// Package node wires one cluster member: its data dir (credentials, node.json), the shared Raft log store and
// state machine, the shard manager, the single TLS port (node/mux) carrying Raft and internal RPC, the join
// protocol, the admin HTTP server (/metrics, /healthz, /readyz, /status, and the debug KV API when enabled), and
// the hooks where the MTProto gateway and API handlers plug in (Gateway, Node.Propose, Node.Read, Node.State).
//
// It must never: serve Raft or RPC to a peer without a cluster certificate; admit a node without a valid,
// unused join token; expose the debug KV API unless Config.DebugAPI is set; bootstrap a group that already has
// state; start goroutines from New (Start does; Close stops them).
package node
