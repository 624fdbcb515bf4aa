package api

import (
	"fmt"
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

// NotInLayerError reports a constructor whose layer-227 encoding a client at Layer would not understand: the
// name is absent from that layer or has another id there (and so another layout).
type NotInLayerError struct {
	Name  string
	Layer int
}

func (e *NotInLayerError) Error() string {
	return fmt.Sprintf("api: %s is encoded differently at layer %d", e.Name, e.Layer)
}

// CheckLayer reports whether the canonical (layer 227) encoding of o is also valid at layer l: every
// constructor in it must exist at l with the same id (one id always has one layout; at most the set of
// `true` bits differs, which a client ignores). It returns a *NotInLayerError naming the first that does
// not. Until projection exists (tl/DESIGN.md) the gateway can answer an older-layer client only when this
// returns nil. Objects that are not API constructors (mt service types, vectors, tl.Raw) do not depend on the
// layer.
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
