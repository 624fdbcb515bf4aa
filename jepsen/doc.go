// Command jepsen is raftgram's Jepsen-style runner: it builds raftgram, starts 3 node processes
// (node/testcluster) each in its own cgroup, drives the selected workloads through every node (the KV ones over
// the debug API, the messenger's through gotd MTProto clients signed up with the dev code), injects the
// selected faults on a schedule (jepsen/nemesis), heals, waits for recovery, does final reads, checks the
// history (jepsen/validate) and writes history.jsonl, summary.json and a self-contained report.html.
//
//	go run ./jepsen -duration 5m -workloads register,claim,messages,username -nemesis mixed
//
// See README.md for flags, the fault list and the bug table; DESIGN.md for how faults are made real.
//
// It must never decide a verdict itself (the checkers do), never leave processes, nft rules or cgroups behind,
// and never send traffic anywhere but 127.0.0.0/8.
package main
