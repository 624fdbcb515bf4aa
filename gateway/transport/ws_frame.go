package transport

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// WebSocket opcodes (RFC 6455 section 5.2).
const (
	WSContinuation = 0x0
	WSText         = 0x1
	WSBinary       = 0x2
	WSClose        = 0x8
	WSPing         = 0x9
	WSPong         = 0xa
)

// ErrWebSocket reports a WebSocket framing violation.
var ErrWebSocket = errors.New("websocket protocol error")

// WSReader decodes client-to-server WebSocket frames. Data frames are not buffered: their payload is
// unmasked in place and handed on as a slice of the stream, whatever the frame and fragment boundaries, since
// MTProto treats the WebSocket as a byte stream. Control frames (at most 125 bytes) are collected whole.
type WSReader struct {
	hdr       [14]byte
	hn        uint8
	inPayload bool
	op        uint8
	fragment  bool // a fragmented data message is in progress
	mask      [4]byte
	maskPos   uint8
	remaining uint64
	ctl       []byte // control frame payload being collected
}

// Decode consumes all of p (unmasking it in place). data receives payload bytes of binary messages in order;
// control receives each complete control frame (ping, pong, close). Errors from either stop decoding.
func (r *WSReader) Decode(p []byte, data func([]byte) error, control func(op uint8, payload []byte) error) error {
	for {
		if !r.inPayload {
			if len(p) == 0 {
				return nil
			}
			var err error
			if p, err = r.readHeader(p); err != nil {
				return err
			}
			if !r.inPayload {
				return nil // header incomplete; all of p consumed
			}
		}
		n := min(uint64(len(p)), r.remaining)
		chunk := p[:n]
		p = p[n:]
		for i := range chunk {
			chunk[i] ^= r.mask[r.maskPos&3]
			r.maskPos++
		}
		r.remaining -= n
		if r.op >= WSClose {
			r.ctl = append(r.ctl, chunk...)
		} else if len(chunk) > 0 {
			if err := data(chunk); err != nil {
				return err
			}
		}
		if r.remaining > 0 {
			return nil // all of p consumed
		}
		r.inPayload = false
		if r.op >= WSClose {
			ctl := r.ctl
			r.ctl = nil
			if err := control(r.op, ctl); err != nil {
				return err
			}
		}
	}
}

// readHeader collects header bytes; once complete it validates them and enters the payload.
func (r *WSReader) readHeader(p []byte) ([]byte, error) {
	need := 2
	for {
		if int(r.hn) < need {
			c := copy(r.hdr[r.hn:need], p)
			r.hn += uint8(c)
			p = p[c:]
			if int(r.hn) < need {
				return p, nil
			}
		}
		if need == 2 && r.hdr[1]&0x80 == 0 {
			r.hn = 0
			return p, fmt.Errorf("%w: unmasked client frame", ErrWebSocket)
		}
		full := 2 + 4
		switch r.hdr[1] & 0x7f {
		case 126:
			full += 2
		case 127:
			full += 8
		}
		if need == full {
			break
		}
		need = full
	}
	h := r.hdr[:r.hn]
	r.hn = 0
	if h[0]&0x70 != 0 {
		return p, fmt.Errorf("%w: reserved bits set", ErrWebSocket)
	}
	fin, op := h[0]&0x80 != 0, h[0]&0x0f
	length := uint64(h[1] & 0x7f)
	switch length {
	case 126:
		length = uint64(binary.BigEndian.Uint16(h[2:]))
	case 127:
		length = binary.BigEndian.Uint64(h[2:])
		if length>>63 != 0 {
			return p, fmt.Errorf("%w: length has the high bit set", ErrWebSocket)
		}
	}
	switch op {
	case WSClose, WSPing, WSPong:
		if !fin || length > 125 {
			return p, fmt.Errorf("%w: bad control frame", ErrWebSocket)
		}
	case WSBinary:
		if r.fragment {
			return p, fmt.Errorf("%w: new message inside a fragmented one", ErrWebSocket)
		}
		r.fragment = !fin
	case WSContinuation:
		if !r.fragment {
			return p, fmt.Errorf("%w: continuation without a message", ErrWebSocket)
		}
		r.fragment = !fin
	default:
		return p, fmt.Errorf("%w: opcode %#x", ErrWebSocket, op)
	}
	copy(r.mask[:], h[len(h)-4:])
	r.op, r.maskPos, r.remaining, r.inPayload = op, 0, length, true
	return p, nil
}

// AppendWSFrame appends one unmasked, final server-to-client frame.
func AppendWSFrame(dst []byte, op uint8, payload []byte) []byte {
	dst = AppendWSHeader(dst, op, len(payload))
	return append(dst, payload...)
}

// AppendWSHeader appends the header of an unmasked, final server-to-client frame of n payload bytes.
func AppendWSHeader(dst []byte, op uint8, n int) []byte {
	dst = append(dst, 0x80|op)
	switch {
	case n < 126:
		return append(dst, byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(dst, 126), uint16(n))
	default:
		return binary.BigEndian.AppendUint64(append(dst, 127), uint64(n))
	}
}

// WSHeaderLen is the length of AppendWSHeader's output for n payload bytes.
func WSHeaderLen(n int) int {
	switch {
	case n < 126:
		return 2
	case n <= 0xffff:
		return 4
	default:
		return 10
	}
}
