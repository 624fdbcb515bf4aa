package fsm

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func sampleCommands() []Command {
	return []Command{
		{Type: TypeKVPut, Time: 1700000000123, Payload: EncodeKVPut([]byte("k"), []byte("v"))},
		{Type: 64, RequestID: RequestID{1, 2, 3}, Time: -5, Payload: nil},
		{Type: 1<<32 - 1, RequestID: RequestID{15: 0xff}, Time: 0, Payload: bytes.Repeat([]byte{7}, 300)},
	}
}

func TestEnvelopeRoundTrip(t *testing.T) {
	cmds := sampleCommands()
	data, err := EncodeBatch(cmds)
	if err != nil {
		t.Fatal(err)
	}
	if data[0] != EnvelopeVersion {
		t.Fatalf("first byte %d is not the version", data[0])
	}
	got, err := DecodeBatch(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, cmds) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, cmds)
	}
	one, err := DecodeBatch(EncodeCommand(cmds[1]))
	if err != nil || len(one) != 1 || !reflect.DeepEqual(one[0], cmds[1]) {
		t.Fatalf("single: %v %+v", err, one)
	}
	if _, err := EncodeBatch(nil); err == nil {
		t.Fatal("empty batch encoded")
	}
}

func TestEnvelopeRejects(t *testing.T) {
	good := EncodeCommand(Command{Type: 1, RequestID: RequestID{9}, Time: 5, Payload: []byte("abc")})
	cases := map[string]struct {
		data []byte
		want error
	}{
		"empty":          {nil, ErrMalformed},
		"version 0":      {append([]byte{0}, good[1:]...), ErrUnknownVersion},
		"version 2":      {append([]byte{2}, good[1:]...), ErrUnknownVersion},
		"zero count":     {[]byte{1, 0}, ErrMalformed},
		"huge count":     {[]byte{1, 0xff, 0xff, 0xff, 0xff, 0x0f, 1, 0, 0, 0}, ErrMalformed},
		"truncated":      {good[:len(good)-1], ErrMalformed},
		"trailing":       {append(append([]byte{}, good...), 0), ErrMalformed},
		"unknown flag":   {[]byte{1, 1, 1, 2, 0, 0}, ErrMalformed},
		"zero id flag":   {append([]byte{1, 1, 1, 1}, make([]byte, 18)...), ErrMalformed},
		"payload length": {[]byte{1, 1, 1, 0, 0, 5, 1}, ErrMalformed},
	}
	for name, c := range cases {
		if _, err := DecodeBatch(c.data); !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", name, err, c.want)
		}
	}
}

// FuzzDecodeBatch: hostile bytes never panic, and whatever decodes re-encodes to something that decodes to the
// same commands (varints may be non-minimal in the input, so bytes are compared after one re-encoding).
func FuzzDecodeBatch(f *testing.F) {
	data, _ := EncodeBatch(sampleCommands())
	f.Add(data)
	f.Add(EncodeCommand(Command{Type: TypeKVGet, Payload: []byte("x")}))
	f.Add([]byte{2, 1, 1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		cmds, err := DecodeBatch(data)
		if err != nil {
			return
		}
		if len(cmds) > len(data)/minCommandSize {
			t.Fatalf("%d commands from %d bytes", len(cmds), len(data))
		}
		enc, err := EncodeBatch(cmds)
		if err != nil {
			t.Fatal(err)
		}
		again, err := DecodeBatch(enc)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(normalize(cmds), normalize(again)) {
			t.Fatalf("decode/encode/decode differs")
		}
		enc2, _ := EncodeBatch(again)
		if !bytes.Equal(enc, enc2) {
			t.Fatal("encoding not canonical")
		}
	})
}

func normalize(cmds []Command) []Command {
	out := append([]Command(nil), cmds...)
	for i := range out {
		if len(out[i].Payload) == 0 {
			out[i].Payload = nil
		}
	}
	return out
}
