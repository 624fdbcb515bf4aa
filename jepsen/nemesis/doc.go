// Package nemesis injects real faults into a cluster of raftgram processes: network partitions as nftables
// rules on per-node cgroups (packets are dropped by the kernel, the servers know nothing), client-to-node cuts
// on the clients' source addresses, kill -9 and restart, SIGSTOP/SIGCONT, restart with a wiped data dir, and a
// schedule that applies and heals them in turn, recording each window in the history (process -1).
//
// Nodes are told apart by cgroup because they all listen on 127.0.0.1: every node process is started inside
// its own cgroup v2 by a wrapper script (Cgroups.Wrapper) so every socket it opens carries that cgroup, and nft
// matches `socket cgroupv2`. See jepsen/DESIGN.md.
//
// It must never leave anything behind: Close deletes the nft table and the cgroups, resumes paused processes
// and restarts stopped ones (Schedule.HealAll). It never touches tables, cgroups or processes it did not make.
package nemesis
