package validate

// Linearizable: the register operations (put, get, cas, claim) are linearizable per key, checked by porcupine
// against model.Register. An ok write took effect once between its invocation and completion; an info (or never
// completed) write took effect once at some time after its invocation, or never; a fail write never did. Reads
// that did not complete say nothing and are dropped.

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/raftgram/raftgram/jepsen/history"
	"github.com/raftgram/raftgram/jepsen/model"
)

// Linearizable checks register histories with porcupine.
type Linearizable struct {
	// Timeout bounds the search per key (default 30 s); a timeout makes the verdict unknown.
	Timeout time.Duration
	// VisualizePath, when set, receives porcupine's HTML visualization of the keys that failed.
	VisualizePath string
	// Only / Except, when set, keep only the keys with (without) this prefix; Label names the selection
	// ("linearizable/<label>").
	Only, Except, Label string
}

// Name is "linearizable", or "linearizable/<Label>".
func (l Linearizable) Name() string { return labeled("linearizable", l.Label) }

func labeled(name, label string) string {
	if label == "" {
		return name
	}
	return name + "/" + label
}

// keep reports whether key is in the selection.
func keep(key, only, except string) bool {
	return strings.HasPrefix(key, only) && (except == "" || !strings.HasPrefix(key, except))
}

func byKey(ops []history.Op, only, except string) []history.Op {
	var out []history.Op
	for _, o := range ops {
		if keep(o.Invoke.Key, only, except) {
			out = append(out, o)
		}
	}
	return out
}

// RegisterOps are the history F values this checker reads.
var RegisterOps = []string{"put", "get", "cas", "claim"}

// Operations converts register ops into porcupine operations grouped by key, in key order. end is the
// return time given to indeterminate writes. Each operation's Metadata is the []int64 of its events' indexes.
func Operations(ops []history.Op, end int64) map[string][]porcupine.Operation {
	out := map[string][]porcupine.Operation{}
	for _, o := range ops {
		in := model.Input{Op: o.Invoke.F, Key: o.Invoke.Key, Value: o.Invoke.Value, Expect: o.Invoke.Expect,
			Absent: o.Invoke.Absent}
		if in.Op == "claim" {
			in.Op, in.Absent = model.CAS, true
		}
		var outp model.Output
		ret := end
		switch o.Outcome() {
		case history.Fail:
			continue
		case history.Info:
			if in.Op == model.Get {
				continue
			}
			outp.Unknown = true
		case history.OK:
			c := o.Complete
			outp = model.Output{Value: c.Value, Absent: c.Absent, Mismatch: c.Mismatch}
			ret = c.Time
		}
		out[in.Key] = append(out[in.Key], porcupine.Operation{ClientId: o.Invoke.Process, Input: in,
			Call: o.Invoke.Time, Output: outp, Return: ret, Metadata: evs(o)})
	}
	return out
}

// Check runs porcupine per key.
func (l Linearizable) Check(events []history.Event) Result {
	r := newResult(l.Name())
	ops, ok := pair(r, events)
	if !ok {
		return r.Result
	}
	ops = byKey(history.ByF(ops, RegisterOps...), l.Only, l.Except)
	if len(ops) == 0 {
		return r.unknown("no register operations")
	}
	timeout := l.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	byKey := Operations(ops, history.MaxTime(events)+1)
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	m := model.Register()
	var bad []porcupine.Operation
	timedOut := 0
	for _, k := range keys {
		h := byKey[k]
		r.Stats["operations"] += len(h)
		res, info := porcupine.CheckOperationsVerbose(m, h, timeout)
		switch res {
		case porcupine.Unknown:
			timedOut++
		case porcupine.Illegal:
			bad = append(bad, h...)
			r.addKey("not-linearizable", k, frontier(h, info), "key %q: no linearization of its %d operations exists; "+
				"the events are the operations just past the longest linearizable prefix", k, len(h))
		}
	}
	r.Stats["keys"] = len(keys)
	if len(bad) > 0 && l.VisualizePath != "" {
		_, info := porcupine.CheckOperationsVerbose(m, bad, timeout)
		if f, err := os.Create(l.VisualizePath); err == nil {
			_ = porcupine.Visualize(m, info, f)
			_ = f.Close()
		}
	}
	if timedOut > 0 {
		return r.unknown(fmt.Sprintf("porcupine timed out on %d keys", timedOut))
	}
	return r.Result
}

// frontier picks the events that show a failed key: the operations not in its longest partial linearization
// in invocation order (the ones that could not be placed), at most 12 operations.
func frontier(h []porcupine.Operation, info porcupine.LinearizationInfo) []int64 {
	placed := map[int]bool{}
	longest := []int{}
	for _, part := range info.PartialLinearizations() {
		for _, lin := range part {
			if len(lin) > len(longest) {
				longest = lin
			}
		}
	}
	for _, i := range longest {
		placed[i] = true
	}
	var rest []porcupine.Operation
	for i, op := range h {
		if !placed[i] {
			rest = append(rest, op)
		}
	}
	sort.Slice(rest, func(i, j int) bool { return rest[i].Call < rest[j].Call })
	var out []int64
	for _, op := range rest {
		if len(out) >= 24 {
			break
		}
		out = append(out, op.Metadata.([]int64)...)
	}
	// Also the last operation placed: the state it left is what the next one contradicted.
	if len(longest) > 0 {
		out = append(out, h[longest[len(longest)-1]].Metadata.([]int64)...)
	}
	return out
}
