package api

import (
	"bytes"
	"compress/zlib"
	"flag"
	"fmt"
	"os"
	"path/filepath"
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
		// The same object as a zlib stream (what mtcute sends).
		plain, err := tl.Marshal(o)
		if err != nil {
			f.Fatal(err)
		}
		var z bytes.Buffer
		zw := zlib.NewWriter(&z)
		_, _ = zw.Write(plain)
		_ = zw.Close()
		f.Add(z.Bytes())
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

var writeLayerSeeds = flag.Bool("write-layer-seeds", false, "rewrite testdata/fuzz/FuzzEncodeLayer from the messenger samples")

// TestWriteLayerSeeds writes the messenger samples (canonical bytes) as FuzzEncodeLayer's seed corpus.
func TestWriteLayerSeeds(t *testing.T) {
	if !*writeLayerSeeds {
		t.Skip("pass -write-layer-seeds to regenerate")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzEncodeLayer")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, o := range messengerSamples() {
		b, err := tl.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("sample%02d", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// FuzzEncodeLayer projects whatever decodes (hostile input, old-layer forms included) for every layer: it
// either fails with an error and writes nothing, or writes bytes the layer's own schema reads back whole.
func FuzzEncodeLayer(f *testing.F) {
	for _, o := range append(messengerSamples(), sampleMessage()) {
		b, err := tl.Marshal(o)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(oldSendMessage170())
	f.Fuzz(func(t *testing.T, in []byte) {
		o, err := tl.DecodeObject(in, reg)
		if err != nil {
			return
		}
		_, isMethod := o.(tl.Method)
		for l := range Layer(NumLayers) {
			e := tl.NewEncoder(nil)
			if err := EncodeLayer(e, o, l); err != nil {
				if e.Len() != 0 || e.Err() != nil {
					t.Fatalf("failed projection of %s left %d bytes", tl.Name(o), e.Len())
				}
				continue
			}
			if isMethod {
				continue // requests are never sent to a client; the oracle reads constructors only
			}
			// Not strict: a decoded value may carry flag bits its schema does not define, written back at the
			// canonical id.
			if _, _, err := readLayerMode(t, e.Bytes(), o, LayerNumbers[l], false); err != nil {
				t.Fatalf("%s at %d: %v", tl.Name(o), LayerNumbers[l], err)
			}
		}
	})
}
