package box

import "encoding/binary"

// Key prefixes (DESIGN.md "Keys"). Every key starts with "mb" so the domain shares a shard's key space with
// other domains without collisions.
const (
	kMeta    = 'u'
	kMsg     = 'm'
	kHist    = 'h'
	kDialog  = 'd'
	kIndex   = 'i'
	kPinned  = 'P'
	kLog     = 'l'
	kReceipt = 'r'
	kXref    = 'x'
	kOutbox  = 'o'
	kOutSeq  = 's'
	kInbound = 'w'
)

func key(kind byte, parts ...uint64) []byte {
	b := make([]byte, 3, 3+8*len(parts)+12) // room for the key32 / indexKey tails: one allocation per key
	b[0], b[1], b[2] = 'm', 'b', kind
	for _, p := range parts {
		b = binary.BigEndian.AppendUint64(b, p)
	}
	return b
}

// key32 appends a 4-byte big-endian tail (ids, pts, shard numbers).
func key32(b []byte, v int32) []byte { return binary.BigEndian.AppendUint32(b, uint32(v)) }

func metaKey(u int64) []byte                 { return key(kMeta, uint64(u)) }
func msgKey(u int64, id int32) []byte        { return key32(key(kMsg, uint64(u)), id) }
func histPrefix(u, peer int64) []byte        { return key(kHist, uint64(u), uint64(peer)) }
func histKey(u, peer int64, id int32) []byte { return key32(histPrefix(u, peer), id) }
func dialogKey(u, peer int64) []byte         { return key(kDialog, uint64(u), uint64(peer)) }
func indexPrefix(u int64) []byte             { return key(kIndex, uint64(u)) }
func indexKey(u int64, top int32, peer int64) []byte {
	return binary.BigEndian.AppendUint64(key32(indexPrefix(u), top), uint64(peer))
}
func pinnedKey(u int64) []byte               { return key(kPinned, uint64(u)) }
func logPrefix(u int64) []byte               { return key(kLog, uint64(u)) }
func logKey(u int64, pts int32) []byte       { return key32(logPrefix(u), pts) }
func receiptKey(u, randomID int64) []byte    { return key(kReceipt, uint64(u), uint64(randomID)) }
func xrefKey(u, from int64, id int32) []byte { return key32(key(kXref, uint64(u), uint64(from)), id) }
func outboxPrefix(dst uint32) []byte {
	return binary.BigEndian.AppendUint32([]byte{'m', 'b', kOutbox}, dst)
}
func outboxKey(dst uint32, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(outboxPrefix(dst), seq)
}
func outSeqKey(dst uint32) []byte {
	return binary.BigEndian.AppendUint32([]byte{'m', 'b', kOutSeq}, dst)
}
func inboundKey(src uint32) []byte {
	return binary.BigEndian.AppendUint32([]byte{'m', 'b', kInbound}, src)
}

func tail32(k []byte) int32  { return int32(binary.BigEndian.Uint32(k[len(k)-4:])) }
func tail64(k []byte) uint64 { return binary.BigEndian.Uint64(k[len(k)-8:]) }
