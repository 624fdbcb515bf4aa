package main

import (
	"bytes"
	"fmt"
	"go/format"
	"sort"
	"strings"
)

// IR is the multi-layer view of the API schema: one entry per TL name, holding that name's combinator in each
// layer (index 0 is the canonical layer; nil = absent in that layer). This is the input the later
// projection (encode a canonical value for an older layer) is generated from; see tl/DESIGN.md.
type IR struct {
	Layers []int // canonical first
	Names  []*NameIR
	schema map[int]*Schema
	pol    *Policy // set by Legacy
}

// NameIR is one TL name across layers.
type NameIR struct {
	Name     string
	Function bool
	Variants []*Combinator // indexed like IR.Layers
}

// BuildIR indexes every layer's combinators by name.
func BuildIR(schemas map[int]*Schema, canonical int, old []int) *IR {
	ir := &IR{Layers: append([]int{canonical}, old...), schema: schemas}
	by := map[string]*NameIR{}
	for li, l := range ir.Layers {
		s := schemas[l]
		for _, c := range append(append([]*Combinator{}, s.Types...), s.Functions...) {
			n := by[c.Name]
			if n == nil {
				n = &NameIR{Name: c.Name, Function: c.Function, Variants: make([]*Combinator, len(ir.Layers))}
				by[c.Name] = n
				ir.Names = append(ir.Names, n)
			}
			n.Variants[li] = c
		}
	}
	sort.Slice(ir.Names, func(i, j int) bool { return ir.Names[i].Name < ir.Names[j].Name })
	return ir
}

// mechanical reports whether the old form v of canonical c can be decoded into c's struct with no policy:
// same result type; every old field either exists in c with the same type (a value that became optional is
// fine) or is dropped (read and discarded; its type must exist canonically); every canonical field the old
// form lacks is optional. A required canonical field the old form lacks or may omit, a changed field type, or
// a changed result needs a reviewed policy (later issue).
func mechanical(v, c *Combinator, m *Model) bool {
	return v.Result == c.Result && mechanicalFields(v, c, m)
}

// mechanicalFields is mechanical without the result check: a method whose result changed decodes into the
// canonical request when the policy projects its result (action `result`).
func mechanicalFields(v, c *Combinator, m *Model) bool {
	if len(v.Generic) != len(c.Generic) {
		return false
	}
	fc, fv := fieldMap(c), fieldMap(v)
	for _, p := range v.Params {
		if p.IsFlags() {
			continue
		}
		q, ok := fc[p.Name]
		if !ok {
			if p.IsTrue() {
				continue
			}
			if _, err := m.goType(p.Type, c); err != nil {
				return false
			}
			continue
		}
		if q.IsFlags() || q.Type != p.Type || q.IsTrue() != p.IsTrue() {
			return false
		}
		if p.Optional() && !q.Optional() {
			return false
		}
	}
	for _, q := range c.Params {
		if q.IsFlags() {
			continue
		}
		if _, ok := fv[q.Name]; !ok && !q.Optional() {
			return false
		}
	}
	return true
}

// decodes reports whether old form v (layer index li) of canonical c decodes into c's struct: mechanically, or
// a method whose changed result the policy projects.
func (ir *IR) decodes(v, c *Combinator, m *Model, li int) bool {
	if mechanical(v, c, m) {
		return true
	}
	return v.Function && v.Result != c.Result && mechanicalFields(v, c, m) &&
		ir.pol.find("result", ir.Layers[li], c.Name, "") != nil
}

// Legacy returns, per canonical combinator of m, the older forms that decode into it (see decodes; pol may be
// nil).
func (ir *IR) Legacy(m *Model, pol *Policy) map[*Combinator][]LegacyID {
	ir.pol = pol
	out := map[*Combinator][]LegacyID{}
	for _, n := range ir.Names {
		c := n.Variants[0]
		if c == nil {
			continue
		}
		byID := map[uint32]*LegacyID{}
		var ids []uint32
		for li := 1; li < len(ir.Layers); li++ {
			v := n.Variants[li]
			if v == nil || v.ID == c.ID || !ir.decodes(v, c, m, li) {
				continue
			}
			l := byID[v.ID]
			if l == nil {
				l = &LegacyID{ID: v.ID, C: v}
				byID[v.ID] = l
				ids = append(ids, v.ID)
			}
			l.Layers = append(l.Layers, ir.Layers[li])
		}
		sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
		for _, id := range ids {
			out[c] = append(out[c], *byID[id])
		}
	}
	return out
}

// EmitLayers writes api/layers_gen.go: the dense layer enum and the per-name id table.
func (ir *IR) EmitLayers(m *Model) (File, error) {
	var w writer
	w.p("// Layer is a dense index of the API layers raftgram serves, canonical first.")
	w.p("type Layer uint8")
	w.p("")
	w.p("// The layers, in LayerNumbers order.")
	w.p("const (")
	for i, l := range ir.Layers {
		if i == 0 {
			w.p("\tL%d Layer = iota", l)
		} else {
			w.p("\tL%d", l)
		}
	}
	w.p(")")
	w.p("")
	w.p("// NumLayers is the number of layers in the enum.")
	w.p("const NumLayers = %d", len(ir.Layers))
	w.p("")
	var nums []string
	for _, l := range ir.Layers {
		nums = append(nums, fmt.Sprint(l))
	}
	w.p("// LayerNumbers maps a Layer to its TL layer number.")
	w.p("var LayerNumbers = [NumLayers]int{%s}", strings.Join(nums, ", "))
	w.p("")
	w.p("// LayerRow is one TL name's wire id in each layer (0 = absent from that layer).")
	w.p("type LayerRow struct {")
	w.p("\tName string")
	w.p("\tIDs  [NumLayers]uint32")
	w.p("}")
	w.p("")
	w.p("// layerRows is sorted by Name.")
	w.p("var layerRows = [...]LayerRow{")
	for _, n := range ir.Names {
		var ids []string
		for _, v := range n.Variants {
			if v == nil {
				ids = append(ids, "0")
			} else {
				ids = append(ids, fmt.Sprintf("0x%08x", v.ID))
			}
		}
		w.p("\t{%q, [NumLayers]uint32{%s}},", n.Name, strings.Join(ids, ", "))
	}
	w.p("}")
	src := append([]byte(header+"package "+m.Pkg+"\n\n"), w.Bytes()...)
	out, err := format.Source(src)
	if err != nil {
		return File{}, fmt.Errorf("format layers: %w", err)
	}
	return File{Name: "layers_gen.go", Body: out}, nil
}

// layerStats are the §1 counts of shared/notes/LAYERS.md for one old layer against the canonical one.
type layerStats struct {
	ctors, methods                                          kindStats
	added, addedRequired, dropped, typeChanged, renamed     int
	optSwitched, bitMoved, gainedFlags, resultChanged       int
	sameIDTrueDiff, sameIDTrueBits, decodedCanonical, needs int
}

type kindStats struct{ inFile, sameID, diffID, onlyOld, onlyCanon int }

func (ir *IR) stats(li int, m *Model) layerStats {
	var st layerStats
	for _, n := range ir.Names {
		c, o := n.Variants[0], n.Variants[li]
		k := &st.ctors
		if n.Function {
			k = &st.methods
		}
		switch {
		case c == nil && o == nil:
			continue
		case o == nil:
			k.onlyCanon++
			continue
		case c == nil:
			k.inFile++
			k.onlyOld++
			continue
		}
		k.inFile++
		if c.ID == o.ID {
			k.sameID++
			tb := func(x *Combinator) map[Param]bool {
				m := map[Param]bool{}
				for _, p := range x.Params {
					if p.IsTrue() {
						m[p] = true
					}
				}
				return m
			}
			tc, to := tb(c), tb(o)
			diff := 0
			for p := range tc {
				if !to[p] {
					diff++
				}
			}
			for p := range to {
				if !tc[p] {
					diff++
				}
			}
			if diff > 0 {
				st.sameIDTrueDiff++
				st.sameIDTrueBits += diff
			}
			continue
		}
		k.diffID++
		if ir.decodes(o, c, m, li) {
			st.decodedCanonical++
		} else {
			st.needs++
		}
		if n.Function && c.Result != o.Result {
			st.resultChanged++
		}
		fc, fo := fieldMap(c), fieldMap(o)
		for name, p := range fc {
			if p.IsFlags() {
				if _, ok := fo[name]; !ok {
					st.gainedFlags++
				}
				continue
			}
			q, ok := fo[name]
			if !ok {
				st.added++
				if !p.Optional() {
					st.addedRequired++
				}
				if p.Optional() {
					for _, r := range fo {
						if _, inC := fc[r.Name]; !inC && r.FlagWord == p.FlagWord && r.Bit == p.Bit {
							st.renamed++
							break
						}
					}
				}
				continue
			}
			if q.Type != p.Type {
				st.typeChanged++
			}
			if q.Optional() != p.Optional() {
				st.optSwitched++
			} else if p.Optional() && (q.Bit != p.Bit || q.FlagWord != p.FlagWord) {
				st.bitMoved++
			}
		}
		for name, q := range fo {
			if q.IsFlags() {
				continue
			}
			if _, ok := fc[name]; !ok {
				st.dropped++
			}
		}
	}
	return st
}

func fieldMap(c *Combinator) map[string]Param {
	m := map[string]Param{}
	for _, p := range c.Params {
		m[p.Name] = p
	}
	return m
}

// Report renders the per-layer comparison (tl/layers/REPORT.md).
func (ir *IR) Report(m *Model, pr *projection) []byte {
	var b bytes.Buffer
	canon := ir.schema[ir.Layers[0]]
	fmt.Fprintf(&b, "<!-- Code generated by tlgen from the TL schema. DO NOT EDIT. -->\n\n")
	fmt.Fprintf(&b, "# Layers compared with layer %d\n\n", ir.Layers[0])
	fmt.Fprintf(&b, "Combinators compared by name against api-%d.tl (%d constructors, %d methods). Field rows count only\n",
		ir.Layers[0], len(canon.Types), len(canon.Functions))
	fmt.Fprintf(&b, "same-named combinators whose id differs. \"Decoded into canonical\" old forms are registered in `api.New` and\n")
	fmt.Fprintf(&b, "decode mechanically into the canonical struct (same result; old fields kept or dropped; canonical fields the old\n")
	fmt.Fprintf(&b, "form lacks are optional); the rest are not decoded yet. %d has %d constructors here because the `vector`\n", ir.Layers[0], len(canon.Types))
	fmt.Fprintf(&b, "line is not a constructor. Encoding canonical values for older layers is the last section.\n\n")
	var sts []layerStats
	head := "| vs layer " + fmt.Sprint(ir.Layers[0]) + " |"
	sep := "|---|"
	for li := 1; li < len(ir.Layers); li++ {
		sts = append(sts, ir.stats(li, m))
		head += fmt.Sprintf(" %d |", ir.Layers[li])
		sep += "---|"
	}
	fmt.Fprintln(&b, head)
	fmt.Fprintln(&b, sep)
	row := func(label string, f func(s layerStats) string) {
		line := "| " + label + " |"
		for _, s := range sts {
			line += " " + f(s) + " |"
		}
		fmt.Fprintln(&b, line)
	}
	n := func(v int) string { return fmt.Sprint(v) }
	row("constructors in the file", func(s layerStats) string { return n(s.ctors.inFile) })
	row("... same name, same id", func(s layerStats) string { return n(s.ctors.sameID) })
	row("... same name, different id", func(s layerStats) string { return n(s.ctors.diffID) })
	row("... only in the old layer", func(s layerStats) string { return n(s.ctors.onlyOld) })
	row(fmt.Sprintf("... only in %d", ir.Layers[0]), func(s layerStats) string { return n(s.ctors.onlyCanon) })
	row("methods in the file", func(s layerStats) string { return n(s.methods.inFile) })
	row("... same name, same id / different id", func(s layerStats) string {
		return fmt.Sprintf("%d / %d", s.methods.sameID, s.methods.diffID)
	})
	row(fmt.Sprintf("... only in the old layer / only in %d", ir.Layers[0]), func(s layerStats) string {
		return fmt.Sprintf("%d / %d", s.methods.onlyOld, s.methods.onlyCanon)
	})
	row("different-id variants decoded into canonical / not decoded", func(s layerStats) string {
		return fmt.Sprintf("%d / %d", s.decodedCanonical, s.needs)
	})
	row(fmt.Sprintf("fields added by %d (not counting flags words)", ir.Layers[0]), func(s layerStats) string { return n(s.added) })
	row("... of which required", func(s layerStats) string { return n(s.addedRequired) })
	row(fmt.Sprintf("fields dropped by %d", ir.Layers[0]), func(s layerStats) string { return n(s.dropped) })
	row("same-named field changed type", func(s layerStats) string { return n(s.typeChanged) })
	row("new field on a dropped field's flag bit (rename or re-purpose)", func(s layerStats) string { return n(s.renamed) })
	row("field switched required ↔ optional", func(s layerStats) string { return n(s.optSwitched) })
	row("flag bit moved for a same-named field", func(s layerStats) string { return n(s.bitMoved) })
	row("combinators that gained a flags word", func(s layerStats) string { return n(s.gainedFlags) })
	row("methods whose result type changed", func(s layerStats) string { return n(s.resultChanged) })
	row("same id, different set of `true` bits (bits)", func(s layerStats) string {
		return fmt.Sprintf("%d (%d)", s.sameIDTrueDiff, s.sameIDTrueBits)
	})
	fmt.Fprintf(&b, "\n## Names whose id differs from layer %d\n\n", ir.Layers[0])
	fmt.Fprintf(&b, "`=` same id as %d, `-` absent; `*` marks an id decoded into the canonical type.\n\n", ir.Layers[0])
	head = "| name |"
	sep = "|---|"
	for _, l := range ir.Layers {
		head += fmt.Sprintf(" %d |", l)
		sep += "---|"
	}
	fmt.Fprintln(&b, head)
	fmt.Fprintln(&b, sep)
	for _, nm := range ir.Names {
		c := nm.Variants[0]
		differs := false
		for _, v := range nm.Variants[1:] {
			if v != nil && (c == nil || v.ID != c.ID) {
				differs = true
			}
		}
		if !differs {
			continue
		}
		line := "| " + nm.Name + " |"
		for li, v := range nm.Variants {
			switch {
			case v == nil:
				line += " - |"
			case li > 0 && c != nil && v.ID == c.ID:
				line += " = |"
			case li > 0 && c != nil && ir.decodes(v, c, m, li):
				line += fmt.Sprintf(" %08x* |", v.ID)
			default:
				line += fmt.Sprintf(" %08x |", v.ID)
			}
		}
		fmt.Fprintln(&b, line)
	}
	if pr != nil {
		pr.report(&b)
	}
	return b.Bytes()
}
