package validate

// Durable: keys written exactly once (f "put", as the set workload does) hold, in their final read (f "get",
// Final, ok), what that write's outcome says: an acknowledged write's value ("lost" if absent or different), a
// failed write's absence ("failed-visible"), either for an indeterminate one. Keys written more than once are
// left to Linearizable.

import (
	"github.com/raftgram/raftgram/jepsen/history"
)

// Durable checks write-once keys against their final reads.
type Durable struct {
	// Prefix limits the check to keys starting with it ("" = all write-once keys).
	Prefix string
}

// Name is "durable".
func (Durable) Name() string { return "durable" }

// Check judges every write-once key that has a final read.
func (c Durable) Check(events []history.Event) Result {
	r := newResult(c.Name())
	ops, ok := pair(r, events)
	if !ok {
		return r.Result
	}
	writes := map[string][]history.Op{}
	final := map[string]history.Op{}
	for _, o := range ops {
		k := o.Invoke.Key
		if len(k) < len(c.Prefix) || k[:len(c.Prefix)] != c.Prefix {
			continue
		}
		switch {
		case o.Invoke.F == "put" || o.Invoke.F == "cas" || o.Invoke.F == "claim":
			writes[k] = append(writes[k], o)
		case o.Invoke.F == "get" && o.Invoke.Final && o.Outcome() == history.OK:
			final[k] = o
		}
	}
	missing := 0
	for k, ws := range writes {
		if len(ws) != 1 || ws[0].Invoke.F != "put" {
			continue
		}
		w := ws[0]
		f, ok := final[k]
		if !ok {
			missing++
			continue
		}
		r.Stats["keys"]++
		got := f.Complete
		switch w.Outcome() {
		case history.OK:
			r.Stats["acknowledged"]++
			if got.Absent || got.Value != w.Invoke.Value {
				r.add("lost", evs(w, f), "acknowledged write %s=%q is gone: the final read finds %s", k,
					w.Invoke.Value, found(got))
			}
		case history.Fail:
			if !got.Absent {
				r.add("failed-visible", evs(w, f), "failed write %s=%q is visible: the final read finds %s", k,
					w.Invoke.Value, found(got))
			}
		case history.Info:
			r.Stats["indeterminate"]++
			if !got.Absent && got.Value != w.Invoke.Value {
				r.add("phantom", evs(w, f), "%s holds %s, which nobody wrote", k, found(got))
			}
		}
	}
	if missing > 0 {
		r.Stats["no-final-read"] = missing
	}
	if r.Stats["keys"] == 0 && r.Verdict == Valid {
		return r.unknown("no write-once key with a final read")
	}
	return r.Result
}

func found(e *history.Event) string {
	if e.Absent {
		return "nothing"
	}
	return "\"" + e.Value + "\""
}
