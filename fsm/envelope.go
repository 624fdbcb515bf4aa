package fsm

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// EnvelopeVersion is the command envelope version this binary writes and the only one it applies.
const EnvelopeVersion = 1

// MaxBatch is the largest number of commands one raft entry may carry.
const MaxBatch = 1 << 16

// minCommandSize is the smallest encoded command: type, flags, time, payload length, one byte each.
const minCommandSize = 4

const flagRequestID = 1

var (
	// ErrUnknownVersion: the entry's envelope version is not one this binary applies.
	ErrUnknownVersion = errors.New("fsm: unknown command envelope version")
	// ErrMalformed: the entry's bytes do not decode as an envelope.
	ErrMalformed = errors.New("fsm: malformed command envelope")
	// ErrUnknownType: no Applier of this binary is registered for a command's type.
	ErrUnknownType = errors.New("fsm: unknown command type")
)

// CommandType selects the Applier of a command. 1..63 are the framework's, 64 and up are domain commands.
type CommandType uint32

// RequestID identifies a client request for idempotence; the zero value means "not deduplicated".
type RequestID [16]byte

// IsZero reports whether id is the zero RequestID.
func (id RequestID) IsZero() bool { return id == RequestID{} }

// Command is one client command inside a raft entry.
type Command struct {
	Type      CommandType
	RequestID RequestID
	Time      int64 // unix milliseconds, stamped by the proposer; the only clock an Applier may use
	Payload   []byte
}

// EncodeCommand encodes a single command as one raft entry.
func EncodeCommand(c Command) []byte {
	b, _ := AppendBatch(nil, []Command{c}) // one command is always within limits
	return b
}

// EncodeBatch encodes many commands as one raft entry.
func EncodeBatch(cmds []Command) ([]byte, error) {
	return AppendBatch(nil, cmds)
}

// AppendBatch appends the envelope of cmds to dst.
func AppendBatch(dst []byte, cmds []Command) ([]byte, error) {
	if len(cmds) == 0 || len(cmds) > MaxBatch {
		return dst, fmt.Errorf("fsm: batch of %d commands (want 1..%d)", len(cmds), MaxBatch)
	}
	dst = append(dst, EnvelopeVersion)
	dst = binary.AppendUvarint(dst, uint64(len(cmds)))
	for i := range cmds {
		c := &cmds[i]
		dst = binary.AppendUvarint(dst, uint64(c.Type))
		if c.RequestID.IsZero() {
			dst = append(dst, 0)
		} else {
			dst = append(dst, flagRequestID)
			dst = append(dst, c.RequestID[:]...)
		}
		dst = binary.AppendVarint(dst, c.Time)
		dst = binary.AppendUvarint(dst, uint64(len(c.Payload)))
		dst = append(dst, c.Payload...)
	}
	return dst, nil
}

// DecodeBatch decodes a raft entry. Payloads alias data. Memory is bounded by len(data).
func DecodeBatch(data []byte) ([]Command, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: empty entry", ErrMalformed)
	}
	if data[0] != EnvelopeVersion {
		return nil, fmt.Errorf("%w %d (this binary applies %d)", ErrUnknownVersion, data[0], EnvelopeVersion)
	}
	b := data[1:]
	count, n := binary.Uvarint(b)
	if n <= 0 || count == 0 || count > MaxBatch || count > uint64(len(b)/minCommandSize) {
		return nil, fmt.Errorf("%w: bad command count", ErrMalformed)
	}
	b = b[n:]
	cmds := make([]Command, count)
	for i := range cmds {
		c := &cmds[i]
		typ, n := binary.Uvarint(b)
		if n <= 0 || typ > 1<<32-1 {
			return nil, fmt.Errorf("%w: command %d: bad type", ErrMalformed, i)
		}
		c.Type = CommandType(typ)
		b = b[n:]
		if len(b) < 1 {
			return nil, fmt.Errorf("%w: command %d: truncated", ErrMalformed, i)
		}
		flags := b[0]
		b = b[1:]
		if flags&^flagRequestID != 0 {
			return nil, fmt.Errorf("%w: command %d: unknown flags %#x", ErrMalformed, i, flags)
		}
		if flags&flagRequestID != 0 {
			if len(b) < len(c.RequestID) {
				return nil, fmt.Errorf("%w: command %d: truncated request id", ErrMalformed, i)
			}
			copy(c.RequestID[:], b)
			b = b[len(c.RequestID):]
			if c.RequestID.IsZero() {
				// The zero id is encoded by the absent flag; two encodings of one value would break round trips.
				return nil, fmt.Errorf("%w: command %d: explicit zero request id", ErrMalformed, i)
			}
		}
		c.Time, n = binary.Varint(b)
		if n <= 0 {
			return nil, fmt.Errorf("%w: command %d: bad time", ErrMalformed, i)
		}
		b = b[n:]
		plen, n := binary.Uvarint(b)
		if n <= 0 || plen > uint64(len(b)-n) {
			return nil, fmt.Errorf("%w: command %d: bad payload length", ErrMalformed, i)
		}
		b = b[n:]
		if plen > 0 {
			c.Payload = b[:plen:plen]
		}
		b = b[plen:]
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(b))
	}
	return cmds, nil
}
