package transport

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// Full is the full transport (no tag): a 4-byte little-endian total length (length, seqno, payload and
// CRC), a 4-byte seqno counting packets from 0 in each direction, the payload, and the CRC32 (IEEE) of all
// that precedes it.
type Full struct {
	max     int
	recvSeq uint32 // reader side only
	sendSeq uint32 // writer side only
	asm     assembler
}

// NewFull returns a full-transport codec accepting payloads up to maxFrame bytes (0: DefaultMaxFrame).
func NewFull(maxFrame int) *Full { return &Full{max: maxFrame} }

func (*Full) Name() string { return NameFull }

func (c *Full) Decode(p []byte, emit EmitFunc) error {
	if err := c.asm.decode(p, c, emit); err != nil {
		return fmt.Errorf("full: %w", err)
	}
	return nil
}

func (*Full) headerLen([]byte) int { return 8 }

func (c *Full) parse(h []byte) (int, bool, error) {
	total := binary.LittleEndian.Uint32(h)
	if total < 12+4 || total%4 != 0 {
		return 0, false, fmt.Errorf("%w: %d", ErrBadLength, total)
	}
	limit := maxFrame(c.max)
	if int64(total)-12 > int64(limit) {
		return 0, false, limitErr(int(min(int64(total), 1<<31))-12, limit)
	}
	if seq := binary.LittleEndian.Uint32(h[4:]); seq != c.recvSeq {
		return 0, false, fmt.Errorf("%w: got %d, want %d", ErrBadSeqNo, seq, c.recvSeq)
	}
	return int(total) - 8, false, nil
}

func (c *Full) frame(h, body []byte, _ bool, emit EmitFunc) error {
	payload := body[:len(body)-4]
	sum := crc32.Update(crc32.ChecksumIEEE(h), crc32.IEEETable, payload)
	if got := binary.LittleEndian.Uint32(body[len(body)-4:]); got != sum {
		return fmt.Errorf("%w: got %08x, want %08x", ErrBadCRC, got, sum)
	}
	c.recvSeq++
	return emit(payload, false)
}

func (c *Full) AppendFrame(dst, payload []byte) []byte {
	start := len(dst)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(payload)+12))
	dst = binary.LittleEndian.AppendUint32(dst, c.sendSeq)
	dst = append(dst, payload...)
	c.sendSeq++
	return binary.LittleEndian.AppendUint32(dst, crc32.ChecksumIEEE(dst[start:]))
}

// AppendQuickAck fails: the full transport has no quick ack.
func (*Full) AppendQuickAck(dst []byte, _ uint32) ([]byte, error) {
	return dst, ErrNoQuickAck
}
