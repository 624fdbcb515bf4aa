package validate

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/raftgram/raftgram/jepsen/history"
)

func TestLinearizableRegisterHistory(t *testing.T) {
	s := newSynth()
	s.op(history.Event{Process: 0, F: "put", Key: "x", Value: "1"}, history.OK, nil)
	s.op(history.Event{Process: 1, F: "get", Key: "x"}, history.OK, func(e *history.Event) { e.Value = "1" })
	s.op(history.Event{Process: 2, F: "cas", Key: "x", Expect: "1", Value: "2"}, history.OK, nil)
	s.op(history.Event{Process: 3, F: "cas", Key: "x", Expect: "1", Value: "3"}, history.OK,
		func(e *history.Event) { e.Mismatch = true })
	s.op(history.Event{Process: 4, F: "put", Key: "x", Value: "9"}, history.Info, nil) // may land any time
	s.op(history.Event{Process: 5, F: "get", Key: "x"}, history.OK, func(e *history.Event) { e.Value = "2" })
	s.op(history.Event{Process: 5, F: "get", Key: "x"}, history.OK, func(e *history.Event) { e.Value = "9" })
	s.op(history.Event{Process: 6, F: "get", Key: "y"}, history.Fail, nil)
	verdict(t, Linearizable{}, s.evs, Valid, "")
}

func TestPlantedStaleRegisterRead(t *testing.T) {
	s := newSynth()
	s.op(history.Event{Process: 0, F: "put", Key: "x", Value: "1"}, history.OK, nil)
	s.op(history.Event{Process: 0, F: "put", Key: "x", Value: "2"}, history.OK, nil)
	s.op(history.Event{Process: 1, F: "get", Key: "x", Node: 2}, history.OK, func(e *history.Event) { e.Value = "1" })
	s.op(history.Event{Process: 1, F: "get", Key: "y"}, history.OK, func(e *history.Event) { e.Absent = true })
	vis := filepath.Join(t.TempDir(), "lin.html")
	r := verdict(t, Linearizable{VisualizePath: vis}, s.evs, Invalid, "not-linearizable")
	if len(r.Anomalies) != 1 {
		t.Fatalf("only key x is broken: %+v", r.Anomalies)
	}
	if st, err := os.Stat(vis); err != nil || st.Size() == 0 {
		t.Fatalf("no porcupine visualization: %v", err)
	}
	t.Logf("caught: %s (events %v)", r.Anomalies[0].Text, r.Anomalies[0].Events)
}

func TestPlantedLostRegisterWrite(t *testing.T) {
	s := newSynth()
	s.op(history.Event{Process: 0, F: "put", Key: "x", Value: "1"}, history.OK, nil)
	s.op(history.Event{Process: 1, F: "get", Key: "x"}, history.OK, func(e *history.Event) { e.Absent = true })
	verdict(t, Linearizable{}, s.evs, Invalid, "not-linearizable")
}

func TestUniqueClaim(t *testing.T) {
	s := newSynth()
	s.op(history.Event{Process: 0, F: "claim", Key: "u", Value: "a"}, history.Info, nil)
	s.op(history.Event{Process: 1, F: "claim", Key: "u", Value: "b"}, history.OK, nil)
	s.op(history.Event{Process: 2, F: "claim", Key: "u", Value: "c"}, history.OK, func(e *history.Event) { e.Mismatch = true })
	s.op(history.Event{Process: 3, F: "get", Key: "u", Final: true}, history.OK, func(e *history.Event) { e.Value = "b" })
	verdict(t, UniqueClaim{}, s.evs, Valid, "")
	verdict(t, Linearizable{}, s.evs, Valid, "")

	s = newSynth()
	s.op(history.Event{Process: 0, F: "claim", Key: "u", Value: "a"}, history.OK, nil)
	s.op(history.Event{Process: 1, F: "claim", Key: "u", Value: "b"}, history.OK, nil)
	s.op(history.Event{Process: 3, F: "get", Key: "u", Final: true}, history.OK, func(e *history.Event) { e.Value = "b" })
	verdict(t, UniqueClaim{}, s.evs, Invalid, "double-claim")
	verdict(t, UniqueClaim{}, s.evs, Invalid, "claim-lost")

	s = newSynth()
	s.op(history.Event{Process: 0, F: "claim", Key: "u", Value: "a"}, history.Fail, nil)
	s.op(history.Event{Process: 3, F: "get", Key: "u", Final: true}, history.OK, func(e *history.Event) { e.Value = "a" })
	verdict(t, UniqueClaim{}, s.evs, Invalid, "phantom-claim")

	// The history of bug 1 (README): one claim indeterminate, the others told "taken", nobody holds it.
	s = newSynth()
	s.op(history.Event{Process: 0, F: "claim", Key: "mt:user-x", Value: "c4"}, history.Info, nil)
	s.op(history.Event{Process: 1, F: "claim", Key: "mt:user-x", Value: "c3"}, history.OK, func(e *history.Event) { e.Mismatch = true })
	s.op(history.Event{Process: 3, F: "get", Key: "mt:user-x", Final: true}, history.OK, func(e *history.Event) { e.Absent = true })
	r := verdict(t, UniqueClaim{Only: "mt:", Label: "username"}, s.evs, Invalid, "stuck-claim")
	if r.Checker != "unique-claim/username" || r.Anomalies[0].Key != "mt:user-x" {
		t.Fatalf("%+v", r)
	}
	verdict(t, Linearizable{Only: "mt:"}, s.evs, Invalid, "not-linearizable")
	verdict(t, UniqueClaim{Except: "mt:"}, s.evs, Unknown, "")
}

func TestDurable(t *testing.T) {
	s := newSynth()
	s.op(history.Event{Process: 0, F: "put", Key: "s1", Value: "a"}, history.OK, nil)
	s.op(history.Event{Process: 0, F: "put", Key: "s2", Value: "b"}, history.Info, nil)
	s.op(history.Event{Process: 0, F: "put", Key: "s3", Value: "c"}, history.Fail, nil)
	s.op(history.Event{Process: 0, F: "put", Key: "s4", Value: "d"}, history.OK, nil)
	fin := func(k string, fill func(*history.Event)) {
		s.op(history.Event{Process: 1, F: "get", Key: k, Final: true}, history.OK, fill)
	}
	fin("s1", func(e *history.Event) { e.Value = "a" })
	fin("s2", func(e *history.Event) { e.Absent = true })
	fin("s3", func(e *history.Event) { e.Absent = true })
	verdict(t, Durable{}, s.evs, Valid, "")
	fin("s4", func(e *history.Event) { e.Absent = true }) // planted: an acknowledged write vanished
	r := verdict(t, Durable{}, s.evs, Invalid, "lost")
	t.Logf("caught: %s", r.Anomalies[0].Text)
}
