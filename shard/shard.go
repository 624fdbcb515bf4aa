package shard

import (
	"encoding/binary"
	"hash/fnv"
)

// MaxShards is the largest shard count a cluster may be created with.
const MaxShards = 1024

// MetaGroup is the Raft group id of the cluster-meta group (membership, placement, consumed join tokens).
// Shard groups use ids 0..n-1, so this id can never collide with a shard.
const MetaGroup uint32 = 1<<32 - 1

// Of returns the shard that owns id in a cluster of n shards. The mapping is persistent data: never change it.
// n must be in 1..MaxShards; any other n maps everything to shard 0 rather than panicking.
func Of(id int64, n int) uint32 {
	if n <= 1 || n > MaxShards {
		return 0
	}
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(id))
	h := fnv.New64a()
	_, _ = h.Write(b[:])
	return uint32(h.Sum64() % uint64(n))
}

// OfBytes is Of for keys that are not integers (phones, usernames).
func OfBytes(key []byte, n int) uint32 {
	if n <= 1 || n > MaxShards {
		return 0
	}
	h := fnv.New64a()
	_, _ = h.Write(key)
	return uint32(h.Sum64() % uint64(n))
}
