package tl

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Default limits of a Decoder. They can be changed per Decoder with SetLimits.
const (
	// DefaultMaxDepth bounds the nesting of boxed objects (each boxed object, Object field and gzip_packed
	// counts one level). Real Telegram values nest less than 20 deep (rich text, page blocks).
	DefaultMaxDepth = 64
	// DefaultMaxUnpacked bounds the total bytes that gzip_packed values may expand to within one decode.
	DefaultMaxUnpacked = 4 << 20
)

// Decoder reads TL values from a byte slice. It never reads past the slice, never allocates more than the
// remaining input justifies (vector counts and lengths are checked before allocating), bounds nesting depth,
// and never panics on malformed input.
//
// Errors are sticky: after the first failure every read returns a zero value and Err returns the failure
// (wrapped with the offset where it happened). Generated Decode methods read all fields and return d.Err().
type Decoder struct {
	buf   []byte
	pos   int
	base  int // offset of buf[0] in the outermost input, for error messages
	err   error
	depth int
	lossy bool

	maxDepth int
	reg      *Registry
	budget   *int // gzip output budget shared with sub-decoders
}

// NewDecoder returns a Decoder over b. reg resolves constructor ids for Object fields (!X, rpc_result,
// message bodies) and for DecodeObject; it may be nil when no such field is decoded.
func NewDecoder(b []byte, reg *Registry) *Decoder {
	budget := DefaultMaxUnpacked
	return &Decoder{buf: b, reg: reg, maxDepth: DefaultMaxDepth, budget: &budget}
}

// SetLimits changes the nesting and gzip limits of d. Values <= 0 keep the current limit.
func (d *Decoder) SetLimits(maxDepth, maxUnpacked int) {
	if maxDepth > 0 {
		d.maxDepth = maxDepth
	}
	if maxUnpacked > 0 {
		*d.budget = maxUnpacked
	}
}

// Registry returns the registry the Decoder resolves Object fields with.
func (d *Decoder) Registry() *Registry { return d.reg }

// Err returns the first error, if any.
func (d *Decoder) Err() error { return d.err }

// Fail records err (wrapped with the current offset) unless an error is already recorded, and returns the
// recorded error.
func (d *Decoder) Fail(err error) error {
	if d.err == nil {
		d.err = &DecodeError{Offset: d.base + d.pos, Err: err}
		d.pos = len(d.buf)
	}
	return d.err
}

// Remaining returns the number of unread bytes.
func (d *Decoder) Remaining() int { return len(d.buf) - d.pos }

// Pos returns the read offset within the Decoder's input.
func (d *Decoder) Pos() int { return d.pos }

// Lossy reports whether decoding replaced wire forms that re-encode differently: a gzip_packed value was
// unpacked, or an older layer's constructor id was decoded into the canonical type. When it is false,
// re-encoding the decoded values gives back the input bytes exactly.
func (d *Decoder) Lossy() bool { return d.lossy }

// MarkLossy records that the value will not re-encode to the same bytes (see Lossy).
func (d *Decoder) MarkLossy() { d.lossy = true }

// End returns the recorded error, or a *TrailingBytesError if unread bytes remain.
func (d *Decoder) End() error {
	if d.err != nil {
		return d.err
	}
	if n := d.Remaining(); n != 0 {
		return &DecodeError{Offset: d.base + d.pos, Err: &TrailingBytesError{N: n}}
	}
	return nil
}

func (d *Decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.buf)-d.pos {
		d.Fail(ErrTruncated)
		return nil
	}
	b := d.buf[d.pos : d.pos+n : d.pos+n]
	d.pos += n
	return b
}

// Raw returns the next n bytes without copying (they alias the input).
func (d *Decoder) Raw(n int) []byte { return d.take(n) }

// Uint32 reads a 32-bit word.
func (d *Decoder) Uint32() uint32 {
	b := d.take(4)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(b)
}

// ID reads a constructor id.
func (d *Decoder) ID() uint32 { return d.Uint32() }

// PeekID returns the next constructor id without consuming it (0 if fewer than 4 bytes remain or on error).
func (d *Decoder) PeekID() uint32 {
	if d.err != nil || d.Remaining() < 4 {
		return 0
	}
	return binary.LittleEndian.Uint32(d.buf[d.pos:])
}

// ExpectID reads a constructor id and fails unless it equals want.
func (d *Decoder) ExpectID(want uint32, typ string) {
	if id := d.ID(); d.err == nil && id != want {
		d.Fail(&UnknownConstructorError{ID: id, Type: typ})
	}
}

// Int reads a TL int.
func (d *Decoder) Int() int32 { return int32(d.Uint32()) }

// Long reads a TL long.
func (d *Decoder) Long() int64 {
	b := d.take(8)
	if b == nil {
		return 0
	}
	return int64(binary.LittleEndian.Uint64(b))
}

// Double reads a TL double.
func (d *Decoder) Double() float64 {
	b := d.take(8)
	if b == nil {
		return 0
	}
	return math.Float64frombits(binary.LittleEndian.Uint64(b))
}

// Int128 reads a TL int128.
func (d *Decoder) Int128() (v Int128) {
	copy(v[:], d.take(16))
	return v
}

// Int256 reads a TL int256.
func (d *Decoder) Int256() (v Int256) {
	copy(v[:], d.take(32))
	return v
}

// Bool reads boolTrue or boolFalse; any other id is an error.
func (d *Decoder) Bool() bool {
	switch id := d.ID(); id {
	case BoolTrueID:
		return true
	case BoolFalseID:
		return false
	default:
		if d.err == nil {
			d.Fail(&UnknownConstructorError{ID: id, Type: "Bool"})
		}
		return false
	}
}

// bytesRef reads a TL bytes value and returns it aliasing the input. The encoding must be canonical: the
// long form only for lengths >= 254, and zero padding, so that re-encoding gives the same bytes.
func (d *Decoder) bytesRef() []byte {
	h := d.take(1)
	if h == nil {
		return nil
	}
	n, hdr := int(h[0]), 1
	if n == 254 {
		l := d.take(3)
		if l == nil {
			return nil
		}
		n, hdr = int(l[0])|int(l[1])<<8|int(l[2])<<16, 4
		if n < 254 {
			d.Fail(ErrNonCanonical)
			return nil
		}
	} else if n == 255 {
		d.Fail(ErrNonCanonical)
		return nil
	}
	b := d.take(n)
	if b == nil {
		return nil
	}
	if r := (n + hdr) % 4; r != 0 {
		for _, p := range d.take(4 - r) {
			if p != 0 {
				d.Fail(ErrNonCanonical)
				return nil
			}
		}
	}
	return b
}

// Bytes reads a TL bytes value into a new slice (never nil unless an error occurred).
func (d *Decoder) Bytes() []byte {
	b := d.bytesRef()
	if b == nil {
		return nil
	}
	return append(make([]byte, 0, len(b)), b...)
}

// BytesRef reads a TL bytes value without copying: the result aliases the input.
func (d *Decoder) BytesRef() []byte { return d.bytesRef() }

// String reads a TL string. Invalid UTF-8 is kept as is (clients send what they send; the API layer checks).
func (d *Decoder) String() string { return string(d.bytesRef()) }

// VectorLen reads a boxed vector header (vector id + count) and returns the count, checked against the bytes
// that remain: every element needs at least minSize bytes, so a count the input cannot hold is an error before
// anything is allocated.
func (d *Decoder) VectorLen(minSize int) int {
	d.ExpectID(VectorID, "Vector")
	return d.BareVectorLen(minSize)
}

// BareVectorLen reads a bare vector count (no id) and bounds it like VectorLen.
func (d *Decoder) BareVectorLen(minSize int) int {
	n := d.Int()
	if d.err != nil {
		return 0
	}
	if minSize < 1 {
		minSize = 1
	}
	if n < 0 || int(n) > d.Remaining()/minSize {
		d.Fail(fmt.Errorf("%w: vector of %d elements, %d bytes left", ErrTooLong, n, d.Remaining()))
		return 0
	}
	return int(n)
}

// Enter increments the nesting depth, failing with ErrTooDeep past the limit. Every successful Enter must be
// paired with Leave. It reports whether decoding may continue.
func (d *Decoder) Enter() bool {
	if d.err != nil {
		return false
	}
	if d.depth >= d.maxDepth {
		d.Fail(ErrTooDeep)
		return false
	}
	d.depth++
	return true
}

// Leave undoes Enter.
func (d *Decoder) Leave() { d.depth-- }

// Body decodes the fields of o (its id already read) one nesting level deeper.
func (d *Decoder) Body(o Object) {
	if !d.Enter() {
		return
	}
	if err := o.Decode(d); err != nil {
		d.Fail(err)
	}
	d.Leave()
}

// sub returns a Decoder over b sharing d's registry, limits, depth and gzip budget.
func (d *Decoder) sub(b []byte, base int) *Decoder {
	return &Decoder{buf: b, base: base, depth: d.depth, maxDepth: d.maxDepth, reg: d.reg, budget: d.budget}
}

// Object reads a boxed object of any type through the registry: the value of an Object or !X field. A
// gzip_packed value is unpacked (within the gzip budget) and its content decoded in its place.
func (d *Decoder) Object() Object {
	id := d.ID()
	if d.err != nil {
		return nil
	}
	if id == GzipPackedID {
		return d.gzipObject()
	}
	var o Object
	if d.reg != nil {
		o = d.reg.New(id)
	}
	if o == nil {
		d.pos -= 4
		d.Fail(&UnknownConstructorError{ID: id})
		return nil
	}
	if d.reg.legacy(id) {
		d.lossy = true
	}
	d.Body(o)
	if d.err != nil {
		return nil
	}
	return o
}

func (d *Decoder) gzipObject() Object {
	start := d.base + d.pos
	packed := d.bytesRef()
	if d.err != nil {
		return nil
	}
	if !d.Enter() {
		return nil
	}
	defer d.Leave()
	plain, err := gunzip(packed, *d.budget)
	if err != nil {
		d.Fail(err)
		return nil
	}
	*d.budget -= len(plain)
	s := d.sub(plain, start)
	o := s.Object()
	if err := s.End(); err != nil {
		d.err = fmt.Errorf("in gzip_packed at offset %d: %w", start, err)
		return nil
	}
	d.lossy = true
	return o
}

// Sub consumes the next n bytes of d and returns a Decoder over exactly them (sharing registry, limits, depth
// and gzip budget); finish it with Join. Used for length-prefixed bodies (message.bytes).
func (d *Decoder) Sub(n int) *Decoder {
	start := d.base + d.pos
	b := d.take(n)
	s := d.sub(b, start)
	if d.err != nil {
		s.err = d.err
	}
	return s
}

// Join checks that s (from Sub) was read completely and carries its error and lossiness into d.
func (d *Decoder) Join(s *Decoder) {
	if err := s.End(); err != nil && d.err == nil {
		d.err = err
		d.pos = len(d.buf)
	}
	if s.lossy {
		d.lossy = true
	}
}
