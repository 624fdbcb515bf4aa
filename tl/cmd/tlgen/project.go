package main

import (
	"bytes"
	"fmt"
	"go/format"
	"maps"
	"strings"
)

// Projection: encoding a canonical value for an older layer (tl/DESIGN.md "Encode canonical values for a
// layer"). Per canonical constructor and old layer the generator picks one case:
//
//	same       the layer has the canonical id and the same true bits: canonical fields, nested values projected
//	old        another id (or the same id with other true bits, which its CRC ignores): the old form's fields
//	           in its order, its flags words rebuilt per (word, bit) from
//	           the canonical values; canonical fields the form lacks are dropped, old optional fields the
//	           canonical struct lacks are left out, old required ones need a policy `field` entry
//	substitute the layer lacks the name: a policy func gives a canonical value to write instead
//	omit       the layer lacks the name: left out of vectors (policy)
//	refuse     anything else: a *NotInLayerError, never partial bytes
//
// Only constructors whose encoding differs at some layer (directly or through a nested value) get a
// putLayer method; everything else is written by its canonical Encode, so layer 227 and unaffected values
// take the existing path.

type caseKind int

const (
	kindSame caseKind = iota
	kindOld
	kindSubst
	kindOmit
	kindRefuse
)

// layerCase is what one constructor writes at one or more old layers (layer indexes into IR.Layers).
type layerCase struct {
	kind   caseKind
	lis    []int
	v      *Combinator       // kindOld
	fields map[string]string // kindOld: old field name -> policy func
	fn     string            // kindSubst
	reason string            // kindRefuse
}

// projection is the generator's plan.
type projection struct {
	ir       *IR
	m        *Model
	pol      *Policy
	affected map[*Combinator][]bool // canonical ctor -> per layer index: its encoding differs there
	cases    map[*Combinator][]*layerCase
	used     map[*PolicyEntry]bool
}

// sameField reports whether old field p maps mechanically onto canonical field q (same name, type, kind).
func sameField(p Param, q Param, ok bool) bool {
	return ok && !q.IsFlags() && q.Type == p.Type && q.IsTrue() == p.IsTrue()
}

// buildProjection plans every canonical constructor and checks the policy (stale entries are errors).
func (ir *IR) buildProjection(m *Model, pol *Policy) (*projection, error) {
	pr := &projection{ir: ir, m: m, pol: pol, affected: map[*Combinator][]bool{},
		cases: map[*Combinator][]*layerCase{}, used: map[*PolicyEntry]bool{}}
	nl := len(ir.Layers)
	byName := map[string]*NameIR{}
	for _, n := range ir.Names {
		byName[n.Name] = n
	}
	// Direct differences, then propagate through field types until nothing changes.
	for _, c := range m.Schema.Types {
		a := make([]bool, nl)
		n := byName[c.Name]
		for li := 1; li < nl; li++ {
			v := n.Variants[li]
			a[li] = v == nil || v.ID != c.ID || trueBitsDiffer(v, c)
		}
		pr.affected[c] = a
	}
	for changed := true; changed; {
		changed = false
		for _, c := range m.Schema.Types {
			a := pr.affected[c]
			for li := 1; li < nl; li++ {
				if a[li] {
					continue
				}
				for _, p := range c.Params {
					if !p.IsFlags() && !p.IsTrue() && pr.typeAffected(p.Type, c, li) {
						a[li] = true
						changed = true
						break
					}
				}
			}
		}
	}
	for _, c := range m.Schema.Types {
		n := byName[c.Name]
		var cs []*layerCase
		add := func(lc *layerCase, li int) {
			for _, o := range cs {
				if o.kind == lc.kind && o.kind != kindOld && o.fn == lc.fn && o.reason == lc.reason ||
					o.kind == kindOld && lc.kind == kindOld && sameForm(o.v, lc.v) && maps.Equal(o.fields, lc.fields) {
					o.lis = append(o.lis, li)
					return
				}
			}
			lc.lis = []int{li}
			cs = append(cs, lc)
		}
		for li := 1; li < nl; li++ {
			if !pr.affected[c][li] {
				continue
			}
			l := ir.Layers[li]
			v := n.Variants[li]
			switch {
			case v == nil:
				lc, err := pr.fallback(c, l, "absent", true)
				if err != nil {
					return nil, err
				}
				add(lc, li)
			case v.ID == c.ID && !trueBitsDiffer(v, c):
				add(&layerCase{kind: kindSame}, li)
			default:
				lc, err := pr.oldCase(c, v, l)
				if err != nil {
					return nil, err
				}
				if lc.kind == kindRefuse {
					// An old form this value cannot fill: the type's stand-in, if the policy has one.
					if lc, err = pr.fallback(c, l, lc.reason, false); err != nil {
						return nil, err
					}
				}
				add(lc, li)
			}
		}
		pr.cases[c] = cs
	}
	// Every policy entry must have been needed at every layer it names.
	for _, e := range pol.Entries {
		for _, l := range e.Layers {
			li := -1
			for i, x := range ir.Layers {
				if x == l && i > 0 {
					li = i
				}
			}
			if e.Action == "result" {
				n := byName[e.Ctor]
				if li < 0 || n == nil || n.Variants[0] == nil || !n.Variants[0].Function {
					return nil, fmt.Errorf("policy line %d: %s is not a canonical method at an old layer %d", e.Line, e.Ctor, l)
				}
				c, v := n.Variants[0], n.Variants[li]
				if v == nil || v.Result == c.Result || !mechanicalFields(v, c, pr.m) {
					return nil, fmt.Errorf("policy line %d: stale entry (%s at layer %d has the canonical result, or fields that do not map)", e.Line, e.Ctor, l)
				}
				pr.used[e] = true
				continue
			}
			if e.Class != "" {
				absent := false
				if ti := pr.m.types[e.Class]; ti != nil && li > 0 {
					for _, c := range ti.Ctors {
						absent = absent || byName[c.Name].Variants[li] == nil || pr.refusedForm(c, li)
					}
				}
				if !absent {
					return nil, fmt.Errorf("policy line %d: stale entry (no constructor of %s is absent at layer %d)", e.Line, e.Class, l)
				}
				continue
			}
			n := byName[e.Ctor]
			if li < 0 || n == nil || n.Variants[0] == nil || n.Variants[0].Function {
				return nil, fmt.Errorf("policy line %d: %s is not a canonical constructor at an old layer %d", e.Line, e.Ctor, l)
			}
			c, v := n.Variants[0], n.Variants[li]
			stale := false
			switch e.Action {
			case "substitute", "omit":
				stale = v != nil && !pr.refusedForm(c, li)
			case "field":
				stale = v == nil || v.ID == c.ID || !pr.affected[c][li]
				if !stale {
					fv, fc := fieldMap(v), fieldMap(c)
					p, ok := fv[e.Field]
					q, okc := fc[e.Field]
					stale = !ok || p.IsFlags() || sameField(p, q, okc)
				}
			}
			if stale {
				return nil, fmt.Errorf("policy line %d: stale entry (%s %s.%s is mechanical or absent at layer %d)", e.Line, e.Action, e.Ctor, e.Field, l)
			}
		}
		if !pr.used[e] {
			return nil, fmt.Errorf("policy line %d: entry never used", e.Line)
		}
	}
	return pr, nil
}

// refusedForm reports whether c's form at layer index li exists but cannot be filled from c (before policy).
func (pr *projection) refusedForm(c *Combinator, li int) bool {
	for _, n := range pr.ir.Names {
		if n.Name == c.Name {
			v := n.Variants[li]
			if v == nil || (v.ID == c.ID && !trueBitsDiffer(v, c)) {
				return false
			}
			lc, err := pr.oldCase(c, v, pr.ir.Layers[li])
			return err == nil && lc.kind == kindRefuse
		}
	}
	return false
}

// trueBitsDiffer reports whether two forms with one id define different flags.N?true fields (the id's CRC
// ignores them): the canonical encoding would set bits the old form does not define, or that it names
// otherwise, so such a form is written as an old form.
func trueBitsDiffer(v, c *Combinator) bool {
	set := func(x *Combinator) map[Param]bool {
		m := map[Param]bool{}
		for _, p := range x.Params {
			if p.IsTrue() {
				m[p] = true
			}
		}
		return m
	}
	a, b := set(v), set(c)
	if len(a) != len(b) {
		return true
	}
	for p := range a {
		if !b[p] {
			return true
		}
	}
	return false
}

// sameForm reports whether two layers' forms are written alike: same id and the same fields, true bits
// included (one id can carry different true bits in different layers).
func sameForm(a, b *Combinator) bool {
	if a.ID != b.ID || len(a.Params) != len(b.Params) {
		return false
	}
	for i := range a.Params {
		if a.Params[i] != b.Params[i] {
			return false
		}
	}
	return true
}

// fallback picks the policy's substitute or omit for c at layer l (absent there, or an old form it cannot
// fill), else a refusal for reason. An omit of a pts-carrying update fails generation when the entry names
// c or c is absent; a class-wide omit skips such an update (it stays refused).
func (pr *projection) fallback(c *Combinator, l int, reason string, absent bool) (*layerCase, error) {
	if e := pr.pol.forCtor("substitute", l, c.Name, c.Result); e != nil {
		pr.used[e] = true
		return &layerCase{kind: kindSubst, fn: e.Func}, nil
	}
	if e := pr.pol.forCtor("omit", l, c.Name, c.Result); e != nil {
		// Leaving out a pts-carrying update would open a gap the client waits on forever.
		if _, ok := fieldMap(c)["pts"]; ok {
			if absent || e.Ctor != "" {
				return nil, fmt.Errorf("policy line %d: %s carries pts and cannot be omitted", e.Line, c.Name)
			}
			return &layerCase{kind: kindRefuse, reason: reason}, nil
		}
		pr.used[e] = true
		return &layerCase{kind: kindOmit}, nil
	}
	return &layerCase{kind: kindRefuse, reason: reason}, nil
}

// oldCase plans writing canonical c in the old form v (layer l).
func (pr *projection) oldCase(c, v *Combinator, l int) (*layerCase, error) {
	lc := &layerCase{kind: kindOld, v: v, fields: map[string]string{}}
	if v.Result != c.Result {
		return &layerCase{kind: kindRefuse, reason: "type " + v.Result}, nil
	}
	fc := fieldMap(c)
	for _, p := range v.Params {
		if p.IsFlags() {
			continue
		}
		q, ok := fc[p.Name]
		if sameField(p, q, ok) {
			continue
		}
		if e := pr.pol.find("field", l, c.Name, p.Name); e != nil {
			pr.used[e] = true
			if p.IsTrue() {
				return nil, fmt.Errorf("policy line %d: %s.%s is a true bit; a field func must give a value", e.Line, c.Name, p.Name)
			}
			if _, err := pr.m.goType(p.Type, c); err != nil {
				return nil, fmt.Errorf("policy line %d: %s.%s: %w", e.Line, c.Name, p.Name, err)
			}
			lc.fields[p.Name] = e.Func
			continue
		}
		if !p.Optional() {
			return &layerCase{kind: kindRefuse, reason: "required " + p.Name}, nil
		}
	}
	return lc, nil
}

// typeAffected reports whether a field of TL type t may hold a value whose encoding differs at layer li.
func (pr *projection) typeAffected(t string, c *Combinator, li int) bool {
	if _, ok := primGo[t]; ok || (c != nil && pr.m.isGeneric(t, c)) {
		return false
	}
	if e, ok := vectorElem(t); ok {
		return pr.typeAffected(e, c, li)
	}
	if e, ok := bareVectorElem(t); ok {
		return pr.typeAffected(e, c, li)
	}
	if bc, ok := pr.m.bareCtor(t); ok {
		return pr.affected[bc][li]
	}
	ti := pr.m.types[t]
	if ti == nil {
		return false
	}
	for _, x := range ti.Ctors {
		if pr.affected[x][li] {
			return true
		}
	}
	return false
}

// anyAffected reports whether t is affected at some old layer.
func (pr *projection) anyAffected(t string, c *Combinator) bool {
	for li := 1; li < len(pr.ir.Layers); li++ {
		if pr.typeAffected(t, c, li) {
			return true
		}
	}
	return false
}

func (pr *projection) ctorAffected(c *Combinator) bool {
	for _, a := range pr.affected[c][1:] {
		if a {
			return true
		}
	}
	return false
}

// putL returns a statement writing v of TL type t at layer l (a variable of the generated method):
// projected when t may differ at some layer, else the canonical put.
func (pr *projection) putL(t, v string, c *Combinator) string {
	m := pr.m
	if !pr.anyAffected(t, c) {
		return m.put(t, v, c)
	}
	if e, ok := vectorElem(t); ok {
		if _, ok := m.bareCtor(e); ok {
			return fmt.Sprintf("putLayerBareObjects(e, %s, l, false)", v)
		}
		return fmt.Sprintf("putLayerObjects(e, %s, l)", v)
	}
	if e, ok := bareVectorElem(t); ok {
		if _, ok := m.bareCtor(e); ok {
			return fmt.Sprintf("putLayerBareObjects(e, %s, l, true)", v)
		}
		return fmt.Sprintf("putLayerObjects(e, %s, l)", v) // not in the schemas: boxed elements
	}
	if _, ok := m.bareCtor(t); ok {
		return fmt.Sprintf("%s.putLayer(e, l, false)", v)
	}
	return fmt.Sprintf("putLayer(e, %s, l)", v)
}

func (pr *projection) layerList(lis []int) string {
	var s []string
	for _, li := range lis {
		s = append(s, fmt.Sprintf("L%d", pr.ir.Layers[li]))
	}
	return strings.Join(s, ", ")
}

// Emit writes api/layers_encode_gen.go.
func (pr *projection) Emit() (File, error) {
	m := pr.m
	var w writer
	w.p(`import (`)
	w.p(`"encoding/binary"`)
	w.p(`"fmt"`)
	w.p("")
	w.p(`"github.com/raftgram/raftgram/tl"`)
	w.p(`)`)
	w.p(`
// NotInLayerError reports a value that cannot be written for a client at Layer: its constructor is absent
// there (and no policy substitutes or omits it), an old form needs a field the value lacks, or (CheckLayer)
// its canonical encoding differs there.
type NotInLayerError struct {
	Name   string
	Layer  int
	Reason string // what is missing; empty from CheckLayer
}

func (e *NotInLayerError) Error() string {
	if e.Reason == "" {
		return fmt.Sprintf("api: %%s is encoded differently at layer %%d", e.Name, e.Layer)
	}
	return fmt.Sprintf("api: %%s cannot be encoded for layer %%d (%%s)", e.Name, e.Layer, e.Reason)
}

// EncodeLayer appends o boxed as a client at layer l reads it. At the canonical layer it is e.PutObject. It
// is transactional: on error (a *NotInLayerError, or any encoding error) e is left as it was, error
// cleared, and nothing is written; e must hold no error on entry. o is never modified.
func EncodeLayer(e *tl.Encoder, o tl.Object, l Layer) error {
	if err := e.Err(); err != nil {
		return err
	}
	start := e.Len()
	switch {
	case l == 0:
		e.PutObject(o)
	case int(l) >= NumLayers:
		return &NotInLayerError{Name: tl.Name(o), Layer: -1, Reason: "unknown layer"}
	case o != nil && omitAt(o, l):
		return &NotInLayerError{Name: o.TypeName(), Layer: LayerNumbers[l], Reason: "omitted"}
	default:
		putLayer(e, o, l)
	}
	if err := e.Err(); err != nil {
		e.Rollback(start)
		return err
	}
	return nil
}

// layerPutter is implemented by every constructor whose encoding differs at some old layer.
type layerPutter interface {
	putLayer(e *tl.Encoder, l Layer, boxed bool)
}

// putLayer writes o boxed for layer l (l != 0). Already-encoded bytes (tl.Raw) are canonical: refused.
func putLayer(e *tl.Encoder, o tl.Object, l Layer) {
	switch p := o.(type) {
	case layerPutter:
		p.putLayer(e, l, true)
	case tl.Raw:
		e.Fail(&NotInLayerError{Name: p.String(), Layer: LayerNumbers[l], Reason: "already-encoded canonical bytes"})
	default:
		e.PutObject(o)
	}
}

// putLayerObjects writes a boxed vector of boxed objects for layer l, leaving out the elements omitAt
// names: the count is patched after the elements are written.
func putLayerObjects[T tl.Object](e *tl.Encoder, v []T, l Layer) {
	e.PutVectorHeader(len(v))
	at := e.Len() - 4
	n := 0
	for _, x := range v {
		if omitAt(x, l) {
			continue
		}
		putLayer(e, x, l)
		n++
	}
	if n != len(v) {
		binary.LittleEndian.PutUint32(e.Bytes()[at:], uint32(n))
	}
}

// putLayerBareObjects writes a vector (boxed unless bareVector) of bare objects for layer l.
func putLayerBareObjects[T tl.Object](e *tl.Encoder, v []T, l Layer, bareVector bool) {
	if bareVector {
		e.PutInt(int32(len(v)))
	} else {
		e.PutVectorHeader(len(v))
	}
	for _, x := range v {
		if p, ok := tl.Object(x).(layerPutter); ok {
			p.putLayer(e, l, false)
		} else {
			e.PutBare(x)
		}
	}
}
`)
	// omitAt
	type omitRow struct {
		g   string
		lis []int
	}
	var omits []omitRow
	for _, c := range m.Schema.Types {
		for _, lc := range pr.cases[c] {
			if lc.kind == kindOmit {
				omits = append(omits, omitRow{m.goOf[c], lc.lis})
			}
		}
	}
	w.p("// omitAt reports whether o is left out of vectors at layer l (policy `omit`).")
	w.p("func omitAt(o tl.Object, l Layer) bool {")
	if len(omits) == 0 {
		w.p("\t_, _ = o, l")
		w.p("\treturn false")
	} else {
		w.p("\tswitch o.(type) {")
		for _, r := range omits {
			var conds []string
			for _, li := range r.lis {
				conds = append(conds, fmt.Sprintf("l == L%d", pr.ir.Layers[li]))
			}
			w.p("\tcase *%s:", r.g)
			w.p("\t\treturn %s", strings.Join(conds, " || "))
		}
		w.p("\t}")
		w.p("\treturn false")
	}
	w.p("}")

	pr.emitProjectResult(&w)
	for _, c := range m.Schema.Types {
		if !pr.ctorAffected(c) {
			continue
		}
		if err := pr.emitPutLayer(&w, c); err != nil {
			return File{}, err
		}
	}
	// Vector results whose elements may differ.
	for _, el := range m.vectorResults {
		if el == "int" || el == "long" {
			continue
		}
		if !pr.anyAffected(el, nil) {
			continue
		}
		vt := m.vectorResultGo(el)
		w.p("")
		w.p("func (v *%s) putLayer(e *tl.Encoder, l Layer, boxed bool) {", vt)
		w.p("\tif v == nil { e.Fail(tl.ErrNilObject); return }")
		w.p("\tif !boxed { e.Fail(tl.ErrNilObject); return } // a vector result is always boxed")
		w.p("\tputLayerObjects(e, v.Elems, l)")
		w.p("}")
	}
	src := append([]byte(header+"package "+m.Pkg+"\n\n"), w.Bytes()...)
	out, err := format.Source(src)
	if err != nil {
		return File{}, fmt.Errorf("format layers_encode: %w\n%s", err, src)
	}
	return File{Name: "layers_encode_gen.go", Body: out}, nil
}

// emitProjectResult writes ProjectResult: per old method id with a policy `result`, the converter of the
// canonical result.
func (pr *projection) emitProjectResult(w *writer) {
	m := pr.m
	w.p("")
	w.p("// ProjectResult returns the result of query as the form the client called returns it: a method whose older")
	w.p("// form (tl.WireID) returns another type gets its result converted (policy `result`); anything else is res")
	w.p("// itself. Apply it before EncodeLayer, whatever the session's layer: the request's form decides.")
	w.p("func ProjectResult(query, res tl.Object) tl.Object {")
	w.p("	if query == nil || res == nil { return res }")
	var cases []string
	for _, c := range m.Schema.Functions {
		for _, l := range m.Legacy[c] {
			if l.C.Result == c.Result {
				continue
			}
			e := pr.pol.find("result", l.Layers[0], c.Name, "")
			_, typ := m.resultDecode(c)
			cases = append(cases, fmt.Sprintf("\tcase 0x%08x: // %s, layer %s: %s\n\t\tif r, ok := res.(%s); ok { return %s(r) }", l.ID, c.Name, layersText(l.Layers), l.C.Result, typ, e.Func))
		}
	}
	if len(cases) == 0 {
		w.p("	return res")
		w.p("}")
		return
	}
	w.p("	switch tl.WireID(query) {")
	for _, cs := range cases {
		w.p("%s", cs)
	}
	w.p("	}")
	w.p("	return res")
	w.p("}")
}

func (pr *projection) emitPutLayer(w *writer, c *Combinator) error {
	m := pr.m
	g := m.goOf[c]
	w.p("")
	w.p("func (x *%s) putLayer(e *tl.Encoder, l Layer, boxed bool) {", g)
	w.p("\tif x == nil { e.Fail(tl.ErrNilObject); return }")
	w.p("\tswitch l {")
	for _, lc := range pr.cases[c] {
		w.p("\tcase %s:", pr.layerList(lc.lis))
		switch lc.kind {
		case kindSame:
			w.p("\t\tif boxed { e.PutID(%sTypeID) }", g)
			pr.emitBody(w, c, c, nil)
		case kindOld:
			w.p("\t\t// %s#%08x", lc.v.Name, lc.v.ID)
			w.p("\t\tif boxed { e.PutID(0x%08x) }", lc.v.ID)
			pr.emitBody(w, c, lc.v, lc.fields)
		case kindSubst:
			w.p("\t\tif !boxed { e.Fail(&NotInLayerError{Name: %q, Layer: LayerNumbers[l], Reason: \"bare substitute\"}); return }", c.Name)
			w.p("\t\tif s := %s(x); s != nil { putLayer(e, s, l) } else { e.Fail(&NotInLayerError{Name: %q, Layer: LayerNumbers[l], Reason: \"no substitute\"}) }", pr.fn(lc.fn), c.Name)
		case kindOmit:
			w.p("\t\te.Fail(&NotInLayerError{Name: %q, Layer: LayerNumbers[l], Reason: \"omitted\"})", c.Name)
		case kindRefuse:
			w.p("\t\te.Fail(&NotInLayerError{Name: %q, Layer: LayerNumbers[l], Reason: %q})", c.Name, lc.reason)
		}
	}
	w.p("\tdefault:")
	w.p("\t\tif boxed { e.PutObject(x) } else { e.PutBare(x) }")
	w.p("\t}")
	w.p("}")
	return nil
}

func (pr *projection) fn(name string) string { return name }

// emitBody writes the fields of form v (v == c: canonical) from canonical struct x.
func (pr *projection) emitBody(w *writer, c, v *Combinator, pol map[string]string) {
	fc := fieldMap(c)
	canonical := v == c
	var words []Param
	for _, p := range v.Params {
		if p.IsFlags() {
			words = append(words, p)
		}
	}
	// Policy values first: computed once.
	pv := map[string]string{}
	for i, p := range v.Params {
		if f, ok := pol[p.Name]; ok {
			name := fmt.Sprintf("p%d", i)
			pv[p.Name] = name
			w.p("\t\t%s := %s(x)", name, f)
		}
	}
	// src returns the Go expression of the value written for old field p ("" = never present), and whether
	// it is a pointer/nilable (optional in canonical or policy).
	type src struct {
		expr     string
		nilable  bool // may be nil: presence decides the bit / a required field fails
		ptrScal  bool // *T of a scalar: write *expr
		present  string
		isTrue   bool
		required bool
	}
	get := func(p Param) src {
		if name, ok := pv[p.Name]; ok {
			s := src{expr: name, required: !p.Optional()}
			if p.Optional() {
				s.nilable = true
				s.ptrScal = isPointerScalar(p.Type)
				s.present = name + " != nil"
			}
			return s
		}
		q, ok := fc[p.Name]
		if !sameField(p, q, ok) {
			return src{}
		}
		f := "x." + goField(q.Name)
		if p.IsTrue() {
			return src{expr: f, isTrue: true, present: f}
		}
		s := src{expr: f, required: !p.Optional()}
		if q.Optional() {
			s.nilable = true
			s.ptrScal = isPointerScalar(q.Type)
			s.present = f + " != nil"
		} else {
			s.present = "true"
		}
		return s
	}
	for _, f := range words {
		fv := flagVar(words, f.Name)
		if canonical {
			w.p("\t\t%s := x.unknown%s", fv, goName(f.Name))
		} else {
			w.p("\t\tvar %s uint32", fv)
		}
		groups := map[int][]Param{}
		var bits []int
		for _, p := range v.Params {
			if p.FlagWord != f.Name {
				continue
			}
			s := get(p)
			if s.expr == "" {
				continue
			}
			if _, ok := groups[p.Bit]; !ok {
				bits = append(bits, p.Bit)
			}
			groups[p.Bit] = append(groups[p.Bit], p)
			if s.present == "true" {
				w.p("\t\t%s |= 1 << %d", fv, p.Bit)
			} else {
				w.p("\t\tif %s { %s |= 1 << %d }", s.present, fv, p.Bit)
			}
		}
		for _, b := range bits {
			var conds []string
			nvals := 0
			for _, p := range groups[b] {
				if p.IsTrue() {
					continue
				}
				nvals++
				if s := get(p); s.nilable {
					conds = append(conds, s.expr+" == nil")
				}
			}
			// Bits in the old form shared with a field this value cannot fill are also partial.
			all := 0
			for _, p := range v.Params {
				if p.FlagWord == f.Name && p.Bit == b && !p.IsTrue() {
					all++
				}
			}
			if all > nvals {
				conds = append(conds, "true")
			}
			if len(conds) == 0 || (nvals <= 1 && len(groups[b]) == 1 && all == nvals) {
				continue
			}
			fail := "tl.ErrPartialFlagGroup"
			if !canonical {
				// The canonical value is whole, but the old form groups this bit with a field it lacks.
				fail = fmt.Sprintf("&NotInLayerError{Name: %q, Layer: LayerNumbers[l], Reason: %q}", c.Name, fmt.Sprintf("%s.%d group incomplete", f.Name, b))
			}
			w.p("\t\tif %s&(1<<%d) != 0 && (%s) { e.Fail(%s) }", fv, b, strings.Join(conds, " || "), fail)
		}
	}
	for _, p := range v.Params {
		if p.IsFlags() {
			w.p("\t\te.PutUint32(%s)", flagVar(words, p.Name))
			continue
		}
		if p.IsTrue() {
			continue
		}
		s := get(p)
		if s.expr == "" {
			continue // optional old field the canonical value cannot fill: its bit stays clear
		}
		val := s.expr
		if s.ptrScal {
			val = "*" + val
		}
		put := pr.putL(p.Type, val, c)
		switch {
		case s.nilable && s.required:
			w.p("\t\tif %s == nil { e.Fail(&NotInLayerError{Name: %q, Layer: LayerNumbers[l], Reason: %q}); return }", s.expr, c.Name, "no "+p.Name)
			w.p("\t\t%s", put)
		case s.nilable:
			w.p("\t\tif %s != nil { %s }", s.expr, put)
		default:
			w.p("\t\t%s", put)
		}
	}
}

// report appends the projection section of REPORT.md.
func (pr *projection) report(b *bytes.Buffer) {
	ir, m := pr.ir, pr.m
	fmt.Fprintf(b, "\n## Projection: canonical constructors encoded for an older layer (`api.EncodeLayer`)\n\n")
	fmt.Fprintf(b, "Per old layer, how each canonical constructor is written. \"Unchanged\" ones use their canonical Encode;\n")
	fmt.Fprintf(b, "\"canonical id, nested\" ones keep their id and layout but hold a value that differs; \"old form\" ones are\n")
	fmt.Fprintf(b, "written in the layer's own form (fields the layer lacks dropped, flags rebuilt per (word, bit)); policy entries are\n")
	fmt.Fprintf(b, "in `tl/layers/policy.txt`; refused ones fail with `*api.NotInLayerError` (never partial bytes).\n\n")
	head, sep := "| canonical constructors |", "|---|"
	for _, l := range ir.Layers[1:] {
		head += fmt.Sprintf(" %d |", l)
		sep += "---|"
	}
	fmt.Fprintln(b, head)
	fmt.Fprintln(b, sep)
	count := func(k caseKind, pred func(*layerCase) bool) []int {
		out := make([]int, len(ir.Layers))
		for _, c := range m.Schema.Types {
			for _, lc := range pr.cases[c] {
				if lc.kind == k && (pred == nil || pred(lc)) {
					for _, li := range lc.lis {
						out[li]++
					}
				}
			}
		}
		return out
	}
	unchanged := make([]int, len(ir.Layers))
	for _, c := range m.Schema.Types {
		for li := 1; li < len(ir.Layers); li++ {
			if !pr.affected[c][li] {
				unchanged[li]++
			}
		}
	}
	row := func(label string, v []int) {
		line := "| " + label + " |"
		for li := 1; li < len(ir.Layers); li++ {
			line += fmt.Sprintf(" %d |", v[li])
		}
		fmt.Fprintln(b, line)
	}
	row("unchanged (canonical bytes)", unchanged)
	row("canonical id, nested values projected", count(kindSame, nil))
	row("old form (other id, or other true bits), mechanical", count(kindOld, func(lc *layerCase) bool { return len(lc.fields) == 0 }))
	row("old form with policy `field` entries", count(kindOld, func(lc *layerCase) bool { return len(lc.fields) > 0 }))
	row("absent or old form unfillable: policy `substitute`", count(kindSubst, nil))
	row("absent or old form unfillable: policy `omit` (from vectors)", count(kindOmit, nil))
	row("absent: refused", count(kindRefuse, func(lc *layerCase) bool { return lc.reason == "absent" }))
	row("old form needs what the value lacks: refused", count(kindRefuse, func(lc *layerCase) bool { return lc.reason != "absent" }))
	fmt.Fprintf(b, "\nRefused although the layer has the name (a required old field with no canonical source, or another type):\n\n")
	fmt.Fprintln(b, "| name | layers | why |")
	fmt.Fprintln(b, "|---|---|---|")
	for _, c := range m.Schema.Types {
		for _, lc := range pr.cases[c] {
			if lc.kind == kindRefuse && lc.reason != "absent" {
				var ls []string
				for _, li := range lc.lis {
					ls = append(ls, fmt.Sprint(ir.Layers[li]))
				}
				fmt.Fprintf(b, "| %s | %s | %s |\n", c.Name, strings.Join(ls, ", "), lc.reason)
			}
		}
	}
	fmt.Fprintf(b, "\nPolicy entries (`tl/layers/policy.txt`):\n\n")
	fmt.Fprintln(b, "| action | layers | target | func | why |")
	fmt.Fprintln(b, "|---|---|---|---|---|")
	for _, e := range pr.pol.Entries {
		var ls []string
		for _, l := range e.Layers {
			ls = append(ls, fmt.Sprint(l))
		}
		t := e.Ctor
		if e.Class != "" {
			t = "every " + e.Class + " absent or unfillable"
		}
		if e.Field != "" {
			t += "." + e.Field
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s |\n", e.Action, strings.Join(ls, ", "), t, e.Func, e.Reason)
	}
}
