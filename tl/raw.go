package tl

import (
	"encoding/binary"
	"fmt"
)

// Raw is an already-encoded boxed object (its constructor id followed by its fields), for bytes kept from an
// earlier encoding (a cached push, a stored answer being resent). Encoding it writes the bytes unchanged.
type Raw []byte

// TypeID implements Object: the first word of the bytes (0 if shorter than 4 bytes).
func (r Raw) TypeID() uint32 {
	if len(r) < 4 {
		return 0
	}
	return binary.LittleEndian.Uint32(r)
}

// TypeName implements Object.
func (r Raw) TypeName() string { return "raw" }

// Encode implements Object: the bytes after the id (Encoder.PutObject has written the id).
func (r Raw) Encode(e *Encoder) error {
	if len(r) < 4 || len(r)%4 != 0 {
		return e.Fail(fmt.Errorf("%w: raw object of %d bytes", ErrTooLong, len(r)))
	}
	e.PutRaw(r[4:])
	return e.Err()
}

// Decode implements Object; a Raw cannot tell where its object ends, so it is never decoded.
func (r Raw) Decode(d *Decoder) error {
	return d.Fail(fmt.Errorf("tl: a Raw object cannot be decoded"))
}

func (r Raw) String() string { return fmt.Sprintf("raw#%08x{%d bytes}", r.TypeID(), len(r)) }
