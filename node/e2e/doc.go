// Package e2e holds the messenger's end-to-end test: three real raftgram processes (node/testcluster) and real
// gotd/td v0.160.0 clients (node/e2e/tgclient) connected to different nodes. Two users whose ids live on
// different shards sign up, chat both ways, each has a second device that receives pushes, an offline device
// catches up by updates.getDifference, and the leader of each user's shard is killed with SIGKILL during a
// burst of sends: every acknowledged message must then be in both users' boxes exactly once, in send order,
// with the pts of each user's update log tiling without a gap.
//
// It must never reach into a server process (sockets and files only), bind anything but 127.0.0.1, or
// assert speed.
package e2e
