package validate

// DialogOrder: per-dialog order over every read (f "read", ok) and every acknowledged send, final or not.
//   - one id, one message: in a user's box, an id never names two texts and a text never has two ids
//     ("id-conflict"), including the id a send was acknowledged with;
//   - ids only grow: every read lists its messages in strictly increasing id order ("non-monotonic"), and of two
//     acknowledged sends by one user, the one invoked after the other completed has the larger id
//     ("id-regression");
//   - every reader sees the same order: follows from the two rules above (order is id order, ids are unique);
//   - no late insertion, nothing vanishes: if read A of a dialog completed before read B of it was invoked, B
//     holds every message of A ("vanished"), and every message of B with an id up to A's largest was in A
//     ("late-insert": an old id that became visible later means a read missed a committed message);
//   - a failed send never becomes visible ("failed-visible").

import (
	"sort"

	"github.com/raftgram/raftgram/jepsen/history"
)

// DialogOrder checks ids and order in every read.
type DialogOrder struct{}

// Name is "dialog-order".
func (DialogOrder) Name() string { return "dialog-order" }

// Check judges every read.
func (c DialogOrder) Check(events []history.Event) Result {
	r := newResult(c.Name())
	ops, ok := pair(r, events)
	if !ok {
		return r.Result
	}
	type seen struct {
		text string
		id   int64
		op   history.Op
	}
	idText := map[int64]map[int64]seen{}  // user -> id -> first sighting
	textID := map[int64]map[string]seen{} // user -> text -> first sighting
	note := func(user, id int64, text string, o history.Op) {
		if idText[user] == nil {
			idText[user], textID[user] = map[int64]seen{}, map[string]seen{}
		}
		if s, ok := idText[user][id]; !ok {
			idText[user][id] = seen{text, id, o}
		} else if s.text != text {
			r.add("id-conflict", evs(s.op, o), "user %d: id %d names both %q and %q", user, id, s.text, text)
		}
		if s, ok := textID[user][text]; !ok {
			textID[user][text] = seen{text, id, o}
		} else if s.id != id {
			r.add("id-conflict", evs(s.op, o), "user %d: %q has ids %d and %d", user, text, s.id, id)
		}
	}
	failed := map[string]history.Op{}
	var sends []history.Op
	for _, o := range history.ByF(ops, "send") {
		switch o.Outcome() {
		case history.OK:
			sends = append(sends, o)
			note(o.Invoke.User, o.Complete.MsgID, o.Invoke.Text, o)
		case history.Fail:
			failed[o.Invoke.Text] = o
		}
	}
	reads := map[dialog][]history.Op{}
	for _, o := range history.ByF(ops, "read") {
		if o.Outcome() != history.OK {
			continue
		}
		r.Stats["reads"]++
		d := dialog{o.Invoke.User, o.Invoke.Peer}
		reads[d] = append(reads[d], o)
		var last int64
		for i, m := range o.Complete.Msgs {
			note(d.user, m.ID, m.Text, o)
			if i > 0 && m.ID <= last {
				r.add("non-monotonic", evs(o), "user %d's read of dialog %d lists id %d after id %d", d.user, d.peer, m.ID, last)
			}
			last = m.ID
			if f, ok := failed[m.Text]; ok {
				r.add("failed-visible", evs(f, o), "failed send %q is visible to user %d", m.Text, d.user)
			}
		}
	}
	// Ids grow with real time per sender.
	byUser := map[int64][]history.Op{}
	for _, s := range sends {
		byUser[s.Invoke.User] = append(byUser[s.Invoke.User], s)
	}
	for u, ss := range byUser {
		sort.Slice(ss, func(i, j int) bool { return ss[i].Complete.Time < ss[j].Complete.Time })
		// Track the largest id among sends completed before each invocation.
		byInvoke := append([]history.Op(nil), ss...)
		sort.Slice(byInvoke, func(i, j int) bool { return byInvoke[i].Invoke.Time < byInvoke[j].Invoke.Time })
		k := 0
		var maxOp *history.Op
		for _, b := range byInvoke {
			for k < len(ss) && ss[k].Complete.Time < b.Invoke.Time {
				if maxOp == nil || ss[k].Complete.MsgID > maxOp.Complete.MsgID {
					maxOp = &ss[k]
				}
				k++
			}
			if maxOp != nil && b.Complete.MsgID <= maxOp.Complete.MsgID {
				r.add("id-regression", evs(*maxOp, b), "user %d: %q got id %d after %q had got id %d", u,
					b.Invoke.Text, b.Complete.MsgID, maxOp.Invoke.Text, maxOp.Complete.MsgID)
			}
		}
	}
	// Reads of one dialog in real-time order never lose or gain the past.
	for d, rs := range reads {
		sort.Slice(rs, func(i, j int) bool { return rs[i].Complete.Time < rs[j].Complete.Time })
		for j, b := range rs {
			// Compare with the latest read that completed before b was invoked.
			var a *history.Op
			for i := j - 1; i >= 0; i-- {
				if rs[i].Complete.Time < b.Invoke.Time {
					a = &rs[i]
					break
				}
			}
			if a == nil || len(a.Complete.Msgs) == 0 {
				continue
			}
			inA := map[string]bool{}
			for _, m := range a.Complete.Msgs {
				inA[m.Text] = true
			}
			inB := map[string]bool{}
			maxA := a.Complete.Msgs[len(a.Complete.Msgs)-1].ID
			for _, m := range b.Complete.Msgs {
				inB[m.Text] = true
				if m.ID <= maxA && !inA[m.Text] {
					r.add("late-insert", evs(*a, b), "user %d, dialog %d: %q (id %d) appeared after a read that "+
						"had seen up to id %d without it", d.user, d.peer, m.Text, m.ID, maxA)
				}
			}
			for _, m := range a.Complete.Msgs {
				if !inB[m.Text] {
					r.add("vanished", evs(*a, b), "user %d, dialog %d: %q (id %d) vanished from a later read",
						d.user, d.peer, m.Text, m.ID)
				}
			}
		}
	}
	return r.Result
}
