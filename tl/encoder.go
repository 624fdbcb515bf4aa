package tl

import (
	"encoding/binary"
	"math"
)

// Encoder appends TL-encoded values to a byte slice. The zero value is ready to use.
//
// Errors are sticky: the first failure (a nil required field, an oversized value) is kept in the Encoder and
// every later Put is still performed but the caller must check Err (Object.Encode returns it). This keeps the
// generated code short: one check per object instead of one per field.
type Encoder struct {
	buf []byte
	err error
}

// NewEncoder returns an Encoder that appends to buf[:0] (pass nil for a fresh buffer).
func NewEncoder(buf []byte) *Encoder { return &Encoder{buf: buf[:0]} }

// Bytes returns the encoded bytes. The slice aliases the Encoder's buffer.
func (e *Encoder) Bytes() []byte { return e.buf }

// Len returns the number of bytes written so far.
func (e *Encoder) Len() int { return len(e.buf) }

// Reset empties the buffer (keeping its capacity) and clears the error.
func (e *Encoder) Reset() { e.buf = e.buf[:0]; e.err = nil }

// Err returns the first error recorded by the Encoder, if any.
func (e *Encoder) Err() error { return e.err }

// Fail records err if no error has been recorded yet and returns the recorded error.
func (e *Encoder) Fail(err error) error {
	if e.err == nil {
		e.err = err
	}
	return e.err
}

// Truncate cuts the buffer back to n bytes (used to undo a partial write).
func (e *Encoder) Truncate(n int) {
	if n >= 0 && n <= len(e.buf) {
		e.buf = e.buf[:n]
	}
}

// Rollback cuts the buffer back to n bytes and clears the error: for a transactional write that began at
// Len() == n with no error recorded (api.EncodeLayer).
func (e *Encoder) Rollback(n int) {
	e.Truncate(n)
	e.err = nil
}

// PutRaw appends b as is.
func (e *Encoder) PutRaw(b []byte) { e.buf = append(e.buf, b...) }

// PutID appends a constructor id.
func (e *Encoder) PutID(id uint32) { e.buf = binary.LittleEndian.AppendUint32(e.buf, id) }

// PutUint32 appends a 32-bit word (flags words, ids).
func (e *Encoder) PutUint32(v uint32) { e.buf = binary.LittleEndian.AppendUint32(e.buf, v) }

// PutInt appends a TL int.
func (e *Encoder) PutInt(v int32) { e.buf = binary.LittleEndian.AppendUint32(e.buf, uint32(v)) }

// PutLong appends a TL long.
func (e *Encoder) PutLong(v int64) { e.buf = binary.LittleEndian.AppendUint64(e.buf, uint64(v)) }

// PutDouble appends a TL double (IEEE 754, little-endian).
func (e *Encoder) PutDouble(v float64) {
	e.buf = binary.LittleEndian.AppendUint64(e.buf, math.Float64bits(v))
}

// PutInt128 appends a TL int128 (16 bytes as they are on the wire).
func (e *Encoder) PutInt128(v Int128) { e.buf = append(e.buf, v[:]...) }

// PutInt256 appends a TL int256 (32 bytes as they are on the wire).
func (e *Encoder) PutInt256(v Int256) { e.buf = append(e.buf, v[:]...) }

// PutBool appends boolTrue or boolFalse.
func (e *Encoder) PutBool(v bool) {
	if v {
		e.PutID(BoolTrueID)
	} else {
		e.PutID(BoolFalseID)
	}
}

// PutBytes appends a TL bytes value: a 1-byte length (< 254) or 0xfe + 3-byte length, the data, then zero
// padding to a multiple of 4.
func (e *Encoder) PutBytes(b []byte) {
	e.putLen(len(b))
	e.buf = append(e.buf, b...)
	e.pad(len(b))
}

// PutString appends a TL string (same wire form as bytes).
func (e *Encoder) PutString(s string) {
	e.putLen(len(s))
	e.buf = append(e.buf, s...)
	e.pad(len(s))
}

func (e *Encoder) putLen(n int) {
	switch {
	case n < 254:
		e.buf = append(e.buf, byte(n))
	case n <= maxBytesLen:
		e.buf = append(e.buf, 254, byte(n), byte(n>>8), byte(n>>16))
	default:
		e.Fail(ErrTooLong)
		e.buf = append(e.buf, 254, 0xff, 0xff, 0xff)
	}
}

func (e *Encoder) pad(n int) {
	var total int
	if n < 254 {
		total = n + 1
	} else {
		total = n + 4
	}
	if r := total % 4; r != 0 {
		e.buf = append(e.buf, make([]byte, 4-r)...)
	}
}

// PutVectorHeader appends the boxed vector id and the element count.
func (e *Encoder) PutVectorHeader(n int) {
	e.PutID(VectorID)
	e.PutInt(int32(n))
}

// PutObject appends o boxed: its constructor id, then its fields. A nil o records ErrNilObject.
func (e *Encoder) PutObject(o Object) {
	if o == nil {
		e.Fail(ErrNilObject)
		return
	}
	e.PutID(o.TypeID())
	if err := o.Encode(e); err != nil {
		e.Fail(err)
	}
}

// PutBare appends o's fields without its constructor id. A nil o records ErrNilObject.
func (e *Encoder) PutBare(o Object) {
	if o == nil {
		e.Fail(ErrNilObject)
		return
	}
	if err := o.Encode(e); err != nil {
		e.Fail(err)
	}
}
