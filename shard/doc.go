// Package shard owns the partitioning of the keyspace into a fixed number of shards, the Raft group of each
// shard on this node (hashicorp/raft over the node's shared log store, state machine and transport), the
// proposer-side batcher, routing of proposals and linearizable reads to the shard leader, and leadership
// balancing.
//
// It must never: change Of (the mapping is persistent data); know about TLS, sockets or MTProto (the transport
// comes in as a StreamLayer factory, forwarding as a Forwarder); answer a read from a follower; acknowledge a
// command before it has committed and been applied. See DESIGN.md for the invariants.
package shard
