package tl

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"fmt"
	"io"
)

// GzipPacked is gzip_packed#3072cfa1 packed_data:bytes = Object: Data holds the gzip stream (a zlib stream is
// accepted when decoding, as Telegram does). Decoder.Object
// unpacks it transparently; this type exists for encoding (see Gzip) and for callers that want the raw form.
type GzipPacked struct {
	Data []byte
}

// TypeID implements Object.
func (*GzipPacked) TypeID() uint32 { return GzipPackedID }

// TypeName implements Object.
func (*GzipPacked) TypeName() string { return "gzip_packed" }

// Encode implements Object.
func (g *GzipPacked) Encode(e *Encoder) error {
	if g == nil {
		return e.Fail(ErrNilObject)
	}
	e.PutBytes(g.Data)
	return e.Err()
}

// Decode implements Object (the packed bytes are kept, not unpacked).
func (g *GzipPacked) Decode(d *Decoder) error {
	g.Data = d.Bytes()
	return d.Err()
}

// String implements fmt.Stringer.
func (g *GzipPacked) String() string { return fmt.Sprintf("gzip_packed{%d bytes}", len(g.Data)) }

// Gzip encodes o boxed and returns it wrapped in gzip_packed.
func Gzip(o Object) (*GzipPacked, error) {
	plain, err := Marshal(o)
	if err != nil {
		return nil, err
	}
	data, err := gzipBytes(plain)
	if err != nil {
		return nil, err
	}
	return &GzipPacked{Data: data}, nil
}

// GzipRaw wraps already-encoded boxed bytes (e.g. a value projected for an older layer) in gzip_packed.
func GzipRaw(plain []byte) (*GzipPacked, error) {
	data, err := gzipBytes(plain)
	if err != nil {
		return nil, err
	}
	return &GzipPacked{Data: data}, nil
}

// Gunzip unpacks a gzip_packed payload, failing with ErrGzipTooLarge past limit bytes of output.
func Gunzip(packed []byte, limit int) ([]byte, error) { return gunzip(packed, limit) }

// isZlib reports a zlib (RFC 1950) header: deflate, a valid check value. Telegram accepts zlib streams in
// gzip_packed besides gzip ones, and clients send them (mtcute packs large requests with zlib's deflate).
func isZlib(b []byte) bool {
	return len(b) >= 2 && b[0]&0x0f == 8 && b[0]>>4 <= 7 && (uint16(b[0])<<8|uint16(b[1]))%31 == 0
}

func gunzip(packed []byte, limit int) ([]byte, error) {
	var zr io.ReadCloser
	if isZlib(packed) {
		r, err := zlib.NewReader(bytes.NewReader(packed))
		if err != nil {
			return nil, fmt.Errorf("tl: gzip_packed: %w", err)
		}
		zr = r
	} else {
		r, err := gzip.NewReader(bytes.NewReader(packed))
		if err != nil {
			return nil, fmt.Errorf("tl: gzip_packed: %w", err)
		}
		r.Multistream(false)
		zr = r
	}
	if limit < 0 {
		limit = 0
	}
	// Grow the output as data actually arrives: a hostile header cannot make us allocate the limit up front.
	var out bytes.Buffer
	n, err := io.Copy(&out, io.LimitReader(zr, int64(limit)+1))
	if err != nil {
		return nil, fmt.Errorf("tl: gzip_packed: %w", err)
	}
	if n > int64(limit) {
		return nil, ErrGzipTooLarge
	}
	if err := zr.Close(); err != nil {
		return nil, fmt.Errorf("tl: gzip_packed: %w", err)
	}
	return out.Bytes(), nil
}

func gzipBytes(plain []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err != nil {
		return nil, fmt.Errorf("tl: gzip: %w", err)
	}
	if _, err := zw.Write(plain); err != nil {
		return nil, fmt.Errorf("tl: gzip: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("tl: gzip: %w", err)
	}
	return buf.Bytes(), nil
}
