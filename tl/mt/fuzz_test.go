package mt_test

import (
	"bytes"
	"testing"

	"github.com/raftgram/raftgram/tl"
	"github.com/raftgram/raftgram/tl/api"
	"github.com/raftgram/raftgram/tl/mt"
)

var reg = tl.NewRegistry(mt.New, api.New).WithLegacy(api.IsLegacy)

func FuzzMTDecode(f *testing.F) {
	for _, o := range samples() {
		b, err := tl.Marshal(o)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
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
		if !d.Lossy() && !bytes.Equal(out, in) {
			t.Fatalf("round trip differs for %s\n in  % x\n out % x", tl.Name(o), in, out)
		}
	})
}
