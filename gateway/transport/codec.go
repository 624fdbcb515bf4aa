package transport

import (
	"errors"
	"fmt"
)

// DefaultMaxFrame is the default limit on a frame's payload: the 1 MiB MTProto message limit plus room for
// the encryption envelope and padding.
const DefaultMaxFrame = 1<<20 + 16<<10

// Transport names, as reported by Codec.Name; obfuscated2 and WebSocket append "+obfuscated" and "+ws".
const (
	NameAbridged     = "abridged"
	NameIntermediate = "intermediate"
	NamePadded       = "padded"
	NameFull         = "full"
)

// Errors a decoder returns; callers branch on them with errors.Is (for metrics) and close the connection.
var (
	ErrFrameTooLarge = errors.New("frame length over limit")
	ErrBadLength     = errors.New("bad frame length")
	ErrBadCRC        = errors.New("bad crc32")
	ErrBadSeqNo      = errors.New("bad seqno")
	ErrUnknown       = errors.New("unknown transport")
	ErrNoQuickAck    = errors.New("transport has no quick ack")
)

// EmitFunc receives one decoded frame. frame is valid only during the call. quickAck reports that the client
// asked for a quick acknowledgement of this frame. A non-nil error stops decoding and is returned by Decode.
type EmitFunc func(frame []byte, quickAck bool) error

// Codec is one connection's framing, both directions.
//
// Decode runs on the connection's reader (the event loop); AppendFrame and AppendQuickAck run on the writer.
// The two sides share no state, so they may run concurrently, but each side must be serialised by the
// caller: the full transport's seqnos and obfuscated2's CTR streams make call order wire order.
type Codec interface {
	// Name is the transport name, e.g. "padded" or "intermediate+obfuscated".
	Name() string
	// Decode consumes all of p, which it may modify in place (obfuscated2 decrypts it), and calls emit for
	// every frame completed. After an error the codec is unusable.
	Decode(p []byte, emit EmitFunc) error
	// AppendFrame appends payload framed for the wire to dst.
	AppendFrame(dst, payload []byte) []byte
	// AppendQuickAck appends the raw quick-ack token (high bit set by this method) to dst.
	AppendQuickAck(dst []byte, token uint32) ([]byte, error)
}

// limitErr wraps ErrFrameTooLarge with the numbers.
func limitErr(n, limit int) error {
	return fmt.Errorf("%w: %d > %d", ErrFrameTooLarge, n, limit)
}

// assembler turns a byte stream into frames for the length-prefixed codecs. A codec supplies how long its
// header is and how to parse it; the assembler does the buffering. It keeps at most an 8-byte header and one
// body buffer, allocated only when a frame is split across Decode calls, growing with the bytes received and
// never beyond the frame's (already validated) length.
type assembler struct {
	hdr   [8]byte
	hn    uint8  // header bytes collected
	in    bool   // header parsed, collecting the body
	quick bool   // quick ack requested for the current frame
	need  int    // body length of the current frame
	body  []byte // body bytes collected so far, when a frame is split across inputs
}

// header describes a codec's frame header.
type header interface {
	// headerLen is the full header length given its first bytes (at least one).
	headerLen(h []byte) int
	// parse validates a complete header and returns the body length (what follows the header).
	parse(h []byte) (bodyLen int, quick bool, err error)
	// frame is called with a complete header and body and emits the payload.
	frame(h, body []byte, quick bool, emit EmitFunc) error
}

func (a *assembler) decode(p []byte, c header, emit EmitFunc) error {
	for len(p) > 0 {
		if !a.in {
			if a.hn == 0 {
				a.hdr[0] = p[0]
				a.hn = 1
				p = p[1:]
			}
			hl := c.headerLen(a.hdr[:a.hn])
			n := copy(a.hdr[a.hn:hl], p)
			a.hn += uint8(n)
			p = p[n:]
			if int(a.hn) < hl {
				return nil
			}
			need, quick, err := c.parse(a.hdr[:hl])
			if err != nil {
				return err
			}
			a.in, a.need, a.quick = true, need, quick
			if need == 0 {
				if err := a.finish(c, nil, emit); err != nil {
					return err
				}
				continue
			}
		}
		if a.body == nil && len(p) >= a.need {
			// Zero-copy: the whole body is in this input.
			body := p[:a.need]
			p = p[a.need:]
			if err := a.finish(c, body, emit); err != nil {
				return err
			}
			continue
		}
		if len(p) == 0 {
			return nil // header complete, body not started: allocate only when body bytes arrive
		}
		n := min(len(p), a.need-len(a.body))
		a.body = a.grow(n)
		a.body = append(a.body, p[:n]...)
		p = p[n:]
		if len(a.body) == a.need {
			if err := a.finish(c, a.body, emit); err != nil {
				return err
			}
		}
	}
	return nil
}

// minBody is the smallest body buffer allocated for a split frame.
const minBody = 4 << 10

// grow makes room for n more body bytes. The buffer grows with what actually arrives (doubling, never past
// the announced length), so a header announcing a 1 MiB frame followed by one byte costs 4 KiB, not 1 MiB:
// memory held is proportional to bytes received, within a factor of two.
func (a *assembler) grow(n int) []byte {
	if cap(a.body)-len(a.body) >= n {
		return a.body
	}
	size := min(a.need, max(2*cap(a.body), len(a.body)+n, minBody))
	b := make([]byte, len(a.body), size)
	copy(b, a.body)
	return b
}

func (a *assembler) finish(c header, body []byte, emit EmitFunc) error {
	h := a.hdr[:a.hn]
	quick := a.quick
	a.in, a.hn, a.need, a.quick, a.body = false, 0, 0, false, nil // an idle connection keeps no buffer
	return c.frame(h, body, quick, emit)
}

func maxFrame(limit int) int {
	if limit <= 0 {
		return DefaultMaxFrame
	}
	return limit
}
