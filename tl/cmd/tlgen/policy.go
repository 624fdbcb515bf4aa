package main

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// Policy is the reviewed list of non-mechanical projections (tl/layers/policy.txt). One entry per line:
//
//	<action> <layers> <target> [<go func>] -- <reason>
//
// action is one of
//
//	field       target ctor.field: an old form's field that has no same-typed canonical field (dropped by the
//	            canonical layer, or its type changed) is computed by the Go func from the canonical struct:
//	            func(*Ctor) T, T the old field's Go type (a pointer for an optional scalar; nil = absent).
//	substitute  target ctor absent at the layers (or whose old form it cannot fill: a required old field with
//	            no canonical source): the Go func func(tl.Object) tl.Object returns a canonical value that the
//	            layer has, written in its place (projected in turn); nil: cannot (refused).
//	omit        same targets: an element of a vector is left out (the count written is what remains); anywhere
//	            else the value cannot be projected. Never a pts-carrying update.
//	result      target method whose old form returns another type: the old request decodes into the canonical
//	            request (its fields must map mechanically) and keeps its wire id; the Go func
//	            func(<canonical result>) tl.Object turns the handler's result into the old form's
//	            (api.ProjectResult).
//
// layers is a comma list of old layer numbers. Every entry must be needed at every layer it lists (a stale
// entry fails generation) and carry a reason.
type Policy struct {
	Entries []*PolicyEntry
}

// PolicyEntry is one line of the policy.
type PolicyEntry struct {
	Line   int
	Action string
	Layers []int
	Ctor   string // constructor, or method for result
	Class  string // substitute, omit: "class:T" targets every constructor of type T absent at the layer
	Field  string // for field
	Func   string // for field, substitute
	Reason string
}

// ParsePolicy reads a policy file; empty input is an empty policy.
func ParsePolicy(src []byte) (*Policy, error) {
	p := &Policy{}
	sc := bufio.NewScanner(bytes.NewReader(src))
	for ln := 1; sc.Scan(); ln++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		head, reason, ok := strings.Cut(line, " -- ")
		if !ok || strings.TrimSpace(reason) == "" {
			return nil, fmt.Errorf("policy line %d: no reason (`-- why`)", ln)
		}
		f := strings.Fields(head)
		if len(f) < 3 {
			return nil, fmt.Errorf("policy line %d: want <action> <layers> <target> [func]", ln)
		}
		e := &PolicyEntry{Line: ln, Action: f[0], Reason: strings.TrimSpace(reason)}
		for _, s := range strings.Split(f[1], ",") {
			n, err := strconv.Atoi(s)
			if err != nil {
				return nil, fmt.Errorf("policy line %d: bad layer %q", ln, s)
			}
			e.Layers = append(e.Layers, n)
		}
		switch e.Action {
		case "field":
			c, fld, ok := strings.Cut(f[2], ".")
			if !ok || len(f) != 4 {
				return nil, fmt.Errorf("policy line %d: field wants ctor.field and a Go func", ln)
			}
			e.Ctor, e.Field, e.Func = c, fld, f[3]
		case "substitute":
			if len(f) != 4 {
				return nil, fmt.Errorf("policy line %d: substitute wants a ctor and a Go func", ln)
			}
			e.Ctor, e.Func = f[2], f[3]
		case "result":
			if len(f) != 4 {
				return nil, fmt.Errorf("policy line %d: result wants a method and a Go func", ln)
			}
			e.Ctor, e.Func = f[2], f[3]
		case "omit":
			if len(f) != 3 {
				return nil, fmt.Errorf("policy line %d: omit wants a ctor only", ln)
			}
			e.Ctor = f[2]
		default:
			return nil, fmt.Errorf("policy line %d: unknown action %q", ln, e.Action)
		}
		if t, ok := strings.CutPrefix(e.Ctor, "class:"); ok && e.Action != "field" {
			e.Ctor, e.Class = "", t
		}
		p.Entries = append(p.Entries, e)
	}
	return p, sc.Err()
}

// forCtor returns the substitute or omit entry for constructor c (name, type) absent at layer: an entry
// naming the constructor wins over one naming its type.
func (p *Policy) forCtor(action string, layer int, name, typ string) *PolicyEntry {
	if e := p.find(action, layer, name, ""); e != nil {
		return e
	}
	if p == nil {
		return nil
	}
	for _, e := range p.Entries {
		if e.Action == action && e.Class == typ && e.Class != "" {
			for _, l := range e.Layers {
				if l == layer {
					return e
				}
			}
		}
	}
	return nil
}

// find returns the entry for (action, layer, ctor[, field]), or nil.
func (p *Policy) find(action string, layer int, ctor, field string) *PolicyEntry {
	if p == nil {
		return nil
	}
	for _, e := range p.Entries {
		if e.Action != action || e.Ctor != ctor || e.Ctor == "" || e.Field != field {
			continue
		}
		for _, l := range e.Layers {
			if l == layer {
				return e
			}
		}
	}
	return nil
}
