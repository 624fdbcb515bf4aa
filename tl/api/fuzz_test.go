package api

import (
	"bytes"
	"testing"

	"github.com/raftgram/raftgram/tl"
)

// roundTrip is the fuzz property: whatever decodes re-encodes to the same bytes (or, when the decoder
// reports a lossy decode such as an unpacked gzip_packed, to a fixed point), and printing never panics.
func roundTrip(t *testing.T, reg *tl.Registry, in []byte) {
	d := tl.NewDecoder(in, reg)
	o := d.Object()
	if d.End() != nil {
		return
	}
	out, err := tl.Marshal(o)
	if err != nil {
		t.Fatalf("re-encode of decoded %s: %v", tl.Name(o), err)
	}
	_ = o.(interface{ String() string }).String()
	_ = CheckLayer(o, L170)
	if !d.Lossy() {
		if !bytes.Equal(out, in) {
			t.Fatalf("round trip differs for %s\n in  % x\n out % x", tl.Name(o), in, out)
		}
		return
	}
	o2, err := tl.DecodeObject(out, reg)
	if err != nil {
		t.Fatalf("re-decode of lossy %s: %v", tl.Name(o), err)
	}
	out2, err := tl.Marshal(o2)
	if err != nil || !bytes.Equal(out, out2) {
		t.Fatalf("lossy %s is not a fixed point: %v", tl.Name(o), err)
	}
}

func FuzzAPIDecode(f *testing.F) {
	for _, o := range []tl.Object{sampleMessage(), &InvokeWithLayerRequest{Layer: 227, Query: &HelpGetConfigRequest{}},
		&UserEmpty{ID: 5}, &MessagesSendMessageRequest{Peer: &InputPeerSelf{}, Message: "x", RandomID: 1}} {
		b, err := tl.Marshal(o)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(oldSendMessage170())
	f.Add(oldImportContacts170())
	f.Fuzz(func(t *testing.T, in []byte) { roundTrip(t, reg, in) })
}

// FuzzGzipPacked feeds arbitrary data as the payload of a gzip_packed: it must either fail or unpack to an
// object whose encoding equals the unpacked bytes.
func FuzzGzipPacked(f *testing.F) {
	for _, o := range []tl.Object{sampleMessage(), &UserEmpty{ID: 5}} {
		gz, err := tl.Gzip(o)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(gz.Data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := tl.Marshal(&tl.GzipPacked{Data: data})
		if err != nil {
			t.Fatal(err)
		}
		// A small budget keeps each run fast; the budget itself is tested in package tl.
		const budget = 64 << 10
		d := tl.NewDecoder(in, reg)
		d.SetLimits(0, budget)
		o := d.Object()
		if d.End() != nil {
			return
		}
		plain, err := tl.Gunzip(data, budget)
		if err != nil {
			t.Fatalf("decoded but gunzip fails: %v", err)
		}
		out, err := tl.Marshal(o)
		if err != nil || !bytes.Equal(out, plain) {
			t.Fatalf("unpacked %s re-encodes differently (%v)", tl.Name(o), err)
		}
	})
}
