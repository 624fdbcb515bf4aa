package fsm

import (
	"encoding/binary"

	"github.com/raftgram/raftgram/internal/pebbledb"
)

// Every key is shard u32 BE | space u8 | rest (DESIGN.md, "Key layout").
const (
	spaceMeta = 0x00
	spaceData = 0x01

	metaApplied = 'a'
	metaDedup   = 'd'
	metaExpiry  = 'e'
	// 'p' is reserved: older binaries recorded a skipped "poison pill" entry there (never read now).
)

// MaxKeyLen bounds a domain key; longer keys are an Applier bug and fail the command.
const MaxKeyLen = 4096

func shardPrefix(shard uint32) []byte {
	return binary.BigEndian.AppendUint32(make([]byte, 0, 5), shard)
}

// shardBounds returns [lo, hi) covering every key of shard.
func shardBounds(shard uint32) (lo, hi []byte) {
	lo = shardPrefix(shard)
	if shard == ^uint32(0) {
		return lo, []byte{0xff, 0xff, 0xff, 0xff, 0xff}
	}
	return lo, shardPrefix(shard + 1)
}

func spaceKey(dst []byte, shard uint32, space byte, rest ...[]byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst[:0], shard)
	dst = append(dst, space)
	for _, r := range rest {
		dst = append(dst, r...)
	}
	return dst
}

func appliedKey(shard uint32) []byte { return spaceKey(nil, shard, spaceMeta, []byte{metaApplied}) }

// appendDedupKey appends the dedup record key of id to dst (without allocating when dst has room).
func appendDedupKey(dst []byte, shard uint32, id RequestID) []byte {
	dst = binary.BigEndian.AppendUint32(dst, shard)
	dst = append(dst, spaceMeta, metaDedup)
	return append(dst, id[:]...)
}

// expiryTimeOff is where the time starts in an expiry key.
const expiryTimeOff = 6

// appendExpiryKey appends the expiry index key of (t, id) to dst.
func appendExpiryKey(dst []byte, shard uint32, t int64, id RequestID) []byte {
	dst = binary.BigEndian.AppendUint32(dst, shard)
	dst = append(dst, spaceMeta, metaExpiry)
	dst = binary.BigEndian.AppendUint64(dst, uint64(t))
	return append(dst, id[:]...)
}

// PrefixEnd returns the smallest key greater than every key starting with p: the exclusive upper bound of a
// prefix scan. It is nil when p is empty or all 0xff (no such key: scan to the end).
func PrefixEnd(p []byte) []byte { return pebbledb.PrefixEnd(p) }
