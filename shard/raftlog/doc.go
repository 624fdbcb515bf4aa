// Package raftlog is the Raft log store shared by every Raft group of a node: ONE Pebble DB holds the logs of
// all groups, each in its own key space, so that the synced appends of different groups share WAL fsyncs
// (cross-group group commit) instead of each group fsyncing its own file.
//
// # API (stable; node/ and shard/ build on it)
//
//	st, err := raftlog.Open(dir, raftlog.Options{Logger: log})   // no goroutines until Open returns the DB
//	gl := st.Group(groupID)          // *GroupLog: raft.LogStore (IsMonotonic false); same pointer per id
//	r, err := raft.NewRaft(conf, fsm, raft.NewLogCache(512, gl) /*or gl*/, boltStable, snaps, trans)
//	...
//	st.DropGroup(groupID)            // when this node stops holding a group (its raft must be shut down)
//	st.Metrics()                     // WAL syncs, bytes, disk usage: for node/ to export
//	st.Close()                       // after every raft using it has been shut down
//
// Options: FS (a pebble vfs.FS; nil = the OS; tests pass vfs.NewCrashableMem()), Logger (*slog.Logger),
// OnFatal (called when Pebble hits a WAL write/sync error; default logs and exits the process: every group shares
// the WAL, so retrying an fsync that failed could falsely succeed), CacheBytes, MemTableBytes.
//
// # Contract (see DESIGN.md for why and the measurements)
//
//   - Keys: 'L' | group (u64 big-endian) | index (u64 big-endian). One group's operations never touch another's.
//   - StoreLogs/StoreLog return only after a synced Pebble commit: acknowledged appends survive power loss. One
//     call = one batch: a crash keeps all of it or none of it. Entries must be consecutive and continue the log
//     (first index == LastIndex()+1, or anything when the log is empty), or start past its end, which deletes
//     the older run in the same batch (raft does that only after installing a snapshot covering the gap). An
//     overwrite is an error. The store reports IsMonotonic() == false: with true, hashicorp/raft v1.8.0 wipes
//     the whole log after a snapshot install, entries past the snapshot included, and keeps claiming them
//     (DESIGN.md "Snapshot installs").
//   - DeleteRange is a range tombstone. A prefix delete (log compaction) is not synced (losing it only keeps
//     more log); any other delete (suffix truncation on a follower, full wipe) is synced. A delete that would
//     leave a hole in the middle of the log is refused.
//   - GetLog of a missing index returns exactly raft.ErrLogNotFound.
//   - FirstIndex/LastIndex come from a per-group cache, rebuilt at Open by two bounded seeks, and updated only
//     after the synced commit returned (Pebble makes a batch readable before its fsync finishes).
//   - Raft's StableStore is NOT here: it stays raft-boltdb/v2, one small bolt file per group, opened by node/.
//     Terms and votes change rarely, so their fsyncs are not on the write path.
//
// # raft.Config this store expects (set by node/)
//
//   - Wrapping in raft.NewLogCache is fine (it forwards IsMonotonic). Do not enable RestoreCommittedLogs: the
//     store does not implement CommitTrackingLogStore.
//   - MaxAppendEntries 256..1024: each StoreLogs is one fsync shared with other groups, bigger batches amortize.
//   - TrailingLogs and SnapshotThreshold bound the log size on disk (compaction is a range tombstone that Pebble
//     reclaims in the background): see fsm/doc.go for the values that go with the state machine.
//
// The package must never interpret log payloads, never call time.Now or randomness, and never start a goroutine
// of its own (Pebble runs its own background work while the DB is open).
package raftlog
