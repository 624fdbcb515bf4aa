package raftlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
)

// Key layout: 'L' | group u64 BE | index u64 BE. Fixed width keeps each group's entries contiguous and ordered
// by index, and makes a group's whole range [L|g, L|g+1) expressible as one range tombstone.
const (
	prefixLog = 'L'
	keyLen    = 1 + 8 + 8
)

func logKey(dst []byte, group, index uint64) []byte {
	dst = append(dst[:0], prefixLog)
	dst = binary.BigEndian.AppendUint64(dst, group)
	return binary.BigEndian.AppendUint64(dst, index)
}

// groupBounds returns [lower, upper) covering every entry of group.
func groupBounds(group uint64) (lower, upper []byte) {
	lower = logKey(nil, group, 0)
	if group == ^uint64(0) {
		return lower, []byte{prefixLog + 1}
	}
	return lower, logKey(nil, group+1, 0)
}

func keyIndex(key []byte) (uint64, error) {
	if len(key) != keyLen || key[0] != prefixLog {
		return 0, fmt.Errorf("raftlog: malformed key %x", key)
	}
	return binary.BigEndian.Uint64(key[9:]), nil
}

// Entry value format, version 1:
//
//	version u8 (=1) | type u8 | term uvarint | appendedAt unix nanos varint (0 = zero time) |
//	len(data) uvarint | data | len(extensions) uvarint | extensions
//
// The index is not repeated: it is the key.
const entryVersion = 1

var errCorrupt = errors.New("raftlog: corrupt entry")

func encodeEntry(dst []byte, l *raft.Log) []byte {
	dst = append(dst, entryVersion, byte(l.Type))
	dst = binary.AppendUvarint(dst, l.Term)
	var at int64
	if !l.AppendedAt.IsZero() {
		at = l.AppendedAt.UnixNano()
	}
	dst = binary.AppendVarint(dst, at)
	dst = binary.AppendUvarint(dst, uint64(len(l.Data)))
	dst = append(dst, l.Data...)
	dst = binary.AppendUvarint(dst, uint64(len(l.Extensions)))
	return append(dst, l.Extensions...)
}

// decodeEntry fills l from b. Data and Extensions are copied: b belongs to Pebble and is only valid until the
// iterator or Get closer is released.
func decodeEntry(b []byte, index uint64, l *raft.Log) error {
	if len(b) < 2 || b[0] != entryVersion {
		return errCorrupt
	}
	typ := raft.LogType(b[1])
	b = b[2:]
	term, n := binary.Uvarint(b)
	if n <= 0 {
		return errCorrupt
	}
	b = b[n:]
	at, n := binary.Varint(b)
	if n <= 0 {
		return errCorrupt
	}
	b = b[n:]
	data, b, ok := cutBytes(b)
	if !ok {
		return errCorrupt
	}
	ext, b, ok := cutBytes(b)
	if !ok || len(b) != 0 {
		return errCorrupt
	}
	*l = raft.Log{Index: index, Term: term, Type: typ}
	if len(data) > 0 {
		l.Data = append([]byte(nil), data...)
	}
	if len(ext) > 0 {
		l.Extensions = append([]byte(nil), ext...)
	}
	if at != 0 {
		l.AppendedAt = time.Unix(0, at)
	}
	return nil
}

func cutBytes(b []byte) (field, rest []byte, ok bool) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return nil, nil, false
	}
	b = b[k:]
	return b[:n], b[n:], true
}
