package model

import (
	"fmt"

	"github.com/anishathalye/porcupine"
)

// Op names of the register model.
const (
	Put = "put"
	Get = "get"
	CAS = "cas"
)

// Input is one register operation on Key.
type Input struct {
	Op     string
	Key    string
	Value  string // put/cas: the new value
	Expect string // cas: the expected value, unless Absent
	Absent bool   // cas: expect the key to be absent
}

// Output is what the system answered. Unknown: no answer (the operation may or may not have taken effect).
type Output struct {
	Unknown  bool
	Value    string // get: the value read
	Absent   bool   // get: the key was absent
	Mismatch bool   // cas: the comparison failed
}

// State is one key's register: Set is false while the key is absent.
type State struct {
	Set   bool
	Value string
}

func (s State) String() string {
	if !s.Set {
		return "∅"
	}
	return fmt.Sprintf("%q", s.Value)
}

func (in Input) matches(s State) bool {
	if in.Absent {
		return !s.Set
	}
	return s.Set && s.Value == in.Expect
}

// step lists every state the register can be in after in ran on s and answered out.
func step(s State, in Input, out Output) []State {
	next := State{Set: true, Value: in.Value}
	switch in.Op {
	case Put:
		if out.Unknown {
			return []State{s, next}
		}
		return []State{next}
	case CAS:
		ok := in.matches(s)
		switch {
		case out.Unknown && ok:
			return []State{s, next}
		case out.Unknown:
			return []State{s}
		case out.Mismatch && !ok:
			return []State{s}
		case !out.Mismatch && ok:
			return []State{next}
		}
		return nil
	case Get:
		if out.Unknown { // a read that did not answer says nothing
			return []State{s}
		}
		if out.Absent == !s.Set && (!s.Set || out.Value == s.Value) {
			return []State{s}
		}
		return nil
	}
	return nil
}

// Register is the porcupine model of independent registers, one per key.
func Register() porcupine.Model {
	nm := porcupine.NondeterministicModel{
		Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
			byKey := map[string][]porcupine.Operation{}
			var keys []string
			for _, op := range h {
				k := op.Input.(Input).Key
				if _, ok := byKey[k]; !ok {
					keys = append(keys, k)
				}
				byKey[k] = append(byKey[k], op)
			}
			out := make([][]porcupine.Operation, 0, len(keys))
			for _, k := range keys {
				out = append(out, byKey[k])
			}
			return out
		},
		Init: func() []interface{} { return []interface{}{State{}} },
		Step: func(state, input, output interface{}) []interface{} {
			var out []interface{}
			for _, s := range step(state.(State), input.(Input), output.(Output)) {
				out = append(out, s)
			}
			return out
		},
		Equal: func(a, b interface{}) bool { return a.(State) == b.(State) },
		DescribeOperation: func(input, output interface{}) string {
			return Describe(input.(Input), output.(Output))
		},
		DescribeState: func(state interface{}) string { return state.(State).String() },
	}
	return nm.ToModel()
}

// Describe renders an operation for reports: put(k, v), get(k) -> v, cas(k, old -> new) -> ok.
func Describe(in Input, out Output) string {
	res := "ok"
	switch {
	case out.Unknown:
		res = "?"
	case in.Op == Get && out.Absent:
		res = "∅"
	case in.Op == Get:
		res = fmt.Sprintf("%q", out.Value)
	case out.Mismatch:
		res = "mismatch"
	}
	switch in.Op {
	case CAS:
		old := fmt.Sprintf("%q", in.Expect)
		if in.Absent {
			old = "∅"
		}
		return fmt.Sprintf("cas(%s, %s→%q) → %s", in.Key, old, in.Value, res)
	case Put:
		return fmt.Sprintf("put(%s, %q) → %s", in.Key, in.Value, res)
	}
	return fmt.Sprintf("%s(%s) → %s", in.Op, in.Key, res)
}
