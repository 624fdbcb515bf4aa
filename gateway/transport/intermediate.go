package transport

import (
	"encoding/binary"
	"fmt"
)

// Intermediate is the intermediate transport (client tag 0xeeeeeeee): a 4-byte little-endian length in
// bytes, whose high bit requests a quick ack, then the payload.
type Intermediate struct {
	max int
	asm assembler
}

// NewIntermediate returns an intermediate codec accepting payloads up to maxFrame bytes (0: DefaultMaxFrame).
func NewIntermediate(maxFrame int) *Intermediate { return &Intermediate{max: maxFrame} }

func (*Intermediate) Name() string { return NameIntermediate }

func (c *Intermediate) Decode(p []byte, emit EmitFunc) error {
	if err := c.asm.decode(p, c, emit); err != nil {
		return fmt.Errorf("intermediate: %w", err)
	}
	return nil
}

func (*Intermediate) headerLen([]byte) int { return 4 }

func (c *Intermediate) parse(h []byte) (int, bool, error) {
	return parseLen32(h, c.max)
}

func (*Intermediate) frame(_, body []byte, quick bool, emit EmitFunc) error {
	return emit(body, quick)
}

func (*Intermediate) AppendFrame(dst, payload []byte) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(payload)))
	return append(dst, payload...)
}

// AppendQuickAck appends the token little-endian with its high bit set: a length the client cannot confuse
// with a real one.
func (*Intermediate) AppendQuickAck(dst []byte, token uint32) ([]byte, error) {
	return binary.LittleEndian.AppendUint32(dst, token|1<<31), nil
}

// parseLen32 reads the intermediate-style length: little-endian, high bit = quick ack.
func parseLen32(h []byte, limit int) (int, bool, error) {
	v := binary.LittleEndian.Uint32(h)
	quick := v&(1<<31) != 0
	n := int(v &^ (1 << 31))
	if n == 0 {
		return 0, false, ErrBadLength
	}
	if n > maxFrame(limit) {
		return 0, false, limitErr(n, maxFrame(limit))
	}
	return n, quick, nil
}
