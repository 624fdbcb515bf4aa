package transport

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Padded is the padded intermediate transport (client tag 0xdddddddd): like intermediate, but the length
// covers the payload plus 0-15 random padding bytes.
//
// Received frames are cut to a multiple of 4 bytes (the MTProto message is always 4-aligned), so up to 12
// padding bytes may remain at the end of a frame; MTProto messages carry their own length, and the session
// layer must ignore such a tail. Sent frames carry 0-3 padding bytes, because gotd strips only len%4.
type Padded struct {
	max  int
	rand io.Reader
	asm  assembler
}

// NewPadded returns a padded intermediate codec accepting payloads up to maxFrame bytes (0:
// DefaultMaxFrame). rand supplies the padding; it is read only by AppendFrame.
func NewPadded(maxFrame int, rand io.Reader) *Padded { return &Padded{max: maxFrame, rand: rand} }

func (*Padded) Name() string { return NamePadded }

func (c *Padded) Decode(p []byte, emit EmitFunc) error {
	if err := c.asm.decode(p, c, emit); err != nil {
		return fmt.Errorf("padded: %w", err)
	}
	return nil
}

func (*Padded) headerLen([]byte) int { return 4 }

func (c *Padded) parse(h []byte) (int, bool, error) {
	return parseLen32(h, c.max)
}

func (*Padded) frame(_, body []byte, quick bool, emit EmitFunc) error {
	body = body[:len(body)-len(body)%4]
	if len(body) == 0 {
		return ErrBadLength
	}
	return emit(body, quick)
}

// AppendFrame frames payload with 0-3 random padding bytes.
func (c *Padded) AppendFrame(dst, payload []byte) []byte {
	var pad [4]byte
	if c.rand != nil {
		_, _ = io.ReadFull(c.rand, pad[:])
	}
	// Keep the padded length's remainder mod 4 equal to the pad count, so a client stripping len%4 gets the
	// payload back exactly (payloads are 4-aligned).
	n := int(pad[0] & 3)
	if (len(payload)+n)%4 != n {
		n = 0
	}
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(payload)+n))
	dst = append(dst, payload...)
	return append(dst, pad[1:1+n]...)
}

func (*Padded) AppendQuickAck(dst []byte, token uint32) ([]byte, error) {
	return binary.LittleEndian.AppendUint32(dst, token|1<<31), nil
}
