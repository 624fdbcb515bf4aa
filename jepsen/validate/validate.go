package validate

import (
	"fmt"
	"sort"

	"github.com/raftgram/raftgram/jepsen/history"
)

// Verdict of one checker.
type Verdict string

// Verdicts. Unknown: the checker could not decide (no data, or the search timed out).
const (
	Valid   Verdict = "valid"
	Invalid Verdict = "invalid"
	Unknown Verdict = "unknown"
)

// MaxAnomalies caps the anomalies one checker reports; the rest are only counted.
const MaxAnomalies = 100

// Anomaly is one violation with the events (history indexes) that show it.
type Anomaly struct {
	Kind string `json:"kind"`
	// Key is the register key the anomaly is about, when it is about one.
	Key    string  `json:"key,omitempty"`
	Text   string  `json:"text"`
	Events []int64 `json:"events"`
}

// Result is a checker's verdict.
type Result struct {
	Checker   string         `json:"checker"`
	Verdict   Verdict        `json:"verdict"`
	Note      string         `json:"note,omitempty"`
	Anomalies []Anomaly      `json:"anomalies,omitempty"`
	Dropped   int            `json:"dropped,omitempty"` // anomalies past MaxAnomalies
	Stats     map[string]int `json:"stats,omitempty"`
}

// Checker judges a history.
type Checker interface {
	Name() string
	Check(events []history.Event) Result
}

// result collects anomalies under the cap.
type result struct{ Result }

func newResult(name string) *result {
	return &result{Result{Checker: name, Verdict: Valid, Stats: map[string]int{}}}
}

func (r *result) add(kind string, evs []int64, format string, args ...any) {
	r.addKey(kind, "", evs, format, args...)
}

// addKey is add for an anomaly about one key.
func (r *result) addKey(kind, key string, evs []int64, format string, args ...any) {
	r.Verdict = Invalid
	r.Stats["anomaly:"+kind]++
	if len(r.Anomalies) >= MaxAnomalies {
		r.Dropped++
		return
	}
	sort.Slice(evs, func(i, j int) bool { return evs[i] < evs[j] })
	r.Anomalies = append(r.Anomalies, Anomaly{Kind: kind, Key: key, Text: fmt.Sprintf(format, args...), Events: evs})
}

func (r *result) unknown(note string) Result {
	if r.Verdict == Valid {
		r.Verdict = Unknown
	}
	r.Note = note
	return r.Result
}

// evs lists the indexes of an op's events.
func evs(ops ...history.Op) []int64 {
	var out []int64
	for _, o := range ops {
		out = append(out, o.Invoke.Index)
		if o.Complete != nil {
			out = append(out, o.Complete.Index)
		}
	}
	return out
}

// pair wraps history.Pair for checkers: a broken record makes the verdict unknown.
func pair(r *result, events []history.Event) ([]history.Op, bool) {
	ops, err := history.Pair(events)
	if err != nil {
		r.unknown(err.Error())
		return nil, false
	}
	return ops, true
}

// Run runs checkers in order.
func Run(events []history.Event, checkers ...Checker) []Result {
	out := make([]Result, 0, len(checkers))
	for _, c := range checkers {
		out = append(out, c.Check(events))
	}
	return out
}

// AllValid reports whether no checker said invalid (unknown is not a failure, but is reported).
func AllValid(rs []Result) bool {
	for _, r := range rs {
		if r.Verdict == Invalid {
			return false
		}
	}
	return true
}
