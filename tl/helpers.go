package tl

import (
	"errors"
	"fmt"
)

// Helpers called by generated code; they keep each generated type small.

// Ptr returns a pointer to a copy of v (optional scalar fields).
func Ptr[T any](v T) *T { return &v }

// Boxed reads a boxed value of v's constructor into v and returns v.
func Boxed[T Object](d *Decoder, v T) T {
	d.ExpectID(v.TypeID(), v.TypeName())
	d.Body(v)
	return v
}

// Unknown records an *UnknownConstructorError for an id just read where a value of type typ was expected.
func (d *Decoder) Unknown(id uint32, typ string) {
	if d.err == nil {
		d.pos -= 4
		d.Fail(&UnknownConstructorError{ID: id, Type: typ})
	}
}

// Result returns v as a method result, or d's error.
func Result[T Object](v T, d *Decoder) (Object, error) {
	if err := d.Err(); err != nil {
		return nil, err
	}
	return v, nil
}

// ErrNotMethod: a wrapper's query is not a method, so its result type is unknown.
var ErrNotMethod = errors.New("tl: wrapped query is not a method")

// InnerResult decodes the result of a wrapper method (invokeWithLayer, initConnection...): the result of
// its inner query.
func InnerResult(q Object, d *Decoder) (Object, error) {
	m, ok := q.(Method)
	if !ok {
		return nil, fmt.Errorf("%w: %T", ErrNotMethod, q)
	}
	return m.DecodeResult(d)
}

// WireID returns the id o was decoded from: for a value decoded from an older layer's form (see api.IsLegacy)
// that layer's id, otherwise o.TypeID(). The result of a request is projected for the form that was called.
func WireID(o Object) uint32 {
	if w, ok := o.(interface{ WireID() uint32 }); ok {
		return w.WireID()
	}
	return o.TypeID()
}
