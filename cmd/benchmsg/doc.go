// Command benchmsg measures messaging over MTProto on a raftgram cluster (`make bench-messages`): it starts a
// 3-node loopback cluster of real processes (node/testcluster, fsync on as always) or connects to a running
// one (-connect), signs up client pairs spread over the nodes, and has each sender keep exactly one
// messages.sendMessage in flight to its peer for -duration. It prints, per number of pairs, acknowledged sends
// per second, the sendMessage round trip and the send-to-push latency (from the call to the peer's client
// receiving the push, matched by text) at p50 and p99, and how many acknowledged messages were never pushed
// within a grace period.
//
// The clients are real gotd/td clients by default. -client raw uses the project's lean MTProto client
// (internal/testclient) instead: the same calls and the same encrypted messages and acks on the wire, at about
// half of gotd's CPU per send, which on a machine shared with the cluster is CPU the cluster gets back.
//
// It must never reach into a server process (MTProto sockets only) or bind anything but 127.0.0.1.
package main
