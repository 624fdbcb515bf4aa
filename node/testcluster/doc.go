// Package testcluster starts real raftgram processes on 127.0.0.1 for tests, benchmarks and the Jepsen runner:
// it builds the binary once (go build into a temp dir), creates a cluster with init + join, and offers Kill
// (SIGKILL), Stop, Restart, Wipe, Leader(shard), WaitReady and a KV client over each node's debug HTTP API.
//
// It must never: reach into a node's memory (everything goes through processes, sockets and files); bind
// anything but 127.0.0.1; leave processes behind after Close.
package testcluster
