package upload

import (
	"bytes"
	"testing"

	"github.com/raftgram/raftgram/node/access"
	"github.com/raftgram/raftgram/tl"
	"github.com/raftgram/raftgram/tl/api"
)

// A document's location opens only with its own access hash and an untouched reference.
func TestFileReferenceIsSealed(t *testing.T) {
	h := &Domain{access: access.New([]byte("secret"))}
	l := locator{Owner: 5, File: 6, Parts: 3, PartSize: 1024, Size: 2049}
	ref := h.fileReference(42, l, []byte("meta"))
	if got, meta, err := h.openReference(42, h.docAccessHash(42), ref); err != nil || got != l || string(meta) != "meta" {
		t.Fatalf("open: %+v %q %v", got, meta, err)
	}
	if _, _, err := h.openReference(42, h.docAccessHash(42)+1, ref); err != errFileIDInvalid {
		t.Fatalf("wrong access hash: %v", err)
	}
	if _, _, err := h.openReference(43, h.docAccessHash(43), ref); err != errFileReference {
		t.Fatalf("another document's reference: %v", err)
	}
	for i := range ref {
		bad := bytes.Clone(ref)
		bad[i] ^= 1
		if _, _, err := h.openReference(42, h.docAccessHash(42), bad); err != errFileReference {
			t.Fatalf("byte %d changed: %v", i, err)
		}
	}
	for _, n := range []int{0, locatorLen + tagLen - 1, len(ref) - 1} {
		if _, _, err := h.openReference(42, h.docAccessHash(42), ref[:n]); err != errFileReference {
			t.Fatalf("cut to %d: %v", n, err)
		}
	}
	other := &Domain{access: access.New([]byte("other cluster"))}
	if _, _, err := other.openReference(42, h.docAccessHash(42), ref); err == nil {
		t.Fatal("another cluster's secret opened the reference")
	}
	for _, bad := range []locator{{Parts: 0, PartSize: 1, Size: 1}, {Parts: 2, PartSize: 1024, Size: 1024},
		{Parts: 1, PartSize: 1024, Size: 1025}, {Parts: 1, PartSize: 1 << 20, Size: 1}} {
		if _, ok := decodeLocator(bad.encode()); ok {
			t.Fatalf("locator %+v accepted", bad)
		}
	}
}

// The answers of messages.uploadMedia (a document, a photo) reach every layer the project serves.
func TestMediaEncodesAtEveryLayer(t *testing.T) {
	h := &Domain{access: access.New([]byte("secret"))}
	doc := &api.Document{ID: 1, AccessHash: h.docAccessHash(1), FileReference: h.fileReference(1,
		locator{Owner: 1, File: 2, Parts: 1, PartSize: 10, Size: 10}, nil), Date: 1, MimeType: "a/b", Size: 10, DCID: 1,
		Attributes: []api.DocumentAttributeClass{&api.DocumentAttributeFilename{FileName: "x"}}}
	photo := &api.Photo{ID: 2, AccessHash: h.docAccessHash(2), FileReference: doc.FileReference, Date: 1, DCID: 1,
		Sizes: []api.PhotoSizeClass{&api.PhotoSize{Type: "x", W: 640, H: 480, Size: 10}}}
	for _, l := range []api.Layer{api.L223, api.L198, api.L170} {
		for _, m := range []tl.Object{&api.MessageMediaDocument{Document: doc}, &api.MessageMediaPhoto{Photo: photo}} {
			var e tl.Encoder
			if err := api.EncodeLayer(&e, m, l); err != nil {
				t.Fatalf("layer %v: %v", l, err)
			}
		}
	}
}
