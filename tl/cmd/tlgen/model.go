package main

import (
	"fmt"
	"sort"
	"strings"
)

// Model is one package to generate: the canonical schema plus the layer variants mapped onto it.
type Model struct {
	Pkg    string
	Schema *Schema

	types map[string]*TypeInfo   // abstract type name -> info
	ctors map[string]*Combinator // constructor name -> combinator
	goOf  map[*Combinator]string // Go struct name

	// Legacy lists, per canonical combinator, the older-layer forms that decode mechanically into the
	// canonical struct (see mechanical in layers.go).
	Legacy map[*Combinator][]LegacyID

	// vectorResults are the Vector<T> result types of methods (T's TL name), sorted.
	vectorResults []string
}

// LegacyID is an older layer's form of a name that decodes into the canonical struct.
type LegacyID struct {
	ID     uint32
	Layers []int
	C      *Combinator // the old form (identical in every layer listed: same id, same layout)
}

// TypeInfo is an abstract (boxed) type and its constructors.
type TypeInfo struct {
	Name  string
	Ctors []*Combinator
}

// Single reports whether the type has exactly one constructor: fields of it are *Struct, not an interface.
func (t *TypeInfo) Single() bool { return len(t.Ctors) == 1 }

// NewModel indexes s.
func NewModel(pkg string, s *Schema) (*Model, error) {
	m := &Model{Pkg: pkg, Schema: s, types: map[string]*TypeInfo{}, ctors: map[string]*Combinator{},
		goOf: map[*Combinator]string{}, Legacy: map[*Combinator][]LegacyID{}}
	seenID := map[uint32]string{}
	goNames := map[string]string{}
	claim := func(goName, what string) error {
		if prev, ok := goNames[goName]; ok {
			return fmt.Errorf("go name %s used by %s and %s", goName, prev, what)
		}
		goNames[goName] = what
		return nil
	}
	for _, c := range append(append([]*Combinator{}, s.Types...), s.Functions...) {
		if prev, ok := seenID[c.ID]; ok {
			return nil, fmt.Errorf("id %08x used by %s and %s", c.ID, prev, c.Name)
		}
		seenID[c.ID] = c.Name
		g := goName(c.Name)
		if c.Function {
			g += "Request"
		}
		m.goOf[c] = g
		if err := claim(g, c.Name); err != nil {
			return nil, err
		}
		if err := claim(g+"TypeID", c.Name+" id"); err != nil {
			return nil, err
		}
		if c.Function {
			continue
		}
		if _, dup := m.ctors[c.Name]; dup {
			return nil, fmt.Errorf("constructor %s defined twice", c.Name)
		}
		m.ctors[c.Name] = c
		t := m.types[c.Result]
		if t == nil {
			t = &TypeInfo{Name: c.Result}
			m.types[c.Result] = t
		}
		t.Ctors = append(t.Ctors, c)
	}
	for _, t := range m.types {
		if !t.Single() {
			if err := claim(m.classGo(t), t.Name+" interface"); err != nil {
				return nil, err
			}
		}
	}
	// Check every field type resolves, and collect vector results.
	vr := map[string]bool{}
	for _, c := range append(append([]*Combinator{}, s.Types...), s.Functions...) {
		for _, p := range c.Params {
			if p.IsFlags() || p.IsTrue() {
				continue
			}
			if _, err := m.goType(p.Type, c); err != nil {
				return nil, fmt.Errorf("%s.%s: %w", c.Name, p.Name, err)
			}
		}
		if c.Function && !m.isGeneric(c.Result, c) {
			if e, ok := vectorElem(c.Result); ok {
				vr[e] = true
			} else if m.types[c.Result] == nil {
				return nil, fmt.Errorf("%s: unknown result type %s", c.Name, c.Result)
			}
		}
	}
	for e := range vr {
		m.vectorResults = append(m.vectorResults, e)
	}
	sort.Strings(m.vectorResults)
	return m, nil
}

func (m *Model) classGo(t *TypeInfo) string { return goName(t.Name) + "Class" }

func (m *Model) isGeneric(t string, c *Combinator) bool {
	t = strings.TrimPrefix(t, "!")
	if t == "Object" {
		return true
	}
	for _, g := range c.Generic {
		if g == t {
			return true
		}
	}
	return false
}

func vectorElem(t string) (string, bool) {
	if strings.HasPrefix(t, "Vector<") && strings.HasSuffix(t, ">") {
		return t[len("Vector<") : len(t)-1], true
	}
	return "", false
}

func bareVectorElem(t string) (string, bool) {
	if strings.HasPrefix(t, "vector<") && strings.HasSuffix(t, ">") {
		return t[len("vector<") : len(t)-1], true
	}
	return "", false
}

var primGo = map[string]string{
	"int": "int32", "long": "int64", "double": "float64", "string": "string", "bytes": "[]byte",
	"int128": "tl.Int128", "int256": "tl.Int256", "Bool": "bool", "true": "bool",
}

// bareCtor resolves a bare reference (%Type or a constructor name) to its constructor.
func (m *Model) bareCtor(t string) (*Combinator, bool) {
	if strings.HasPrefix(t, "%") {
		ti := m.types[t[1:]]
		if ti == nil || !ti.Single() {
			return nil, false
		}
		return ti.Ctors[0], true
	}
	c, ok := m.ctors[t]
	return c, ok && t[:1] == strings.ToLower(t[:1])
}

// goType returns the Go type of a (required) field of TL type t in combinator c.
func (m *Model) goType(t string, c *Combinator) (string, error) {
	if g, ok := primGo[t]; ok {
		return g, nil
	}
	if m.isGeneric(t, c) {
		return "tl.Object", nil
	}
	if e, ok := vectorElem(t); ok {
		g, err := m.goType(e, c)
		return "[]" + g, err
	}
	if e, ok := bareVectorElem(t); ok {
		g, err := m.goType(e, c)
		return "[]" + g, err
	}
	if bc, ok := m.bareCtor(t); ok {
		return "*" + m.goOf[bc], nil
	}
	ti := m.types[t]
	if ti == nil {
		return "", fmt.Errorf("unknown type %q", t)
	}
	if ti.Single() {
		return "*" + m.goOf[ti.Ctors[0]], nil
	}
	return m.classGo(ti), nil
}

// decodeFunc returns the name of the function that decodes a boxed value of abstract type t.
func (m *Model) decodeFunc(ti *TypeInfo) string {
	if ti.Single() {
		return "Decode" + m.goOf[ti.Ctors[0]]
	}
	return "Decode" + m.classGo(ti)
}

// minSize is the least number of bytes a bare value of c occupies on the wire (>= 1), used to bound vector
// counts before allocating.
func (m *Model) minSize(c *Combinator, depth int) int {
	n := 0
	for _, p := range c.Params {
		if p.Optional() {
			continue
		}
		n += m.typeMinSize(p.Type, c, depth)
	}
	if n < 1 {
		n = 1
	}
	return n
}

func (m *Model) typeMinSize(t string, c *Combinator, depth int) int {
	switch t {
	case "#", "int", "string", "bytes", "Bool":
		return 4
	case "long", "double":
		return 8
	case "int128":
		return 16
	case "int256":
		return 32
	}
	if _, ok := vectorElem(t); ok {
		return 8
	}
	if _, ok := bareVectorElem(t); ok {
		return 4
	}
	if bc, ok := m.bareCtor(t); ok && depth < 8 {
		return m.minSize(bc, depth+1)
	}
	return 4
}
