package tl

import (
	"bytes"
	"compress/zlib"
	"encoding/hex"
	"errors"
	"runtime"
	"strings"
	"testing"
)

func TestPrimitivesRoundTrip(t *testing.T) {
	var e Encoder
	e.PutInt(-5)
	e.PutLong(-1 << 40)
	e.PutDouble(3.25)
	e.PutInt128(Int128{1, 2, 3})
	e.PutInt256(Int256{9: 7})
	e.PutBool(true)
	e.PutBool(false)
	e.PutString("héllo")
	e.PutBytes(nil)
	e.PutInts([]int32{1, 2})
	e.PutLongs([]int64{})
	if e.Err() != nil || len(e.Bytes())%4 != 0 {
		t.Fatalf("encode: %v len %d", e.Err(), len(e.Bytes()))
	}
	d := NewDecoder(e.Bytes(), nil)
	if v := d.Int(); v != -5 {
		t.Errorf("int %d", v)
	}
	if v := d.Long(); v != -1<<40 {
		t.Errorf("long %d", v)
	}
	if v := d.Double(); v != 3.25 {
		t.Errorf("double %v", v)
	}
	if v := d.Int128(); v != (Int128{1, 2, 3}) {
		t.Errorf("int128 %v", v)
	}
	if v := d.Int256(); v != (Int256{9: 7}) {
		t.Errorf("int256 %v", v)
	}
	if !d.Bool() || d.Bool() {
		t.Error("bools")
	}
	if v := d.String(); v != "héllo" {
		t.Errorf("string %q", v)
	}
	if v := d.Bytes(); len(v) != 0 {
		t.Errorf("bytes %v", v)
	}
	if v := d.Ints(); len(v) != 2 || v[1] != 2 {
		t.Errorf("ints %v", v)
	}
	if v := d.Longs(); v == nil || len(v) != 0 {
		t.Errorf("empty present vector must be non-nil and empty: %#v", v)
	}
	if err := d.End(); err != nil {
		t.Fatal(err)
	}
}

func TestBytesLengthForms(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 4, 253, 254, 255, 256, 1000, 70000} {
		in := bytes.Repeat([]byte{0xab}, n)
		var e Encoder
		e.PutBytes(in)
		b := e.Bytes()
		if len(b)%4 != 0 {
			t.Fatalf("n=%d: len %d not aligned", n, len(b))
		}
		if n >= 254 && b[0] != 254 || n < 254 && int(b[0]) != n {
			t.Fatalf("n=%d: header % x", n, b[:4])
		}
		d := NewDecoder(b, nil)
		if out := d.Bytes(); !bytes.Equal(out, in) || d.End() != nil {
			t.Fatalf("n=%d: round trip %v", n, d.End())
		}
	}
}

func TestBytesNonCanonical(t *testing.T) {
	cases := map[string]string{
		"long form for short": "fe030000616263000000000000000000",
		"non-zero padding":    "03616263" + "01000000",
		"255 marker":          "ff000000",
	}
	// The second case is a valid 3-byte string followed by a word: make padding non-zero instead.
	cases["non-zero padding"] = "0261620a"
	for name, h := range cases {
		b, _ := hex.DecodeString(h)
		d := NewDecoder(b, nil)
		d.Bytes()
		if !errors.Is(d.Err(), ErrNonCanonical) {
			t.Errorf("%s: got %v", name, d.Err())
		}
	}
}

func TestHostileLengths(t *testing.T) {
	// bytes claiming 16 MiB with 8 bytes of input.
	d := NewDecoder([]byte{254, 0xff, 0xff, 0xff, 1, 2, 3, 4}, nil)
	if d.Bytes() != nil || !errors.Is(d.Err(), ErrTruncated) {
		t.Fatalf("huge bytes: %v", d.Err())
	}
	// vector claiming 2^31-1 elements.
	var e Encoder
	e.PutVectorHeader(1<<31 - 1)
	e.PutInt(1)
	n := allocBytes(func() {
		d := NewDecoder(e.Bytes(), nil)
		if d.Ints() != nil || !errors.Is(d.Err(), ErrTooLong) {
			t.Fatalf("huge vector: %v", d.Err())
		}
	})
	if n > 4096 {
		t.Errorf("huge vector count allocated %d bytes", n)
	}
	// negative count.
	e.Reset()
	e.PutVectorHeader(-1)
	d = NewDecoder(e.Bytes(), nil)
	d.Ints()
	if !errors.Is(d.Err(), ErrTooLong) {
		t.Fatalf("negative count: %v", d.Err())
	}
	// wrong vector id.
	d = NewDecoder([]byte{1, 2, 3, 4, 0, 0, 0, 0}, nil)
	d.Ints()
	var uc *UnknownConstructorError
	if !errors.As(d.Err(), &uc) || uc.ID != 0x04030201 {
		t.Fatalf("bad vector id: %v", d.Err())
	}
}

func TestTruncatedAndTrailing(t *testing.T) {
	d := NewDecoder([]byte{1, 2, 3}, nil)
	if d.Int() != 0 || !errors.Is(d.Err(), ErrTruncated) {
		t.Fatal(d.Err())
	}
	// sticky: later reads return zero and keep the first error
	if d.Long() != 0 || !errors.Is(d.Err(), ErrTruncated) {
		t.Fatal("error not sticky")
	}
	var de *DecodeError
	if !errors.As(d.Err(), &de) || de.Offset != 0 {
		t.Fatalf("offset: %v", d.Err())
	}
	d = NewDecoder([]byte{1, 0, 0, 0, 9}, nil)
	d.Int()
	var te *TrailingBytesError
	if !errors.As(d.End(), &te) || te.N != 1 {
		t.Fatalf("trailing: %v", d.End())
	}
}

// box is a test object whose single field is any object: nesting it is how a hostile client nests deeply.
type box struct{ Inner Object }

const boxID = 0x0b0c5001

func (*box) TypeID() uint32            { return boxID }
func (*box) TypeName() string          { return "box" }
func (b *box) Encode(e *Encoder) error { e.PutObject(b.Inner); return e.Err() }
func (b *box) Decode(d *Decoder) error { b.Inner = d.Object(); return d.Err() }

type leaf struct{ V int32 }

const leafID = 0x1eaf0001

func (*leaf) TypeID() uint32            { return leafID }
func (*leaf) TypeName() string          { return "leaf" }
func (l *leaf) Encode(e *Encoder) error { e.PutInt(l.V); return e.Err() }
func (l *leaf) Decode(d *Decoder) error { l.V = d.Int(); return d.Err() }
func (l *leaf) String() string          { return Format(l) }

func testLookup(id uint32) Object {
	switch id {
	case boxID:
		return &box{}
	case leafID:
		return &leaf{}
	}
	return nil
}

func nest(n int) Object {
	var o Object = &leaf{V: 7}
	for range n {
		o = &box{Inner: o}
	}
	return o
}

func TestDepthLimit(t *testing.T) {
	reg := NewRegistry(testLookup)
	ok, err := Marshal(nest(DefaultMaxDepth - 1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeObject(ok, reg); err != nil {
		t.Fatalf("depth %d: %v", DefaultMaxDepth, err)
	}
	deep, _ := Marshal(nest(DefaultMaxDepth))
	if _, err := DecodeObject(deep, reg); !errors.Is(err, ErrTooDeep) {
		t.Fatalf("too deep: %v", err)
	}
	// A flat input of 100k box ids: fails fast on depth, never recursing further.
	flat := bytes.Repeat([]byte{0x01, 0x50, 0x0c, 0x0b}, 100000)
	if _, err := DecodeObject(flat, reg); !errors.Is(err, ErrTooDeep) {
		t.Fatalf("flat boxes: %v", err)
	}
}

func TestUnknownConstructor(t *testing.T) {
	_, err := DecodeObject([]byte{0xef, 0xbe, 0xad, 0xde}, NewRegistry(testLookup))
	var uc *UnknownConstructorError
	if !errors.As(err, &uc) || uc.ID != 0xdeadbeef {
		t.Fatalf("got %v", err)
	}
	if _, err := DecodeObject([]byte{0xef, 0xbe, 0xad, 0xde}, nil); !errors.As(err, &uc) {
		t.Fatalf("nil registry: %v", err)
	}
}

func TestGzipPacked(t *testing.T) {
	reg := NewRegistry(testLookup)
	inner := &box{Inner: &leaf{V: 42}}
	gz, err := Gzip(inner)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Marshal(&box{Inner: gz})
	if err != nil {
		t.Fatal(err)
	}
	d := NewDecoder(b, reg)
	o := d.Object()
	if err := d.End(); err != nil {
		t.Fatal(err)
	}
	if !d.Lossy() {
		t.Error("gzip unpack must mark the decode lossy")
	}
	got := o.(*box).Inner.(*box).Inner.(*leaf).V
	if got != 42 {
		t.Fatalf("got %d", got)
	}
}

// zlibBytes packs plain as a zlib stream, as mtcute packs large requests (Node's deflateSync).
func zlibBytes(t *testing.T, plain []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zlib.NewWriter(&buf)
	if _, err := zw.Write(plain); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestGzipPackedZlib: gzip_packed holding a zlib stream decodes (Telegram accepts both); a zlib bomb stops at
// the budget like a gzip one.
func TestGzipPackedZlib(t *testing.T) {
	plain, err := Marshal(&box{Inner: &leaf{V: 7}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Marshal(&GzipPacked{Data: zlibBytes(t, plain)})
	o, err := DecodeObject(b, NewRegistry(testLookup))
	if err != nil || o.(*box).Inner.(*leaf).V != 7 {
		t.Fatalf("zlib: %v %v", o, err)
	}
	var e Encoder
	e.PutID(leafID)
	e.PutRaw(make([]byte, 8<<20))
	b, _ = Marshal(&GzipPacked{Data: zlibBytes(t, e.Bytes())})
	if _, err := DecodeObject(b, NewRegistry(testLookup)); !errors.Is(err, ErrGzipTooLarge) {
		t.Fatalf("zlib bomb: %v", err)
	}
	b, _ = Marshal(&GzipPacked{Data: append(zlibBytes(t, plain)[:2], "garbage"...)})
	if _, err := DecodeObject(b, NewRegistry(testLookup)); err == nil {
		t.Fatal("a zlib header over garbage decoded")
	}
}

func TestGzipBomb(t *testing.T) {
	// 8 MiB of zeros compresses to ~8 KiB; the decoder must stop at its budget.
	big := &GzipPacked{}
	{
		var e Encoder
		e.PutID(leafID)
		e.PutRaw(make([]byte, 8<<20))
		g, err := gzipBytes(e.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		big.Data = g
	}
	b, _ := Marshal(big)
	_, err := DecodeObject(b, NewRegistry(testLookup))
	if !errors.Is(err, ErrGzipTooLarge) {
		t.Fatalf("bomb: %v", err)
	}
	// Not gzip at all.
	b, _ = Marshal(&GzipPacked{Data: []byte("not gzip")})
	if _, err := DecodeObject(b, NewRegistry(testLookup)); err == nil {
		t.Fatal("garbage gzip accepted")
	}
}

func TestEncoderErrors(t *testing.T) {
	if _, err := Marshal(&box{}); !errors.Is(err, ErrNilObject) {
		t.Fatalf("nil inner: %v", err)
	}
	var nilLeaf *IntVector
	var e Encoder
	e.PutObject(nilLeaf)
	if !errors.Is(e.Err(), ErrNilObject) {
		t.Fatalf("typed nil: %v", e.Err())
	}
}

func TestFormat(t *testing.T) {
	s := Format(&box{Inner: &leaf{V: 3}})
	if s != "box{Inner:leaf{V:3}}" {
		t.Fatalf("format: %s", s)
	}
	if s := (&IntVector{Elems: []int32{1, 2}}).String(); !strings.Contains(s, "[1 2]") {
		t.Fatalf("format vector: %s", s)
	}
}

// allocBytes returns the bytes allocated by f (averaged over a few runs).
func allocBytes(f func()) uint64 {
	var a, b runtime.MemStats
	runtime.ReadMemStats(&a)
	const runs = 5
	for range runs {
		f()
	}
	runtime.ReadMemStats(&b)
	return (b.TotalAlloc - a.TotalAlloc) / runs
}

func TestRaw(t *testing.T) {
	inner, _ := Marshal(&leaf{V: 9})
	b, err := Marshal(&box{Inner: Raw(inner)})
	if err != nil {
		t.Fatal(err)
	}
	o, err := DecodeObject(b, NewRegistry(testLookup))
	if err != nil || o.(*box).Inner.(*leaf).V != 9 {
		t.Fatalf("raw: %v %v", o, err)
	}
	if _, err := Marshal(Raw{1, 2}); err == nil {
		t.Fatal("short raw accepted")
	}
}
