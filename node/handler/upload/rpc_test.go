package upload

import (
	"bytes"
	"testing"

	"github.com/raftgram/raftgram/files"
)

func TestShardListRoundTrip(t *testing.T) {
	for _, list := range [][][]byte{nil, {{}}, {[]byte("a"), []byte("bc"), {}}} {
		got, err := decodeShardList(encodeShardList(list))
		if err != nil || len(got) != len(list) {
			t.Fatalf("%q: %q %v", list, got, err)
		}
		for i := range list {
			if !bytes.Equal(got[i], list[i]) {
				t.Fatalf("%q: %q", list, got)
			}
		}
	}
	b := encodeShardList([][]byte{[]byte("abc")})
	for n := range len(b) {
		if _, err := decodeShardList(b[:n]); err == nil {
			t.Fatalf("cut to %d bytes: no error", n)
		}
	}
	if _, err := decodeShardList(append(b, 0)); err == nil {
		t.Fatal("trailing byte: no error")
	}
	k := files.Key{Owner: -1, File: 2, Part: 3}
	if got, err := readKey(appendKey(nil, k)); err != nil || got != k {
		t.Fatalf("key: %v %v", got, err)
	}
}

// FuzzDecodeShardList: a peer's answer never panics or allocates from a claimed count, and what decodes
// re-encodes to the same bytes.
func FuzzDecodeShardList(f *testing.F) {
	f.Add(encodeShardList([][]byte{[]byte("abc"), {}}))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		list, err := decodeShardList(b)
		if err != nil {
			return
		}
		if !bytes.Equal(encodeShardList(list), b) {
			t.Fatal("re-encoding differs")
		}
	})
}
