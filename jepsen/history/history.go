package history

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"
)

// Type is what an event says about its operation.
type Type string

// Event types. Invoke starts an operation; OK, Fail and Info complete it (Info: outcome unknown).
const (
	Invoke Type = "invoke"
	OK     Type = "ok"
	Fail   Type = "fail"
	Info   Type = "info"
	// Observe is a standalone observation with no invocation (a pushed update a device received).
	Observe Type = "observe"
)

// NemesisProcess is the process id of the (first) fault schedule; a run with several concurrent schedules
// gives stream k the process NemesisProcess-k. Client processes are >= 0.
const NemesisProcess = -1

// IsNemesis reports whether process p is a fault schedule's.
func IsNemesis(p int) bool { return p <= NemesisProcess }

// Msg is one message as a reader saw it in a box.
type Msg struct {
	ID   int64  `json:"id"`
	Text string `json:"text"`
	Out  bool   `json:"out,omitempty"` // in the reader's box as sent by the reader
	Pts  int64  `json:"pts,omitempty"`
}

// Event is one line of history.jsonl. Fields beyond the first six are per workload; unused ones are omitted.
type Event struct {
	Index   int64  `json:"index"`
	Time    int64  `json:"time"` // nanoseconds since the run started
	Type    Type   `json:"type"`
	Process int    `json:"process"`
	Node    int    `json:"node"` // index of the node the operation went through; -1 for none
	F       string `json:"f"`

	// Registers (put, get, cas, claim).
	Key    string `json:"key,omitempty"`
	Value  string `json:"value,omitempty"`  // put/cas: the new value; get ok: the value read
	Expect string `json:"expect,omitempty"` // cas: the expected current value (unless Absent)
	Absent bool   `json:"absent,omitempty"` // cas: expect the key to be absent; get ok: the key was absent
	// Mismatch on a cas completion: the comparison failed, nothing was written.
	Mismatch bool `json:"mismatch,omitempty"`

	// Messenger (send, read, pts). User is the acting user, Peer the other side of the dialog, Device the
	// user's device (one device = one MTProto session).
	User   int64  `json:"user,omitempty"`
	Peer   int64  `json:"peer,omitempty"`
	Device int    `json:"device,omitempty"`
	Text   string `json:"text,omitempty"`
	MsgID  int64  `json:"msg_id,omitempty"` // send ok: the id in the sender's box
	Pts    int64  `json:"pts,omitempty"`
	// PtsCount is the update's pts_count; Source is "push", "diff" (getDifference) or "state" (getState).
	PtsCount int64  `json:"pts_count,omitempty"`
	Source   string `json:"source,omitempty"`
	// From is the pts a getDifference asked from ("diff" and its "state"); Asked is the time (on the run's
	// clock) the getState or getDifference was sent ("state", "diff").
	From  int64 `json:"from,omitempty"`
	Asked int64 `json:"asked,omitempty"`
	Msgs  []Msg `json:"msgs,omitempty"`  // read ok: the dialog as seen, in box order
	Final bool  `json:"final,omitempty"` // a read of the final phase, after healing

	Error string `json:"error,omitempty"`
}

// Op is an invocation paired with its completion. Complete is nil when the run ended first (treat as Info).
type Op struct {
	Invoke   Event
	Complete *Event
}

// Outcome is the completion type, Info when the operation never completed.
func (o Op) Outcome() Type {
	if o.Complete == nil {
		return Info
	}
	return o.Complete.Type
}

// End is the completion time, or max when the operation never completed or its outcome is unknown (an
// indeterminate operation may take effect at any later time).
func (o Op) End(max int64) int64 {
	if o.Complete == nil || o.Complete.Type == Info {
		return max
	}
	return o.Complete.Time
}

// Recorder appends events with increasing indexes and times from one clock. Safe for concurrent use.
type Recorder struct {
	mu     sync.Mutex
	start  time.Time
	now    func() time.Time
	events []Event
	w      *bufio.Writer
	werr   error
}

// NewRecorder records against now (time.Now in the runner, a fake clock in tests). If w is not nil every event
// is also written to it as a JSON line as it happens, so a crashed run leaves its history behind.
func NewRecorder(now func() time.Time, w io.Writer) *Recorder {
	r := &Recorder{now: now, start: now()}
	if w != nil {
		r.w = bufio.NewWriter(w)
	}
	return r
}

// Add stamps e with the next index and the current time and records it. It returns the stamped event.
func (r *Recorder) Add(e Event) Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	e.Index = int64(len(r.events))
	e.Time = int64(r.now().Sub(r.start))
	r.events = append(r.events, e)
	if r.w != nil && r.werr == nil {
		b, err := json.Marshal(e)
		if err == nil {
			b = append(b, '\n')
			_, err = r.w.Write(b)
		}
		r.werr = err
	}
	return e
}

// Since is the run's clock: time elapsed since the recorder was created.
func (r *Recorder) Since() time.Duration { return r.now().Sub(r.start) }

// Start is the wall time the run's clock counts from.
func (r *Recorder) Start() time.Time { return r.start }

// Events returns a copy of everything recorded so far.
func (r *Recorder) Events() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events...)
}

// Flush writes buffered lines and reports the first write error.
func (r *Recorder) Flush() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.w == nil {
		return nil
	}
	if r.werr != nil {
		return fmt.Errorf("history: write: %w", r.werr)
	}
	if err := r.w.Flush(); err != nil {
		return fmt.Errorf("history: flush: %w", err)
	}
	return nil
}

// MaxLine bounds one JSONL line when reading (a final read of a large dialog fits well below).
const MaxLine = 16 << 20

// Read parses a JSONL history.
func Read(rd io.Reader) ([]Event, error) {
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 64<<10), MaxLine)
	var out []Event
	for line := 1; sc.Scan(); line++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var e Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, fmt.Errorf("history: line %d: %w", line, err)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("history: read: %w", err)
	}
	return out, nil
}

// Write writes events as JSONL.
func Write(w io.Writer, events []Event) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for _, e := range events {
		if err := enc.Encode(e); err != nil {
			return fmt.Errorf("history: encode event %d: %w", e.Index, err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("history: write: %w", err)
	}
	return nil
}

// Pair matches each invocation with the next completion of the same process, in invocation order. Events of
// nemesis processes are paired the same way; Observe events are skipped. A completion without an invocation is an error (a broken record).
func Pair(events []Event) ([]Op, error) {
	sorted := append([]Event(nil), events...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Index < sorted[j].Index })
	open := map[int]int{} // process -> index into ops
	var ops []Op
	for _, e := range sorted {
		if e.Type == Observe {
			continue
		}
		if e.Type == Invoke {
			if i, ok := open[e.Process]; ok {
				return nil, fmt.Errorf("history: process %d invoked event %d while event %d is open", e.Process,
					e.Index, ops[i].Invoke.Index)
			}
			open[e.Process] = len(ops)
			ops = append(ops, Op{Invoke: e})
			continue
		}
		i, ok := open[e.Process]
		if !ok {
			return nil, fmt.Errorf("history: event %d completes nothing (process %d has no open invocation)",
				e.Index, e.Process)
		}
		c := e
		ops[i].Complete = &c
		delete(open, e.Process)
	}
	return ops, nil
}

// ByF keeps the ops whose invocation's F is one of fs.
func ByF(ops []Op, fs ...string) []Op {
	var out []Op
	for _, o := range ops {
		for _, f := range fs {
			if o.Invoke.F == f {
				out = append(out, o)
				break
			}
		}
	}
	return out
}

// MaxTime is the latest time in events (the end of the run as far as the record knows).
func MaxTime(events []Event) int64 {
	var m int64
	for _, e := range events {
		m = max(m, e.Time)
	}
	return m
}
