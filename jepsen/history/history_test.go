package history

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { c.t = c.t.Add(time.Millisecond); return c.t }

func TestRecordWriteReadPair(t *testing.T) {
	var buf bytes.Buffer
	clk := &fakeClock{t: time.Unix(0, 0)}
	r := NewRecorder(clk.now, &buf)
	r.Add(Event{Type: Invoke, Process: 0, Node: 1, F: "put", Key: "k", Value: "1"})
	r.Add(Event{Type: Invoke, Process: 1, Node: 2, F: "get", Key: "k"})
	r.Add(Event{Type: OK, Process: 1, Node: 2, F: "get", Key: "k", Absent: true})
	r.Add(Event{Type: Info, Process: 0, Node: 1, F: "put", Key: "k", Value: "1", Error: "timeout"})
	r.Add(Event{Type: Invoke, Process: 2, Node: 0, F: "get", Key: "k"})
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	evs, err := Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 5 || evs[3].Error != "timeout" || evs[4].Time <= evs[0].Time {
		t.Fatalf("read back %+v", evs)
	}
	ops, err := Pair(evs)
	if err != nil {
		t.Fatal(err)
	}
	if len(ops) != 3 || ops[0].Outcome() != Info || ops[1].Outcome() != OK || ops[2].Complete != nil {
		t.Fatalf("pairs %+v", ops)
	}
	if ops[0].End(99) != 99 || ops[1].End(99) != ops[1].Complete.Time {
		t.Fatal("End of an indeterminate op must be the end of time")
	}
}

func TestPairRejectsBrokenRecords(t *testing.T) {
	if _, err := Pair([]Event{{Index: 0, Type: OK, Process: 3}}); err == nil {
		t.Fatal("completion without invocation accepted")
	}
	if _, err := Pair([]Event{{Index: 0, Type: Invoke, Process: 3}, {Index: 1, Type: Invoke, Process: 3}}); err == nil {
		t.Fatal("two open invocations of one process accepted")
	}
}

func TestReadRejectsGarbage(t *testing.T) {
	if _, err := Read(strings.NewReader("{\"index\":1}\nnot json\n")); err == nil {
		t.Fatal("garbage accepted")
	}
}
