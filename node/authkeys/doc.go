// Package authkeys keeps MTProto auth keys in the cluster's replicated state: a deterministic fsm.Applier for
// the auth-key commands, and Store, the gateway's handshake.AuthKeyStore backed by Raft through a node's
// Propose and Read.
//
// # Placement
//
// A key lives in shard shard.Of(authKeyID, shardCount), under the domain key "authkey/" + id (u64 big-endian).
// A temporary key and the permanent key it is bound to usually live in different shards; nothing in Apply
// reads across shards (Store.Bind checks the permanent key with a linearizable read first).
//
// # Commands (fsm command type 64; the encoding under a type is frozen)
//
// The version of the command encoding is the command type: TypeV1 = 64. A future encoding gets a new type
// (65..71 are reserved for this package) so that a replica whose binary does not know it fail-stops in fsm
// instead of answering with an error the newer replicas would not produce. For the same reason the set of ops
// of a type never grows. Integers are big-endian, times are unix milliseconds stamped by the proposer (0 =
// none):
//
//	payload := op u8 | body
//	op 1 put      id i64 | flags u8 (bit 0 temporary) | dc i32 | created i64 | expires i64 | key [256]byte
//	              result empty; KEY_EXISTS if the id holds a different key (the same key again is a no-op)
//	op 2 get      id i64                 result: nothing if absent, else the record (below)
//	op 3 bind     temp i64 | perm i64    result empty; KEY_NOT_FOUND, KEY_NOT_TEMPORARY,
//	                                      TEMP_AUTH_KEY_ALREADY_BOUND (bound to another permanent key)
//	op 4 delete   id i64                 result empty (deleting an absent key is not an error)
//	op 5 setuser  id i64 | user i64      result empty; KEY_NOT_FOUND, KEY_TEMPORARY (user 0 signs out)
//
// A malformed payload or an unknown op is PAYLOAD_INVALID (a proposer bug: the same result on every replica).
//
// Stored record (value of "authkey/" + id), 294 bytes:
//
//	version u8 (1) | flags u8 | dc i32 | created i64 | expires i64 | perm i64 | user i64 | key [256]byte
//
// # Store
//
// Put proposes op put in the key's shard (the proposer's shard manager stamps request id and time, so its
// internal retries are deduplicated); Get is a linearizable read of the record; Bind reads the permanent key
// (it must exist and be permanent) and proposes op bind in the temporary key's shard; Delete and SetUser
// propose their ops.
//
// Store keeps no cache of its own. The gateway caches every key that has live sessions and calls Get only on
// its cache miss path, which must see deletion, binding and sign-in as the cluster has them; a second cache
// here could only save decoding 294 bytes, at the risk of serving a deleted key.
//
// # Never
//
// Read a clock, use randomness or do I/O inside Apply (times come in the payload); panic on a payload's bytes;
// hold more than one record in memory per command; know about sessions, salts or the wire protocol.
package authkeys
