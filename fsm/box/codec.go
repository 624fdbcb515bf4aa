package box

import (
	"encoding/binary"
	"errors"
)

// errCorrupt: a record or payload did not decode. Inside Apply it becomes a deterministic PAYLOAD_INVALID.
var errCorrupt = errors.New("box: malformed encoding")

// maxBlob bounds any length-prefixed field (text, entities): a hostile length cannot make us allocate.
const maxBlob = 1 << 20

type wbuf struct{ b []byte }

// start gives an empty buffer room for a typical record, so that encoding one costs one allocation instead of
// a doubling from 8 bytes up.
func (w *wbuf) start() {
	if cap(w.b) == 0 {
		w.b = make([]byte, 0, 64)
	}
}

func (w *wbuf) u8(v byte)    { w.start(); w.b = append(w.b, v) }
func (w *wbuf) i32(v int32)  { w.start(); w.b = binary.BigEndian.AppendUint32(w.b, uint32(v)) }
func (w *wbuf) i64(v int64)  { w.start(); w.b = binary.BigEndian.AppendUint64(w.b, uint64(v)) }
func (w *wbuf) u64(v uint64) { w.start(); w.b = binary.BigEndian.AppendUint64(w.b, v) }
func (w *wbuf) uv(v uint64)  { w.start(); w.b = binary.AppendUvarint(w.b, v) }
func (w *wbuf) bool(v bool) {
	if v {
		w.u8(1)
	} else {
		w.u8(0)
	}
}
func (w *wbuf) blob(v []byte) { w.uv(uint64(len(v))); w.b = append(w.b, v...) }
func (w *wbuf) str(v string)  { w.uv(uint64(len(v))); w.b = append(w.b, v...) }
func (w *wbuf) i32s(v []int32) {
	w.uv(uint64(len(v)))
	for _, x := range v {
		w.i32(x)
	}
}
func (w *wbuf) i64s(v []int64) {
	w.uv(uint64(len(v)))
	for _, x := range v {
		w.i64(x)
	}
}

// rbuf reads what wbuf wrote; the first short read makes every later read return zero and err() non-nil.
type rbuf struct {
	b   []byte
	bad bool
}

func (r *rbuf) take(n int) []byte {
	if r.bad || n < 0 || n > len(r.b) {
		r.bad = true
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *rbuf) u8() byte {
	if v := r.take(1); v != nil {
		return v[0]
	}
	return 0
}

func (r *rbuf) i32() int32 {
	if v := r.take(4); v != nil {
		return int32(binary.BigEndian.Uint32(v))
	}
	return 0
}

func (r *rbuf) u64() uint64 {
	if v := r.take(8); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

func (r *rbuf) i64() int64 { return int64(r.u64()) }

func (r *rbuf) bool() bool { return r.u8() != 0 }

func (r *rbuf) uv() uint64 {
	if r.bad {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.bad = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads a length that must fit in what is left, each element being at least size bytes.
func (r *rbuf) count(size int) int {
	n := r.uv()
	if r.bad || n > uint64(len(r.b)/size) || n > maxBlob {
		r.bad = true
		return 0
	}
	return int(n)
}

func (r *rbuf) blob() []byte {
	n := r.count(1)
	v := r.take(n)
	if v == nil || n == 0 {
		return nil
	}
	return append([]byte(nil), v...)
}

func (r *rbuf) str() string { return string(r.take(r.count(1))) }

func (r *rbuf) i32s() []int32 {
	n := r.count(4)
	if n == 0 {
		return nil
	}
	out := make([]int32, n)
	for i := range out {
		out[i] = r.i32()
	}
	return out
}

func (r *rbuf) i64s() []int64 {
	n := r.count(8)
	if n == 0 {
		return nil
	}
	out := make([]int64, n)
	for i := range out {
		out[i] = r.i64()
	}
	return out
}

// end reports a short read or trailing bytes.
func (r *rbuf) end() error {
	if r.bad || len(r.b) != 0 {
		return errCorrupt
	}
	return nil
}
