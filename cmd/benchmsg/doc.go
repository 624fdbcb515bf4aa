// Command benchmsg measures messaging over MTProto on a raftgram cluster (`make bench-messages`): it starts a
// 3-node loopback cluster of real processes (node/testcluster, fsync on as always) or connects to a running
// one (-connect), signs up client pairs with real gotd/td clients spread over the nodes, and has each sender
// keep exactly one messages.sendMessage in flight to its peer for -duration. It prints, per number of pairs,
// acknowledged sends per second, the sendMessage round trip and the send-to-push latency (from the call to the
// peer's gotd client receiving the push, matched by text) at p50 and p99, and how many acknowledged messages
// were never pushed within a grace period.
//
// It must never reach into a server process (MTProto sockets only) or bind anything but 127.0.0.1.
package main
