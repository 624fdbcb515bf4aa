package tl

// Helpers for vectors, shared by all generated code so that no per-type vector code is needed.

// PutInts appends a boxed Vector<int>.
func (e *Encoder) PutInts(v []int32) {
	e.PutVectorHeader(len(v))
	for _, x := range v {
		e.PutInt(x)
	}
}

// PutLongs appends a boxed Vector<long>.
func (e *Encoder) PutLongs(v []int64) {
	e.PutVectorHeader(len(v))
	for _, x := range v {
		e.PutLong(x)
	}
}

// PutDoubles appends a boxed Vector<double>.
func (e *Encoder) PutDoubles(v []float64) {
	e.PutVectorHeader(len(v))
	for _, x := range v {
		e.PutDouble(x)
	}
}

// PutStrings appends a boxed Vector<string>.
func (e *Encoder) PutStrings(v []string) {
	e.PutVectorHeader(len(v))
	for _, x := range v {
		e.PutString(x)
	}
}

// PutBytesVector appends a boxed Vector<bytes>.
func (e *Encoder) PutBytesVector(v [][]byte) {
	e.PutVectorHeader(len(v))
	for _, x := range v {
		e.PutBytes(x)
	}
}

// PutBools appends a boxed Vector<Bool>.
func (e *Encoder) PutBools(v []bool) {
	e.PutVectorHeader(len(v))
	for _, x := range v {
		e.PutBool(x)
	}
}

// PutObjects appends a boxed vector of boxed objects.
func PutObjects[T Object](e *Encoder, v []T) {
	e.PutVectorHeader(len(v))
	for _, x := range v {
		e.PutObject(x)
	}
}

// PutBareObjects appends a vector (boxed unless bareVector) of bare objects.
func PutBareObjects[T Object](e *Encoder, v []T, bareVector bool) {
	if bareVector {
		e.PutInt(int32(len(v)))
	} else {
		e.PutVectorHeader(len(v))
	}
	for _, x := range v {
		e.PutBare(x)
	}
}

// Ints reads a boxed Vector<int>. A present empty vector decodes as a non-nil empty slice.
func (d *Decoder) Ints() []int32 {
	n := d.VectorLen(4)
	if d.err != nil {
		return nil
	}
	v := make([]int32, n)
	for i := range v {
		v[i] = d.Int()
	}
	return v
}

// Longs reads a boxed Vector<long>.
func (d *Decoder) Longs() []int64 {
	n := d.VectorLen(8)
	if d.err != nil {
		return nil
	}
	v := make([]int64, n)
	for i := range v {
		v[i] = d.Long()
	}
	return v
}

// Doubles reads a boxed Vector<double>.
func (d *Decoder) Doubles() []float64 {
	n := d.VectorLen(8)
	if d.err != nil {
		return nil
	}
	v := make([]float64, n)
	for i := range v {
		v[i] = d.Double()
	}
	return v
}

// Strings reads a boxed Vector<string>.
func (d *Decoder) Strings() []string {
	n := d.VectorLen(4)
	if d.err != nil {
		return nil
	}
	v := make([]string, n)
	for i := range v {
		v[i] = d.String()
	}
	return v
}

// BytesVector reads a boxed Vector<bytes>.
func (d *Decoder) BytesVector() [][]byte {
	n := d.VectorLen(4)
	if d.err != nil {
		return nil
	}
	v := make([][]byte, n)
	for i := range v {
		v[i] = d.Bytes()
	}
	return v
}

// Bools reads a boxed Vector<Bool>.
func (d *Decoder) Bools() []bool {
	n := d.VectorLen(4)
	if d.err != nil {
		return nil
	}
	v := make([]bool, n)
	for i := range v {
		v[i] = d.Bool()
	}
	return v
}

// Objects reads a boxed vector whose elements are read by elem (a generated class decoder). Bounded like
// VectorLen with 4 bytes per element (every boxed element has an id).
func Objects[T any](d *Decoder, elem func(*Decoder) T) []T {
	n := d.VectorLen(4)
	return readN(d, n, elem)
}

// BareObjects reads a vector (boxed unless bareVector) of bare elements of at least minSize bytes each.
func BareObjects[T any](d *Decoder, elem func(*Decoder) T, minSize int, bareVector bool) []T {
	var n int
	if bareVector {
		n = d.BareVectorLen(minSize)
	} else {
		n = d.VectorLen(minSize)
	}
	return readN(d, n, elem)
}

func readN[T any](d *Decoder, n int, elem func(*Decoder) T) []T {
	if d.err != nil {
		return nil
	}
	v := make([]T, n)
	for i := range v {
		v[i] = elem(d)
		if d.err != nil {
			return nil
		}
	}
	return v
}

// IntVector is a Vector<int> method result.
type IntVector struct{ Elems []int32 }

// LongVector is a Vector<long> method result.
type LongVector struct{ Elems []int64 }

// TypeID implements Object (the vector id).
func (*IntVector) TypeID() uint32 { return VectorID }

// TypeName implements Object.
func (*IntVector) TypeName() string { return "Vector<int>" }

func (v *IntVector) String() string { return Format(v) }

// Encode implements Object (count and elements; PutObject writes the vector id).
func (v *IntVector) Encode(e *Encoder) error {
	if v == nil {
		return e.Fail(ErrNilObject)
	}
	e.PutInt(int32(len(v.Elems)))
	for _, x := range v.Elems {
		e.PutInt(x)
	}
	return e.Err()
}

// Decode implements Object.
func (v *IntVector) Decode(d *Decoder) error {
	n := d.BareVectorLen(4)
	if d.err != nil {
		return d.err
	}
	v.Elems = make([]int32, n)
	for i := range v.Elems {
		v.Elems[i] = d.Int()
	}
	return d.Err()
}

// TypeID implements Object (the vector id).
func (*LongVector) TypeID() uint32 { return VectorID }

// TypeName implements Object.
func (*LongVector) TypeName() string { return "Vector<long>" }

func (v *LongVector) String() string { return Format(v) }

// Encode implements Object.
func (v *LongVector) Encode(e *Encoder) error {
	if v == nil {
		return e.Fail(ErrNilObject)
	}
	e.PutInt(int32(len(v.Elems)))
	for _, x := range v.Elems {
		e.PutLong(x)
	}
	return e.Err()
}

// Decode implements Object.
func (v *LongVector) Decode(d *Decoder) error {
	n := d.BareVectorLen(8)
	if d.err != nil {
		return d.err
	}
	v.Elems = make([]int64, n)
	for i := range v.Elems {
		v.Elems[i] = d.Long()
	}
	return d.Err()
}
