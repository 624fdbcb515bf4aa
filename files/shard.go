package files

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// MaxPart is the largest part a client may upload (Telegram's limit for upload.saveFilePart).
const MaxPart = 512 << 10

// MaxShards bounds k+m of a layout.
const MaxShards = 16

// Key names one uploaded part.
type Key struct {
	Owner int64 // the uploading user
	File  int64 // the client's file id
	Part  int32 // the part number
}

func (k Key) String() string { return fmt.Sprintf("%d/%d/%d", k.Owner, k.File, k.Part) }

// Shard is one of the k+m pieces of one write of a part.
type Shard struct {
	Key     Key
	Gen     uint64 // the write
	K, M    int    // layout of the write
	Index   int    // 0..k-1 data, k..k+m-1 parity
	Size    int    // bytes of the whole part
	PartCRC uint32 // CRC-32C of the whole part
	Data    []byte // ShardLen(Size, K) bytes
}

// sameWrite reports whether two shards belong to the same write (so they may be decoded together).
func (s *Shard) sameWrite(o *Shard) bool {
	return s.Key == o.Key && s.Gen == o.Gen && s.K == o.K && s.M == o.M && s.Size == o.Size && s.PartCRC == o.PartCRC
}

// ShardLen is the length of each shard of a part of size bytes cut into k data shards.
func ShardLen(size, k int) int { return (size + k - 1) / k }

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func checksum(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

const (
	shardVersion = 1
	// version(1) owner(8) file(8) part(4) gen(8) k(1) m(1) index(1) size(4) partCRC(4)
	shardHeaderLen = 1 + 8 + 8 + 4 + 8 + 1 + 1 + 1 + 4 + 4
	shardTrailer   = 4 // CRC-32C of header and data
)

// ErrCorrupt marks a shard whose encoding or checksum is wrong.
var ErrCorrupt = errors.New("files: corrupt shard")

// check validates the header fields (what DecodeShard checks before it trusts the body length).
func (s *Shard) check() error {
	switch {
	case s.K < 1 || s.M < 0 || s.K+s.M > MaxShards:
		return fmt.Errorf("%w: layout (%d, %d)", ErrCorrupt, s.K, s.M)
	case s.Index < 0 || s.Index >= s.K+s.M:
		return fmt.Errorf("%w: index %d of %d", ErrCorrupt, s.Index, s.K+s.M)
	case s.Size < 1 || s.Size > MaxPart:
		return fmt.Errorf("%w: part size %d", ErrCorrupt, s.Size)
	case s.Key.Part < 0:
		return fmt.Errorf("%w: part %d", ErrCorrupt, s.Key.Part)
	}
	return nil
}

// Encode appends the shard's wire and disk form to b.
func (s *Shard) Encode(b []byte) []byte {
	start := len(b)
	b = append(b, shardVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(s.Key.Owner))
	b = binary.BigEndian.AppendUint64(b, uint64(s.Key.File))
	b = binary.BigEndian.AppendUint32(b, uint32(s.Key.Part))
	b = binary.BigEndian.AppendUint64(b, s.Gen)
	b = append(b, byte(s.K), byte(s.M), byte(s.Index))
	b = binary.BigEndian.AppendUint32(b, uint32(s.Size))
	b = binary.BigEndian.AppendUint32(b, s.PartCRC)
	b = append(b, s.Data...)
	return binary.BigEndian.AppendUint32(b, checksum(b[start:]))
}

// DecodeShard parses one encoded shard. Data aliases b.
func DecodeShard(b []byte) (*Shard, error) {
	if len(b) < shardHeaderLen+shardTrailer {
		return nil, fmt.Errorf("%w: %d bytes", ErrCorrupt, len(b))
	}
	if b[0] != shardVersion {
		return nil, fmt.Errorf("%w: version %d", ErrCorrupt, b[0])
	}
	s := &Shard{
		Key: Key{
			Owner: int64(binary.BigEndian.Uint64(b[1:])),
			File:  int64(binary.BigEndian.Uint64(b[9:])),
			Part:  int32(binary.BigEndian.Uint32(b[17:])),
		},
		Gen:     binary.BigEndian.Uint64(b[21:]),
		K:       int(b[29]),
		M:       int(b[30]),
		Index:   int(b[31]),
		Size:    int(binary.BigEndian.Uint32(b[32:])),
		PartCRC: binary.BigEndian.Uint32(b[36:]),
	}
	if err := s.check(); err != nil {
		return nil, err
	}
	if want := shardHeaderLen + ShardLen(s.Size, s.K) + shardTrailer; len(b) != want {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrCorrupt, len(b), want)
	}
	body := len(b) - shardTrailer
	if checksum(b[:body]) != binary.BigEndian.Uint32(b[body:]) {
		return nil, fmt.Errorf("%w: checksum of %v gen %d index %d", ErrCorrupt, s.Key, s.Gen, s.Index)
	}
	s.Data = b[shardHeaderLen:body]
	return s, nil
}
