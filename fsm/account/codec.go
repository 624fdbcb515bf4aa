package account

import (
	"encoding/binary"
	"errors"
)

// enc appends big-endian integers and length-prefixed strings.
type enc []byte

func (e enc) u8(v byte) enc      { return append(e, v) }
func (e enc) i64(v int64) enc    { return binary.BigEndian.AppendUint64(e, uint64(v)) }
func (e enc) i32(v int32) enc    { return binary.BigEndian.AppendUint32(e, uint32(v)) }
func (e enc) str(s string) enc   { return append(binary.AppendUvarint(e, uint64(len(s))), s...) }
func (e enc) boolean(b bool) enc { return e.u8(b2u(b)) }

func b2u(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// maxStr bounds every string this package decodes (names, device strings, phones).
const maxStr = 1024

var errShort = errors.New("account: malformed bytes")

// dec reads what enc wrote; the first error sticks and every later read returns zero values.
type dec struct {
	b   []byte
	err error
}

func (d *dec) fail() { d.err = errShort; d.b = nil }

func (d *dec) u8() byte {
	if d.err != nil || len(d.b) < 1 {
		d.fail()
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *dec) i64() int64 {
	if d.err != nil || len(d.b) < 8 {
		d.fail()
		return 0
	}
	v := int64(binary.BigEndian.Uint64(d.b))
	d.b = d.b[8:]
	return v
}

func (d *dec) i32() int32 {
	if d.err != nil || len(d.b) < 4 {
		d.fail()
		return 0
	}
	v := int32(binary.BigEndian.Uint32(d.b))
	d.b = d.b[4:]
	return v
}

func (d *dec) str() string {
	if d.err != nil {
		return ""
	}
	n, k := binary.Uvarint(d.b)
	if k <= 0 || n > maxStr || uint64(len(d.b)-k) < n {
		d.fail()
		return ""
	}
	s := string(d.b[k : k+int(n)])
	d.b = d.b[k+int(n):]
	return s
}

func (d *dec) boolean() bool {
	v := d.u8()
	if v > 1 {
		d.fail()
	}
	return v == 1
}

// count reads a list length, bounded by max and by what the remaining bytes can hold (min bytes per item).
func (d *dec) count(max, minItem int) int {
	if d.err != nil {
		return 0
	}
	n, k := binary.Uvarint(d.b)
	if k <= 0 || n > uint64(max) || n*uint64(minItem) > uint64(len(d.b)-k) {
		d.fail()
		return 0
	}
	d.b = d.b[k:]
	return int(n)
}

// end checks that everything was read.
func (d *dec) end() error {
	if d.err == nil && len(d.b) != 0 {
		d.err = errShort
	}
	return d.err
}

func (e enc) count(n int) enc { return binary.AppendUvarint(e, uint64(n)) }
