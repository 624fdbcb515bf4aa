package tl

import "fmt"

// Wire ids the runtime itself knows.
const (
	VectorID     uint32 = 0x1cb5c415
	BoolTrueID   uint32 = 0x997275b5
	BoolFalseID  uint32 = 0xbc799737
	GzipPackedID uint32 = 0x3072cfa1

	maxBytesLen = 1<<24 - 1
)

// Int128 is a TL int128, kept as its 16 wire bytes.
type Int128 [16]byte

// Int256 is a TL int256, kept as its 32 wire bytes.
type Int256 [32]byte

// Object is a TL constructor or method call.
//
// Encode writes the fields only (bare form); Decode reads the fields only, the constructor id having been read
// by the caller. Boxed forms go through Encoder.PutObject, Marshal, Decoder.Object and Unmarshal.
type Object interface {
	TypeID() uint32
	TypeName() string
	Encode(e *Encoder) error
	Decode(d *Decoder) error
}

// Method is a request object (a TL function). DecodeResult reads its boxed result, as sent in rpc_result;
// the concrete type of the result is documented on each generated method.
type Method interface {
	Object
	DecodeResult(d *Decoder) (Object, error)
}

// Lookup returns a new zero value for a constructor id, or nil if unknown. Generated packages provide one.
type Lookup func(id uint32) Object

// Registry maps constructor ids to constructors by asking its lookups in order. It is immutable after
// NewRegistry and safe for concurrent use.
type Registry struct {
	lookups  []Lookup
	isLegacy func(uint32) bool
}

// NewRegistry combines lookups (e.g. mt.New and api.New); the first that knows an id wins.
func NewRegistry(lookups ...Lookup) *Registry {
	return &Registry{lookups: append([]Lookup(nil), lookups...)}
}

// WithLegacy returns a copy of r that reports ids for which isLegacy is true as lossy (older-layer ids that
// decode into canonical types; see Decoder.Lossy).
func (r *Registry) WithLegacy(isLegacy func(uint32) bool) *Registry {
	c := *r
	c.isLegacy = isLegacy
	return &c
}

// New returns a new zero value for id, or nil.
func (r *Registry) New(id uint32) Object {
	if r == nil {
		return nil
	}
	for _, l := range r.lookups {
		if o := l(id); o != nil {
			return o
		}
	}
	return nil
}

func (r *Registry) legacy(id uint32) bool { return r != nil && r.isLegacy != nil && r.isLegacy(id) }

// Marshal encodes o boxed into a new slice.
func Marshal(o Object) ([]byte, error) {
	var e Encoder
	e.PutObject(o)
	if e.err != nil {
		return nil, e.err
	}
	return e.buf, nil
}

// Unmarshal decodes b as exactly one boxed object of o's constructor into o.
func Unmarshal(b []byte, o Object) error {
	d := NewDecoder(b, nil)
	d.ExpectID(o.TypeID(), o.TypeName())
	d.Body(o)
	return d.End()
}

// DecodeObject decodes b as exactly one boxed object of any type known to reg (gzip_packed unpacked).
func DecodeObject(b []byte, reg *Registry) (Object, error) {
	d := NewDecoder(b, reg)
	o := d.Object()
	if err := d.End(); err != nil {
		return nil, err
	}
	return o, nil
}

// Name returns a short "name#id" for logs.
func Name(o Object) string {
	if o == nil {
		return "<nil>"
	}
	return fmt.Sprintf("%s#%08x", o.TypeName(), o.TypeID())
}
