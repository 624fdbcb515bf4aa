// Package fsm is the deterministic state machine framework of raftgram: ONE Pebble DB per node holds the
// applied state of every shard (every key prefixed by the shard id, u32 big-endian), each shard's Raft group
// applies versioned commands into it, and the applied Raft index is written in the same batch as the state.
//
// # API (stable; node/ and shard/ build on it)
//
// Proposer side (leader, before raft.Apply):
//
//	data, err := fsm.EncodeBatch([]fsm.Command{{Type: fsm.TypeKVPut, RequestID: id, Time: nowMillis,
//	        Payload: fsm.EncodeKVPut(key, value)}, ...})  // one raft.Log may carry many client commands
//	f := r.Apply(data, timeout)                            // hashicorp/raft
//	res := f.Response().(*fsm.EntryResult)                 // res.Err: not applied, this node halted (fail-stop);
//	                                                       // else res.Results[i] is the outcome of command i
//	                                                       // (Value, Err, Duplicate)
//
// Replica side:
//
//	st, err := fsm.Open(dir, fsm.Options{Logger: log})    // owns the Pebble DB; KV applier built in
//	st.Register(t, applier)                                // domain commands (types >= 64), before Shard()
//	st.Applies(t)                                          // proposers: reject unknown types before raft.Apply
//	sm := st.Shard(shardID)                                // *ShardFSM: raft.FSM + raft.BatchingFSM
//	r, err := raft.NewRaft(conf, sm, logs, stable, snaps, trans)
//	sm.AppliedIndex()                                      // last raft index whose effect is in the state
//	                                                       // (commands and configuration entries only: raft's
//	                                                       // LogNoop/LogBarrier never reach an FSM)
//	st.DropShard(id)                                       // the node stops holding the shard (raft shut down)
//
// Reads (leader, after its read barrier / VerifyLeader + applied >= read index):
//
//	v, ok, err := st.Read(shardID, key)                    // one key of the shard's domain key space
//	err := st.View(shardID, func(r fsm.Reader) error {...}) // consistent multi-key reads (Get/Scan)
//
// Domain seam: an Applier gets a *Tx scoped to one shard's domain key space; reads see the writes of earlier
// commands of the same apply batch; an Applier that returns an error has none of its writes kept.
//
//	type Applier interface { Apply(tx *fsm.Tx, cmd fsm.Command) (result []byte, err error) }
//
// Deterministic rejections are returned as *ApplyError{Code, Msg}: they are stored for idempotence and returned
// identically on every replica. Command.Time (unix ms, stamped by the proposer) is the only clock an Applier may
// use.
//
// Fail-stop: a committed entry this binary cannot apply (unknown envelope version, malformed envelope, command
// type with no Applier) is never skipped nor turned into an error result, since a newer replica may apply it.
// The batch is not committed, the applied index stays, one ERROR line says "upgrade this node's binary",
// Metrics().CannotApply counts it, OnFatal stops the node, and the State refuses everything after (Snapshot
// included, so raft cannot compact past the entry). Restarted with a newer binary, raft's replay applies the
// entry once. Proposers must never propose a version or type some replica of the group does not know
// (DESIGN.md invariant 6).
//
// # raft.Config this FSM expects (set by node/)
//
//   - NoSnapshotRestoreOnStart = true: the state survives restarts in Pebble; raft replays the log after its last
//     snapshot and the FSM skips every entry <= AppliedIndex().
//   - BatchApplyCh = true and MaxAppendEntries 256..1024: ApplyBatch then gets many entries and commits them in
//     one Pebble batch.
//   - SnapshotThreshold 8192, TrailingLogs 10240 (defaults): a snapshot is a cheap Pebble snapshot; Persist syncs
//     the state DB first, because applies are committed without fsync (the raft log is the durable copy).
//   - Start-up check (shard/ does it): if the newest snapshot holds a later state than AppliedIndex() (read with
//     SnapshotApplied; the snapshot's raft index itself may legitimately exceed AppliedIndex() by trailing
//     LogNoop/LogBarrier entries), the state was lost or an install was cut before its restore committed: the
//     group starts with NoSnapshotRestoreOnStart = false, or raft would skip the entries the snapshot covers.
//   - Close order: shut down every raft, then State.Close (it also releases snapshots raft still holds).
//
// In memory, per shard (FSM goroutine only): the dedup index (live request ids and their expiry order), a read
// cache of small values Tx.Get found, and a Bloom filter of the keys under the prefixes Appliers name through
// AbsentKeys (a key it rules out does not exist). They only decide where a read goes, never what it returns or
// what is written; a batch that does not commit, Restore and DropShard reset them (DESIGN.md invariants 10-12).
//
// Never inside Apply: clocks, randomness, network, or any I/O beyond the shard's Pebble batch; never a panic on
// a command's bytes (hostile or unknown input gets an error, never a panic), never a skipped entry. The package
// knows nothing of MTProto.
package fsm
