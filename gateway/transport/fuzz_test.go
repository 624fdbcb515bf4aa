package transport

import (
	"bytes"
	"errors"
	"testing"
)

const fuzzMax = 4096

type decoded struct {
	frames [][]byte
	quick  []bool
	err    error
}

// decodeSplit feeds data to a fresh codec in two pieces cut at cut.
func decodeSplit(newC func() Codec, data []byte, cut int) decoded {
	c := newC()
	var d decoded
	emit := func(f []byte, q bool) error {
		d.frames = append(d.frames, bytes.Clone(f))
		d.quick = append(d.quick, q)
		return nil
	}
	data = bytes.Clone(data)
	cut = min(max(cut, 0), len(data))
	if d.err = c.Decode(data[:cut], emit); d.err == nil {
		d.err = c.Decode(data[cut:], emit)
	}
	return d
}

// fuzzCodec checks, for any input: frames never exceed the limit; the cut point of the input does not change
// the frames or whether it fails; and re-encoding the frames decodes to the same frames.
func fuzzCodec(f *testing.F, newC func() Codec, seeds ...[]byte) {
	fuzzCodecRT(f, newC, true, seeds...)
}

// fuzzCodecRT is fuzzCodec with the re-encoding round trip optional (obfuscated2 encodes with the other
// direction's keys, so its output does not decode with a fresh server codec).
func fuzzCodecRT(f *testing.F, newC func() Codec, roundTrip bool, seeds ...[]byte) {
	for _, s := range seeds {
		f.Add(s, uint16(len(s)/2))
	}
	f.Fuzz(func(t *testing.T, data []byte, cut uint16) {
		a := decodeSplit(newC, data, len(data))
		b := decodeSplit(newC, data, int(cut))
		if (a.err == nil) != (b.err == nil) || len(a.frames) != len(b.frames) {
			t.Fatalf("split changes the outcome: %v/%d vs %v/%d", a.err, len(a.frames), b.err, len(b.frames))
		}
		for i := range a.frames {
			if !bytes.Equal(a.frames[i], b.frames[i]) || a.quick[i] != b.quick[i] {
				t.Fatalf("frame %d differs between splits", i)
			}
			if len(a.frames[i]) > fuzzMax {
				t.Fatalf("frame of %d bytes over the limit", len(a.frames[i]))
			}
		}
		if a.err != nil && !errors.Is(a.err, ErrFrameTooLarge) && !errors.Is(a.err, ErrBadLength) &&
			!errors.Is(a.err, ErrBadCRC) && !errors.Is(a.err, ErrBadSeqNo) {
			t.Fatalf("unexpected error kind: %v", a.err)
		}
		if !roundTrip {
			return
		}
		enc := newC()
		var stream []byte
		for _, fr := range a.frames {
			if len(fr)%4 != 0 {
				continue // abridged cannot carry it exactly; covered by the aligned frames
			}
			stream = enc.AppendFrame(stream, fr)
		}
		var aligned [][]byte
		for _, fr := range a.frames {
			if len(fr)%4 == 0 {
				aligned = append(aligned, fr)
			}
		}
		c := decodeSplit(newC, stream, int(cut))
		if c.err != nil || len(c.frames) != len(aligned) {
			t.Fatalf("round trip: %v, %d frames, want %d", c.err, len(c.frames), len(aligned))
		}
		for i := range aligned {
			if !bytes.Equal(c.frames[i][:len(aligned[i])], aligned[i]) {
				t.Fatalf("round trip frame %d differs", i)
			}
		}
	})
}

func FuzzAbridged(f *testing.F) {
	fuzzCodec(f, func() Codec { return NewAbridged(fuzzMax) },
		[]byte{2, 1, 2, 3, 4, 5, 6, 7, 8}, []byte{0x81, 1, 2, 3, 4}, []byte{0x7f, 1, 0, 0, 1, 2, 3, 4})
}

func FuzzIntermediate(f *testing.F) {
	fuzzCodec(f, func() Codec { return NewIntermediate(fuzzMax) },
		[]byte{8, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8}, []byte{4, 0, 0, 0x80, 1, 2, 3, 4})
}

func FuzzPadded(f *testing.F) {
	fuzzCodec(f, func() Codec { return NewPadded(fuzzMax, nil) },
		[]byte{11, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0}, []byte{4, 0, 0, 0x80, 1, 2, 3, 4})
}

func FuzzFull(f *testing.F) {
	good := NewFull(0).AppendFrame(nil, []byte("abcdefgh"))
	fuzzCodec(f, func() Codec { return NewFull(fuzzMax) }, good, append(bytes.Clone(good), good...))
}

// FuzzDetect checks that detection consumes at most 64 bytes, never more than it was given, and that the
// outcome does not depend on how the input is cut.
func FuzzDetect(f *testing.F) {
	for _, s := range [][]byte{
		{0xef, 1}, {0xee, 0xee, 0xee, 0xee}, {0xdd, 0xdd, 0xdd, 0xdd}, []byte("GET /apiws HTTP/1.1\r\n"),
		[]byte("POST / HTTP/1.1"), {0x10, 0, 0, 0, 0, 0, 0, 0}, bytes.Repeat([]byte{7}, 70),
	} {
		f.Add(s, uint8(len(s)/2), false)
	}
	f.Fuzz(func(t *testing.T, data []byte, cut uint8, onlyObf bool) {
		cfg := Config{MaxFrame: fuzzMax, AllowHTTP: !onlyObf, OnlyObfuscated: onlyObf}
		run := func(cut int) (string, int, error) {
			var d Detector
			p := bytes.Clone(data)
			cut = min(cut, len(p))
			res, n, err := d.Feed(p[:cut], cfg)
			if err == nil && res == nil {
				var m int
				res, m, err = d.Feed(p[cut:], cfg)
				n += m
			} else if n > cut {
				t.Fatalf("consumed %d of %d", n, cut)
			}
			if n > len(p) || n > ObfuscatedInitLen {
				t.Fatalf("consumed %d", n)
			}
			name := ""
			if res != nil {
				name = "http"
				if res.Codec != nil {
					name = res.Codec.Name()
				}
			}
			return name, n, err
		}
		n1, c1, e1 := run(len(data))
		n2, c2, e2 := run(int(cut))
		if n1 != n2 || (e1 == nil) != (e2 == nil) || (e1 == nil && c1 != c2) {
			t.Fatalf("split changes detection: %q/%d/%v vs %q/%d/%v", n1, c1, e1, n2, c2, e2)
		}
		if onlyObf && n1 != "" && !bytes.HasSuffix([]byte(n1), []byte("+obfuscated")) {
			t.Fatalf("plain %q detected where only obfuscated2 is allowed", n1)
		}
	})
}

// FuzzWebSocket checks the frame reader: data and controls do not depend on the cut, control payloads are
// at most 125 bytes, and nothing panics.
func FuzzWebSocket(f *testing.F) {
	f.Add([]byte{0x82, 0x82, 1, 2, 3, 4, 'a' ^ 1, 'b' ^ 2}, uint16(3))
	f.Add([]byte{0x02, 0x81, 0, 0, 0, 0, 'x', 0x89, 0x80, 0, 0, 0, 0, 0x80, 0x81, 0, 0, 0, 0, 'y'}, uint16(9))
	f.Add([]byte{0x88, 0x82, 0, 0, 0, 0, 3, 0xe8}, uint16(1))
	f.Fuzz(func(t *testing.T, data []byte, cut uint16) {
		run := func(cut int) (string, error) {
			var r WSReader
			var out bytes.Buffer
			p := bytes.Clone(data)
			cut = min(cut, len(p))
			dataFn := func(b []byte) error { out.WriteString("d"); out.Write(b); return nil }
			ctl := func(op uint8, b []byte) error {
				if len(b) > 125 {
					t.Fatalf("control payload %d", len(b))
				}
				out.WriteByte('c')
				out.WriteByte(op)
				out.Write(b)
				return nil
			}
			err := r.Decode(p[:cut], dataFn, ctl)
			if err == nil {
				err = r.Decode(p[cut:], dataFn, ctl)
			}
			return out.String(), err
		}
		a, ea := run(len(data))
		b, eb := run(int(cut))
		// Data may arrive in different chunks; compare with the chunk markers removed.
		strip := func(s string) string { return string(bytes.ReplaceAll([]byte(s), []byte("d"), nil)) }
		if (ea == nil) != (eb == nil) || (ea == nil && strip(a) != strip(b)) {
			t.Fatalf("split changes the outcome: %v vs %v", ea, eb)
		}
	})
}

// FuzzUpgrade checks the HTTP upgrade reader never keeps more than its cap and is split-independent.
func FuzzUpgrade(f *testing.F) {
	f.Add([]byte("GET /apiws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\nrest"), uint16(30))
	f.Fuzz(func(t *testing.T, data []byte, cut uint16) {
		run := func(cut int) ([]byte, int, error) {
			var u Upgrade
			cut = min(cut, len(data))
			resp, n, err := u.Feed(data[:cut])
			if err == nil && resp == nil {
				var m int
				resp, m, err = u.Feed(data[cut:])
				n += m
			}
			if len(u.head) > maxRequestHead {
				t.Fatalf("head grew to %d", len(u.head))
			}
			return resp, n, err
		}
		r1, n1, e1 := run(len(data))
		r2, n2, e2 := run(int(cut))
		if (e1 == nil) != (e2 == nil) || (r1 == nil) != (r2 == nil) || (r1 != nil && n1 != n2) {
			t.Fatalf("split changes the outcome: %v %d vs %v %d", e1, n1, e2, n2)
		}
		_ = r2
	})
}

// fuzzInit is a fixed obfuscated2 init whose decrypted tag is intermediate.
var fuzzInit = func() []byte {
	init := bytes.Repeat([]byte{0x42}, ObfuscatedInitLen)
	dec, _ := newCTR(init[8:40], init[40:56])
	var ks [ObfuscatedInitLen]byte
	dec.XORKeyStream(ks[:], ks[:])
	for i := 56; i < 60; i++ {
		init[i] = 0xee ^ ks[i]
	}
	return init
}()

// FuzzObfuscated: the CTR stream must decrypt exactly the bytes consumed, so the cut point cannot matter.
func FuzzObfuscated(f *testing.F) {
	newC := func() Codec {
		o, err := AcceptObfuscated(fuzzInit, fuzzMax, nil)
		if err != nil {
			panic(err)
		}
		return o
	}
	plain := NewIntermediate(0).AppendFrame(nil, []byte("abcdefgh"))
	enc, _ := newCTR(fuzzInit[8:40], fuzzInit[40:56])
	var skip [ObfuscatedInitLen]byte
	enc.XORKeyStream(skip[:], skip[:])
	wire := bytes.Clone(plain)
	enc.XORKeyStream(wire, wire)
	fuzzCodecRT(f, newC, false, wire)
}
