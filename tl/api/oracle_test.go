package api

// An independent reader of old-layer bytes for the projection tests: it interprets the schema text of
// ../shared/tl/api-<layer>.tl at test time (no generated code) and fills canonical structs by reflection,
// keeping an old field only when layer 227 has a field of the same name and type. So "encode with
// EncodeLayer, read with the layer's own schema" checks the generated projection against a second
// implementation of the wire format.

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/raftgram/raftgram/tl"
)

type oField struct {
	name, typ, word string
	bit             int
}

func (f oField) optional() bool { return f.word != "" }

type oCtor struct {
	name   string
	id     uint32
	fields []oField
	result string
}

type oSchema struct {
	layer  int
	byID   map[uint32]*oCtor
	byName map[string]*oCtor
	byType map[string][]*oCtor
}

var (
	oOnce    sync.Once
	oSchemas map[int]*oSchema
	oErr     error
)

// oracle returns the parsed schema of a layer, skipping the test when the schema files are absent.
func oracle(t testing.TB, layer int) *oSchema {
	t.Helper()
	oOnce.Do(func() {
		oSchemas = map[int]*oSchema{}
		for _, n := range LayerNumbers {
			src, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "tl", fmt.Sprintf("api-%d.tl", n)))
			if err != nil {
				oErr = err
				return
			}
			oSchemas[n] = parseOracle(n, string(src))
		}
	})
	if oErr != nil {
		t.Skipf("schema files not present: %v", oErr)
	}
	return oSchemas[layer]
}

func parseOracle(layer int, src string) *oSchema {
	s := &oSchema{layer: layer, byID: map[uint32]*oCtor{}, byName: map[string]*oCtor{}, byType: map[string][]*oCtor{}}
	for _, line := range strings.Split(src, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "---functions---") {
			break // constructors only: the server never writes a method
		}
		if i := strings.Index(line, "//"); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		eq := strings.LastIndex(line, "=")
		if !strings.HasSuffix(line, ";") || eq < 0 {
			continue
		}
		lhs := strings.Fields(line[:eq])
		name, idText, ok := strings.Cut(lhs[0], "#")
		if !ok || name == "vector" || strings.Contains(line, "[") {
			continue
		}
		id, err := strconv.ParseUint(idText, 16, 32)
		if err != nil {
			continue
		}
		c := &oCtor{name: name, id: uint32(id), result: strings.TrimSpace(strings.TrimSuffix(line[eq+1:], ";"))}
		for _, tok := range lhs[1:] {
			if strings.HasPrefix(tok, "{") {
				continue
			}
			n, typ, _ := strings.Cut(tok, ":")
			f := oField{name: n, typ: typ, bit: -1}
			if cond, t2, ok := strings.Cut(typ, "?"); ok {
				w, b, _ := strings.Cut(cond, ".")
				f.word, f.typ = w, t2
				f.bit, _ = strconv.Atoi(b)
			}
			c.fields = append(c.fields, f)
		}
		s.byID[c.id] = c
		s.byName[name] = c
		s.byType[c.result] = append(s.byType[c.result], c)
	}
	return s
}

// norm maps a TL field name and a Go field name to the same key (user_id, UserID -> userid).
func norm(s string) string {
	return strings.ToLower(strings.ReplaceAll(strings.TrimSuffix(s, "_"), "_", ""))
}

// goFieldOf finds the exported Go field of struct type st for TL field name n.
func goFieldOf(st reflect.Type, n string) (reflect.StructField, bool) {
	for i := 0; i < st.NumField(); i++ {
		f := st.Field(i)
		if f.IsExported() && norm(f.Name) == norm(n) {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// kept reports whether old field f of ctor name survives into the canonical struct: layer 227 has a field
// of the same name, type and kind.
func kept(canon *oSchema, name string, f oField) bool {
	c := canon.byName[name]
	if c == nil {
		return false
	}
	for _, q := range c.fields {
		if q.name == f.name {
			return q.typ == f.typ && q.typ != "#"
		}
	}
	return false
}

// oReader decodes old-layer bytes into canonical values.
type oReader struct {
	t       testing.TB
	s       *oSchema
	canon   *oSchema
	dropped map[string]any // "ctor.field" -> value read but not kept (last one)
	strict  bool           // refuse flag bits the layer does not define
}

func newOReader(t testing.TB, layer int) *oReader {
	return &oReader{t: t, s: oracle(t, layer), canon: oracle(t, LayerNumbers[0]), dropped: map[string]any{}}
}

// object reads a boxed constructor of this layer and returns the canonical value.
func (r *oReader) object(d *tl.Decoder) (tl.Object, error) {
	id := d.ID()
	if err := d.Err(); err != nil {
		return nil, err
	}
	c := r.s.byID[id]
	if c == nil {
		return nil, fmt.Errorf("id %08x is not a constructor of layer %d", id, r.s.layer)
	}
	return r.body(d, c)
}

func (r *oReader) body(d *tl.Decoder, c *oCtor) (tl.Object, error) {
	cc := r.canon.byName[c.name]
	if cc == nil {
		return nil, fmt.Errorf("%s (layer %d) has no canonical type", c.name, r.s.layer)
	}
	o := New(cc.id)
	if o == nil {
		return nil, fmt.Errorf("%s: New(%08x) = nil", c.name, cc.id)
	}
	v := reflect.ValueOf(o).Elem()
	words := map[string]uint32{}
	for _, f := range c.fields {
		if f.typ == "#" {
			w := d.Uint32()
			words[f.name] = w
			if r.strict {
				var defined uint32
				for _, g := range c.fields {
					if g.word == f.name {
						defined |= 1 << g.bit
					}
				}
				if extra := w &^ defined; extra != 0 && d.Err() == nil {
					return nil, fmt.Errorf("%s.%s: bits %#x are not defined at layer %d", c.name, f.name, extra, r.s.layer)
				}
			}
			continue
		}
		if f.optional() && words[f.word]&(1<<f.bit) == 0 {
			continue
		}
		keep := kept(r.canon, c.name, f)
		var dst reflect.Value
		if keep {
			sf, ok := goFieldOf(v.Type(), f.name)
			if !ok {
				return nil, fmt.Errorf("%s.%s: no Go field", c.name, f.name)
			}
			dst = v.FieldByIndex(sf.Index)
		}
		if f.typ == "true" {
			if keep {
				dst.SetBool(true)
			}
			continue
		}
		val, err := r.value(d, f.typ, fieldType(dst))
		if err != nil {
			return nil, fmt.Errorf("%s.%s: %w", c.name, f.name, err)
		}
		if !keep {
			if val.IsValid() {
				r.dropped[c.name+"."+f.name] = val.Interface()
			}
			continue
		}
		if dst.Kind() == reflect.Pointer && val.Kind() != reflect.Pointer {
			p := reflect.New(val.Type())
			p.Elem().Set(val)
			val = p
		}
		dst.Set(val)
	}
	return o, d.Err()
}

// fieldType is the Go type a value is decoded as: the field's type, the pointed-to type for an optional
// scalar, nil when the value is discarded.
func fieldType(dst reflect.Value) reflect.Type {
	if !dst.IsValid() {
		return nil
	}
	t := dst.Type()
	if t.Kind() == reflect.Pointer && t.Elem().Kind() != reflect.Struct {
		return t.Elem()
	}
	return t
}

// value reads a value of TL type typ; gt is the Go type to build (nil: any, for discarded fields).
func (r *oReader) value(d *tl.Decoder, typ string, gt reflect.Type) (reflect.Value, error) {
	switch typ {
	case "int":
		return reflect.ValueOf(d.Int()), d.Err()
	case "long":
		return reflect.ValueOf(d.Long()), d.Err()
	case "double":
		return reflect.ValueOf(d.Double()), d.Err()
	case "string":
		return reflect.ValueOf(d.String()), d.Err()
	case "bytes":
		return reflect.ValueOf(d.Bytes()), d.Err()
	case "int128":
		return reflect.ValueOf(d.Int128()), d.Err()
	case "int256":
		return reflect.ValueOf(d.Int256()), d.Err()
	case "Bool":
		return reflect.ValueOf(d.Bool()), d.Err()
	}
	if e, bare := strings.CutPrefix(typ, "vector<"); bare || strings.HasPrefix(typ, "Vector<") {
		if !bare {
			e = strings.TrimPrefix(typ, "Vector<")
			if id := d.ID(); id != tl.VectorID {
				return reflect.Value{}, fmt.Errorf("vector id %08x", id)
			}
		}
		e = strings.TrimSuffix(e, ">")
		n := int(d.Int())
		if n < 0 || n > d.Remaining() {
			return reflect.Value{}, fmt.Errorf("vector count %d", n)
		}
		var out reflect.Value
		var et reflect.Type
		if gt != nil {
			out = reflect.MakeSlice(gt, 0, n)
			et = gt.Elem()
		}
		var items []any
		for range n {
			x, err := r.value(d, e, et)
			if err != nil {
				return reflect.Value{}, err
			}
			if gt != nil {
				out = reflect.Append(out, x)
			} else {
				items = append(items, x.Interface())
			}
		}
		if gt == nil {
			return reflect.ValueOf(items), nil
		}
		return out, nil
	}
	// A bare constructor (%Type or a constructor name).
	var bare *oCtor
	if t, ok := strings.CutPrefix(typ, "%"); ok {
		if cs := r.s.byType[t]; len(cs) == 1 {
			bare = cs[0]
		}
	} else if c := r.s.byName[typ]; c != nil && typ[:1] == strings.ToLower(typ[:1]) {
		bare = c
	}
	var o tl.Object
	var err error
	if bare != nil {
		o, err = r.body(d, bare)
	} else {
		o, err = r.object(d)
		if err == nil && r.s.byName[o.TypeName()].result != typ {
			err = fmt.Errorf("%s is not a %s at layer %d", o.TypeName(), typ, r.s.layer)
		}
	}
	if err != nil {
		return reflect.Value{}, err
	}
	v := reflect.ValueOf(o)
	if gt != nil && !v.Type().AssignableTo(gt) {
		return reflect.Value{}, fmt.Errorf("%s does not fit %s", o.TypeName(), gt)
	}
	return v, nil
}

// readLayer decodes b (one boxed value, or a boxed vector when like is a vector result) at layer n.
func readLayer(t testing.TB, b []byte, like tl.Object, n int) (tl.Object, *oReader, error) {
	return readLayerMode(t, b, like, n, true)
}

// readLayerMode is readLayer; strict refuses flag bits the layer does not define (a projection of a value
// without unknown bits never writes one).
func readLayerMode(t testing.TB, b []byte, like tl.Object, n int, strict bool) (tl.Object, *oReader, error) {
	r := newOReader(t, n)
	r.strict = strict
	d := tl.NewDecoder(b, nil)
	var o tl.Object
	var err error
	if like.TypeID() == tl.VectorID {
		gt := reflect.TypeOf(like).Elem()
		sf, _ := gt.FieldByName("Elems")
		elem := strings.TrimSuffix(strings.TrimPrefix(like.TypeName(), "Vector<"), ">")
		var v reflect.Value
		v, err = r.value(d, "Vector<"+elem+">", sf.Type)
		if err == nil {
			p := reflect.New(gt)
			p.Elem().FieldByName("Elems").Set(v)
			o = p.Interface().(tl.Object)
		}
	} else {
		o, err = r.object(d)
	}
	if err == nil {
		err = d.End()
	}
	return o, r, err
}

// projected returns a deep copy of o as layer n keeps it: every field the layer's form lacks (by name and
// type) zeroed, unexported state dropped, required vectors present.
func projected(t testing.TB, o tl.Object, n int) tl.Object {
	s, canon := oracle(t, n), oracle(t, LayerNumbers[0])
	return projectValue(reflect.ValueOf(o), s, canon).Interface().(tl.Object)
}

var objType = reflect.TypeFor[tl.Object]()

func projectValue(v reflect.Value, s, canon *oSchema) reflect.Value {
	switch v.Kind() {
	case reflect.Interface:
		if v.IsNil() {
			return v
		}
		out := reflect.New(v.Type()).Elem()
		out.Set(projectValue(v.Elem(), s, canon))
		return out
	case reflect.Pointer:
		if v.IsNil() || v.Elem().Kind() != reflect.Struct {
			if !v.IsNil() {
				c := reflect.New(v.Type().Elem())
				c.Elem().Set(v.Elem())
				return c
			}
			return v
		}
		st := v.Type().Elem()
		out := reflect.New(st)
		if !v.Type().Implements(objType) {
			out.Elem().Set(v.Elem())
			return out
		}
		o := v.Interface().(tl.Object)
		if o.TypeID() == tl.VectorID {
			out.Elem().Field(0).Set(projectValue(v.Elem().Field(0), s, canon))
			return out
		}
		name := o.TypeName()
		lc, cc := s.byName[name], canon.byName[name]
		if lc == nil || cc == nil {
			out.Elem().Set(v.Elem())
			return out
		}
		for _, f := range cc.fields {
			if f.typ == "#" {
				continue
			}
			sf, ok := goFieldOf(st, f.name)
			if !ok {
				continue
			}
			keep := false
			for _, q := range lc.fields {
				if q.name == f.name && q.typ == f.typ {
					keep = true
				}
			}
			if !keep {
				continue
			}
			fv := projectValue(v.Elem().FieldByIndex(sf.Index), s, canon)
			if !f.optional() && fv.Kind() == reflect.Slice && fv.IsNil() && sf.Type.Elem().Kind() != reflect.Uint8 {
				fv = reflect.MakeSlice(sf.Type, 0, 0)
			}
			out.Elem().FieldByIndex(sf.Index).Set(fv)
		}
		return out
	case reflect.Slice:
		if v.IsNil() {
			return v
		}
		out := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := range v.Len() {
			out.Index(i).Set(projectValue(v.Index(i), s, canon))
		}
		return out
	}
	return v
}
