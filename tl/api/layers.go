package api

import (
	"sort"

	"github.com/raftgram/raftgram/tl"
)

// LayerOf returns the dense Layer for a TL layer number.
func LayerOf(number int) (Layer, bool) {
	for l, n := range LayerNumbers {
		if n == number {
			return Layer(l), true
		}
	}
	return 0, false
}

// LayerIDs returns the wire id of the TL name (e.g. "message", "messages.sendMessage") in every layer,
// indexed by Layer; 0 means the name does not exist in that layer.
func LayerIDs(name string) ([NumLayers]uint32, bool) {
	i := sort.Search(len(layerRows), func(i int) bool { return layerRows[i].Name >= name })
	if i < len(layerRows) && layerRows[i].Name == name {
		return layerRows[i].IDs, true
	}
	return [NumLayers]uint32{}, false
}

// LayerRows returns every TL name of every layer with its ids, sorted by name. The slice is shared: do not
// modify it.
func LayerRows() []LayerRow { return layerRows[:] }

// CheckLayer reports whether the canonical (layer 227) encoding of o is also valid at layer l: every
// constructor in it must exist at l with the same id (one id always has one layout; at most the set of
// `true` bits differs, which a client ignores). It returns a *NotInLayerError naming the first that does
// not. The gateway encodes with EncodeLayer, which projects such values; CheckLayer tells where the canonical
// bytes could be reused as they are. Objects that are not API constructors (mt service types, vectors,
// tl.Raw) do not depend on the layer.
func CheckLayer(o tl.Object, l Layer) error {
	if l == L227 {
		return nil
	}
	if int(l) >= NumLayers {
		return &NotInLayerError{Name: tl.Name(o), Layer: -1}
	}
	return tl.Walk(o, func(x tl.Object) error {
		ids, ok := LayerIDs(x.TypeName())
		if !ok || ids[L227] != x.TypeID() {
			return nil // not an API constructor of this package
		}
		if ids[l] != ids[L227] {
			return &NotInLayerError{Name: x.TypeName(), Layer: LayerNumbers[l]}
		}
		return nil
	})
}

// LayerFor returns the layer whose forms a client announcing TL layer number n is answered in: 0 (nothing
// announced) and n at or above the canonical layer get the canonical forms; a served layer exactly; any other
// n the newest served layer below it (the oldest for n below every served layer). A client between two served
// layers may still meet an id its own schema lacks: only the served layers are tested.
func LayerFor(n int) Layer {
	if n == 0 || n >= LayerNumbers[0] {
		return 0
	}
	best := Layer(NumLayers - 1)
	for l := 1; l < NumLayers; l++ {
		if LayerNumbers[l] <= n && LayerNumbers[l] > LayerNumbers[best] {
			best = Layer(l)
		}
	}
	return best
}
