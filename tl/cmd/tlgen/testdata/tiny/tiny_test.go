package tiny

// Run by tl/cmd/tlgen's TestGolden (go test ./testdata/tiny): the generated code behaves, not only compiles.

import (
	"bytes"
	"errors"
	"testing"

	"github.com/raftgram/raftgram/tl"
)

var reg = tl.NewRegistry(New).WithLegacy(IsLegacy)

func full() *Item {
	return &Item{Pinned: true, Title: tl.Ptr("t"), Peer: &PeerChat{ChatID: 9}, Tags: []string{}, Views: tl.Ptr(int32(1)),
		Forwards: tl.Ptr(int32(2)), Live: true, Video: &Point{X: 1, Y: 2}, Hidden: true, Nonce: tl.Int128{1}, Data: []byte{1, 2, 3},
		Ok: true, At: &Point{X: 3, Y: 4}, Pts: []*Point{{X: 5, Y: 6}}}
}

func TestItemRoundTrip(t *testing.T) {
	for _, it := range []*Item{full(), {At: &Point{}, Pts: []*Point{}}} {
		b, err := tl.Marshal(it)
		if err != nil {
			t.Fatal(err)
		}
		o, err := tl.DecodeObject(b, reg)
		if err != nil {
			t.Fatal(err)
		}
		again, _ := tl.Marshal(o)
		if !bytes.Equal(again, b) {
			t.Fatalf("round trip differs: %v", o)
		}
	}
	it := full()
	it.Video = nil // live shares flags.5 with video: bit set without the value
	if _, err := tl.Marshal(it); !errors.Is(err, tl.ErrPartialFlagGroup) {
		t.Fatalf("shared bit: %v", err)
	}
}

func TestOldForms(t *testing.T) {
	// item#40404040 (layer 1): flags (pinned, title, note), title, note (dropped), old_count (dropped), nonce,
	// data, ok, at (bare point), pts (bare vector of bare points).
	var e tl.Encoder
	e.PutID(0x40404040)
	e.PutUint32(1<<0 | 1<<1 | 1<<6)
	e.PutString("old")
	e.PutString("dropped note")
	e.PutInt(77)
	e.PutInt128(tl.Int128{5})
	e.PutBytes([]byte{9})
	e.PutBool(false)
	e.PutInt(1)
	e.PutInt(2)
	e.PutInt(0)
	d := tl.NewDecoder(e.Bytes(), reg)
	o := d.Object()
	if err := d.End(); err != nil {
		t.Fatal(err)
	}
	it := o.(*Item)
	if !it.Pinned || *it.Title != "old" || it.Nonce != (tl.Int128{5}) || it.At.Y != 2 || it.Pts == nil || it.Views != nil || !d.Lossy() {
		t.Fatalf("decoded %v", it)
	}
	if tl.WireID(it) != 0x40404040 || it.TypeID() != ItemTypeID {
		t.Fatalf("wire id %08x", tl.WireID(it))
	}
	// peerChat#31313131 (same layout, other id) inside a box's item.
	e.Reset()
	e.PutID(0x31313131)
	e.PutLong(4)
	p, err := tl.DecodeObject(e.Bytes(), reg)
	if err != nil || p.(*PeerChat).ChatID != 4 {
		t.Fatalf("%v %v", p, err)
	}
	// getItems#60606060 returned Vector<Point> at layer 1: not mechanical, stays unknown.
	if New(0x60606060) != nil {
		t.Fatal("old getItems registered")
	}
}

func TestResults(t *testing.T) {
	v := &ItemVector{Elems: []*Item{{At: &Point{}, Pts: []*Point{}}}}
	b, _ := tl.Marshal(v)
	r, err := (&GetItemsRequest{}).DecodeResult(tl.NewDecoder(b, reg))
	if err != nil || len(r.(*ItemVector).Elems) != 1 {
		t.Fatalf("%v %v", r, err)
	}
	b, _ = tl.Marshal(&InvokeWrappedRequest{Layer: 2, Query: &GetIDsRequest{}})
	w, err := tl.DecodeObject(b, reg)
	if err != nil {
		t.Fatal(err)
	}
	ids, _ := tl.Marshal(&tl.IntVector{Elems: []int32{1, 2}})
	r, err = w.(tl.Method).DecodeResult(tl.NewDecoder(ids, reg))
	if err != nil || len(r.(*tl.IntVector).Elems) != 2 {
		t.Fatalf("%v %v", r, err)
	}
}

// TestEncodeLayer: the projection writes the old form (flags rebuilt, fields it lacks dropped, the policy's
// old_count), substitutes and omits vector elements, and is transactional.
func TestEncodeLayer(t *testing.T) {
	it := full()
	it.Peers = []PeerClass{&PeerUser{UserID: 1}, &PeerNew{ID: 7}, &PeerGone{}}
	var e tl.Encoder
	if err := EncodeLayer(&e, it, L2); err != nil {
		t.Fatal(err)
	}
	canon, _ := tl.Marshal(it)
	if !bytes.Equal(e.Bytes(), canon) {
		t.Fatal("canonical layer must write the canonical bytes")
	}
	e.Reset()
	e.PutInt(99) // something before: kept
	if err := EncodeLayer(&e, it, L1); err != nil {
		t.Fatal(err)
	}
	d := tl.NewDecoder(e.Bytes()[4:], reg)
	back := d.Object().(*Item)
	if err := d.End(); err != nil {
		t.Fatal(err)
	}
	if tl.WireID(back) != 0x40404040 || !back.Pinned || *back.Title != "t" || back.Views != nil || back.Hidden ||
		back.Video.Y != 2 || len(back.Peers) != 2 || back.Peers[1].(*PeerChat).ChatID != 7 || back.Peer.(*PeerChat).ChatID != 9 {
		t.Fatalf("decoded %v", back)
	}
	// old_count (dropped on decode) was written from the policy, before nonce and data.
	if !bytes.Contains(e.Bytes(), []byte{1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3}) {
		t.Fatal("old_count not written before nonce")
	}
	// An omitted constructor outside a vector cannot be projected: nothing is written, the error is cleared.
	n := e.Len()
	it.Peer = &PeerGone{}
	var nl *NotInLayerError
	if err := EncodeLayer(&e, it, L1); !errors.As(err, &nl) || nl.Name != "peerGone" || nl.Layer != 1 {
		t.Fatalf("got %v", err)
	}
	if e.Len() != n || e.Err() != nil {
		t.Fatal("a failed projection left bytes or an error behind")
	}
	if err := EncodeLayer(&e, &PeerGone{}, L1); !errors.As(err, &nl) {
		t.Fatalf("top-level omitted: %v", err)
	}
}
