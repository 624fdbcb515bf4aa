package transport

import (
	"encoding/binary"
	"fmt"
)

// Abridged is the abridged transport (client tag 0xef): a one-byte length in words, or 0x7f followed by a
// 3-byte little-endian length in words. The high bit of the first byte requests a quick ack.
type Abridged struct {
	max int
	asm assembler
}

// NewAbridged returns an abridged codec accepting payloads up to maxFrame bytes (0: DefaultMaxFrame).
func NewAbridged(maxFrame int) *Abridged { return &Abridged{max: maxFrame} }

func (*Abridged) Name() string { return NameAbridged }

func (a *Abridged) Decode(p []byte, emit EmitFunc) error {
	if err := a.asm.decode(p, a, emit); err != nil {
		return fmt.Errorf("abridged: %w", err)
	}
	return nil
}

func (*Abridged) headerLen(h []byte) int {
	if h[0]&0x7f == 0x7f {
		return 4
	}
	return 1
}

func (a *Abridged) parse(h []byte) (int, bool, error) {
	quick := h[0]&0x80 != 0
	words := int(h[0] & 0x7f)
	if len(h) == 4 {
		words = int(h[1]) | int(h[2])<<8 | int(h[3])<<16
	}
	n := words * 4
	if n == 0 {
		return 0, false, ErrBadLength
	}
	if n > maxFrame(a.max) {
		return 0, false, limitErr(n, maxFrame(a.max))
	}
	return n, quick, nil
}

func (*Abridged) frame(_, body []byte, quick bool, emit EmitFunc) error {
	return emit(body, quick)
}

// AppendFrame frames payload, whose length must be a multiple of 4 (every MTProto message is); a tail that
// is not is padded with zero bytes, since abridged cannot express it.
func (*Abridged) AppendFrame(dst, payload []byte) []byte {
	words := (len(payload) + 3) / 4
	if words < 0x7f {
		dst = append(dst, byte(words))
	} else {
		dst = append(dst, 0x7f, byte(words), byte(words>>8), byte(words>>16))
	}
	dst = append(dst, payload...)
	for i := len(payload); i < words*4; i++ {
		dst = append(dst, 0)
	}
	return dst
}

// AppendQuickAck appends the token big-endian ("bswapped") with its high bit set, so that its first byte
// cannot be mistaken for a length byte.
func (*Abridged) AppendQuickAck(dst []byte, token uint32) ([]byte, error) {
	return binary.BigEndian.AppendUint32(dst, token|1<<31), nil
}
