package validate

import (
	"fmt"
	"testing"

	"github.com/raftgram/raftgram/jepsen/history"
)

// synth builds histories by hand: every call advances the clock by one tick.
type synth struct {
	evs  []history.Event
	now  int64
	msgs map[int64]map[int64][]history.Msg // user -> peer -> box
	ids  map[int64]int64
	pts  map[int64]int64
}

func newSynth() *synth {
	return &synth{msgs: map[int64]map[int64][]history.Msg{}, ids: map[int64]int64{}, pts: map[int64]int64{}}
}

func (s *synth) add(e history.Event) history.Event {
	s.now++
	e.Index, e.Time = int64(len(s.evs)), s.now
	s.evs = append(s.evs, e)
	return e
}

// op records invoke then completion back to back (no concurrency).
func (s *synth) op(inv history.Event, t history.Type, fill func(*history.Event)) {
	inv.Type = history.Invoke
	s.add(inv)
	c := inv
	c.Type = t
	if fill != nil {
		fill(&c)
	}
	s.add(c)
}

func (s *synth) deliver(user, peer int64, text string, out bool) history.Msg {
	s.ids[user]++
	s.pts[user]++
	m := history.Msg{ID: s.ids[user], Text: text, Out: out, Pts: s.pts[user]}
	if s.msgs[user] == nil {
		s.msgs[user] = map[int64][]history.Msg{}
	}
	s.msgs[user][peer] = append(s.msgs[user][peer], m)
	return m
}

// send performs a correct send of text from -> to through device dev and returns the sender's message.
func (s *synth) send(p int, from, to int64, dev int, text string) history.Msg {
	m := s.deliver(from, to, text, true)
	s.deliver(to, from, text, false)
	s.op(history.Event{Process: p, F: "send", User: from, Peer: to, Device: dev, Text: text}, history.OK,
		func(e *history.Event) { e.MsgID, e.Pts = m.ID, m.Pts })
	return m
}

func (s *synth) read(p int, user, peer int64, dev int, final bool) {
	box := append([]history.Msg(nil), s.msgs[user][peer]...)
	s.op(history.Event{Process: p, F: "read", User: user, Peer: peer, Device: dev, Final: final}, history.OK,
		func(e *history.Event) { e.Msgs = box })
}

func (s *synth) finalReads(users ...int64) {
	for _, u := range users {
		for _, v := range users {
			if u != v {
				s.read(99, u, v, 9, true)
			}
		}
	}
}

// healthy: 3 users chatting, reads on other devices, final reads; pts pushes per device.
func healthy() *synth {
	s := newSynth()
	for i := 0; i < 12; i++ {
		from, to := int64(1+i%3), int64(1+(i+1)%3)
		s.send(int(from), from, to, 1, fmt.Sprintf("m%d", i))
		s.read(10+int(from), from, to, 2, false)
	}
	s.finalReads(1, 2, 3)
	return s
}

func verdict(t *testing.T, c Checker, evs []history.Event, want Verdict, kind string) Result {
	t.Helper()
	r := c.Check(evs)
	if r.Verdict != want {
		t.Fatalf("%s: verdict %s, want %s: %+v", c.Name(), r.Verdict, want, r)
	}
	if kind != "" {
		found := false
		for _, a := range r.Anomalies {
			found = found || a.Kind == kind
			if len(a.Events) == 0 {
				t.Fatalf("%s: anomaly without events: %+v", c.Name(), a)
			}
		}
		if !found {
			t.Fatalf("%s: no %q anomaly in %+v", c.Name(), kind, r.Anomalies)
		}
	}
	return r
}

func TestMessengerCheckersPassHealthyHistory(t *testing.T) {
	s := healthy()
	for _, c := range []Checker{MessageSet{}, DialogOrder{}, ReadYourWrites{}} {
		verdict(t, c, s.evs, Valid, "")
	}
}

func TestPlantedLostWrite(t *testing.T) {
	s := healthy()
	// Drop the last acknowledged message from the recipient's box before the final reads.
	s2 := newSynth()
	*s2 = *s
	s2.evs = nil
	for _, e := range s.evs {
		if e.Final && e.Type == history.OK && e.User == 2 && e.Peer == 1 {
			e.Msgs = e.Msgs[:len(e.Msgs)-1]
		}
		s2.evs = append(s2.evs, e)
	}
	r := verdict(t, MessageSet{}, s2.evs, Invalid, "lost")
	t.Logf("caught: %s", r.Anomalies[0].Text)
}

func TestPlantedDuplicate(t *testing.T) {
	s := healthy()
	// The relay applied one delivery twice: the recipient's box holds the message under two ids.
	m := s.send(1, 1, 2, 1, "dup-me")
	_ = m
	s.deliver(2, 1, "dup-me", false)
	s.finalReads(1, 2, 3)
	verdict(t, MessageSet{}, s.evs, Invalid, "duplicate")
	verdict(t, DialogOrder{}, s.evs, Invalid, "id-conflict")
}

func TestPlantedStaleRead(t *testing.T) {
	s := healthy()
	s.send(1, 1, 2, 1, "fresh")
	// Device 2 of user 1 reads through another node and misses the acknowledged "fresh".
	box := s.msgs[1][2]
	s.op(history.Event{Process: 21, F: "read", User: 1, Peer: 2, Device: 2, Node: 2}, history.OK,
		func(e *history.Event) { e.Msgs = append([]history.Msg(nil), box[:len(box)-1]...) })
	r := verdict(t, ReadYourWrites{}, s.evs, Invalid, "stale-read")
	t.Logf("caught: %s", r.Anomalies[0].Text)
}

func TestPlantedPtsGap(t *testing.T) {
	s := newSynth()
	s.add(history.Event{Type: history.Observe, F: "pts", User: 1, Device: 1, Source: "state", Pts: 0})
	for p := int64(1); p <= 5; p++ {
		if p == 3 {
			continue // the device never gets pts 3, neither pushed nor through getDifference
		}
		s.add(history.Event{Type: history.Observe, F: "pts", User: 1, Device: 1, Source: "push", Pts: p,
			PtsCount: 1, Text: fmt.Sprintf("m%d", p)})
	}
	r := verdict(t, Pts{}, s.evs, Invalid, "pts-gap")
	t.Logf("caught: %s", r.Anomalies[0].Text)
}

func TestPtsGapFilledByDifference(t *testing.T) {
	s := newSynth()
	obs := func(src string, pts int64, text string) {
		s.add(history.Event{Type: history.Observe, F: "pts", User: 1, Device: 1, Source: src, Pts: pts, PtsCount: 1, Text: text})
	}
	s.add(history.Event{Type: history.Observe, F: "pts", User: 1, Device: 1, Source: "state", Pts: 0})
	obs("push", 1, "a")
	obs("push", 3, "c") // gap: the client asks getDifference from 1
	obs("diff", 2, "b")
	obs("push", 3, "c") // a redelivered push of the same message is harmless
	obs("push", 4, "d")
	s.add(history.Event{Type: history.Observe, F: "pts", User: 1, Device: 2, Source: "state", Pts: 4})
	verdict(t, Pts{}, s.evs, Valid, "")
}

func TestPtsConflictAndRegression(t *testing.T) {
	s := newSynth()
	s.add(history.Event{Type: history.Observe, F: "pts", User: 1, Device: 1, Source: "push", Pts: 1, PtsCount: 1, Text: "a"})
	s.add(history.Event{Type: history.Observe, F: "pts", User: 1, Device: 2, Source: "push", Pts: 1, PtsCount: 1, Text: "b"})
	s.add(history.Event{Type: history.Observe, F: "pts", User: 1, Device: 3, Source: "state", Pts: 0})
	r := Pts{}.Check(s.evs)
	if r.Stats["anomaly:pts-conflict"] != 1 || r.Stats["anomaly:pts-regression"] != 1 {
		t.Fatalf("want one conflict and one regression: %+v", r)
	}
}

func TestFailedSendVisibleAndPhantom(t *testing.T) {
	s := healthy()
	s.op(history.Event{Process: 1, F: "send", User: 1, Peer: 2, Device: 1, Text: "nope"}, history.Fail, nil)
	s.deliver(1, 2, "nope", true)
	s.deliver(2, 1, "nope", false)
	s.deliver(3, 1, "ghost", false)
	s.finalReads(1, 2, 3)
	verdict(t, MessageSet{}, s.evs, Invalid, "failed-visible")
	verdict(t, MessageSet{}, s.evs, Invalid, "phantom")
	verdict(t, DialogOrder{}, s.evs, Invalid, "failed-visible")
}

func TestIndeterminateSendAtMostOnce(t *testing.T) {
	s := healthy()
	s.op(history.Event{Process: 1, F: "send", User: 1, Peer: 2, Device: 1, Text: "maybe"}, history.Info, nil)
	s.op(history.Event{Process: 2, F: "send", User: 1, Peer: 2, Device: 1, Text: "maybe-not"}, history.Info, nil)
	s.deliver(1, 2, "maybe", true)
	s.deliver(2, 1, "maybe", false)
	s.finalReads(1, 2, 3)
	verdict(t, MessageSet{}, s.evs, Valid, "")
	s.deliver(1, 2, "maybe-not", true) // only in the sender's box: the relay never finished
	s.finalReads(1, 2, 3)
	verdict(t, MessageSet{}, s.evs, Invalid, "partial")
}

func TestReorderedAndLateInsert(t *testing.T) {
	s := newSynth()
	s.send(1, 1, 2, 1, "first")
	s.send(1, 1, 2, 1, "second")
	s.read(5, 2, 1, 1, false)
	// The recipient's box shows them the other way round, and a message with an old id appears later.
	s.msgs[2][1][0], s.msgs[2][1][1] = history.Msg{ID: 1, Text: "second"}, history.Msg{ID: 2, Text: "first"}
	s.finalReads(1, 2)
	verdict(t, MessageSet{}, s.evs, Invalid, "reordered")
	verdict(t, DialogOrder{}, s.evs, Invalid, "id-conflict")

	s = newSynth()
	s.send(1, 1, 2, 1, "a")
	s.send(1, 1, 2, 1, "b")
	box := s.msgs[2][1]
	s.op(history.Event{Process: 5, F: "read", User: 2, Peer: 1, Device: 1}, history.OK,
		func(e *history.Event) { e.Msgs = []history.Msg{box[1]} })
	s.read(5, 2, 1, 1, false)
	verdict(t, DialogOrder{}, s.evs, Invalid, "late-insert")
}

func TestIDRegression(t *testing.T) {
	s := newSynth()
	s.op(history.Event{Process: 1, F: "send", User: 1, Peer: 2, Text: "x"}, history.OK, func(e *history.Event) { e.MsgID = 5 })
	s.op(history.Event{Process: 1, F: "send", User: 1, Peer: 2, Text: "y"}, history.OK, func(e *history.Event) { e.MsgID = 4 })
	verdict(t, DialogOrder{}, s.evs, Invalid, "id-regression")
}
