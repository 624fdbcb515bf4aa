package validate

// MessageSet: messages as a set, judged on the final reads (f "read", Final, ok; the last one per user and
// peer is the box). For every send (f "send", User = sender, Peer = recipient, Text unique per send):
//   - acknowledged (ok): the text is in the sender's dialog with the recipient exactly once (Out) and in the
//     recipient's dialog with the sender exactly once (not Out); missing is "lost", more is "duplicate";
//   - indeterminate (info): at most once in each box, and in both or in neither ("partial" otherwise: the
//     outbox relay must finish once the cluster healed);
//   - failed (fail): in neither box ("failed-visible").
// A text in a final box that no send invoked is "phantom"; one found in a dialog other than its own is
// "misdelivered". Order: for acknowledged sends a, b of one dialog where a completed before b was invoked,
// a comes before b in both boxes ("reordered").

import (
	"fmt"
	"sort"

	"github.com/raftgram/raftgram/jepsen/history"
)

// MessageSet checks the final boxes against the sends.
type MessageSet struct{}

// Name is "messages-set".
func (MessageSet) Name() string { return "messages-set" }

type dialog struct{ user, peer int64 }

// box is one final read of a dialog: text -> positions (and direction flags).
type box struct {
	op  history.Op
	pos map[string][]int
	out map[string]bool
}

func finalBoxes(ops []history.Op) map[dialog]*box {
	boxes := map[dialog]*box{}
	for _, o := range ops {
		if o.Invoke.F != "read" || !o.Invoke.Final || o.Outcome() != history.OK {
			continue
		}
		b := &box{op: o, pos: map[string][]int{}, out: map[string]bool{}}
		for i, m := range o.Complete.Msgs {
			b.pos[m.Text] = append(b.pos[m.Text], i)
			b.out[m.Text] = m.Out
		}
		boxes[dialog{o.Invoke.User, o.Invoke.Peer}] = b
	}
	return boxes
}

// Check judges the final boxes.
func (c MessageSet) Check(events []history.Event) Result {
	r := newResult(c.Name())
	ops, ok := pair(r, events)
	if !ok {
		return r.Result
	}
	sends := history.ByF(ops, "send")
	boxes := finalBoxes(ops)
	if len(boxes) == 0 {
		return r.unknown("no final reads")
	}
	sent := map[string]history.Op{}
	for _, s := range sends {
		sent[s.Invoke.Text] = s
	}
	byDialog := map[dialog][]history.Op{}
	for _, s := range sends {
		from, to, text := s.Invoke.User, s.Invoke.Peer, s.Invoke.Text
		sb, rb := boxes[dialog{from, to}], boxes[dialog{to, from}]
		r.Stats["sends:"+string(s.Outcome())]++
		if sb == nil || rb == nil {
			r.Stats["unread-dialog"]++
			continue
		}
		ns, nr := len(sb.pos[text]), len(rb.pos[text])
		if ns > 0 && !sb.out[text] || nr > 0 && rb.out[text] {
			r.add("misdirected", evs(s, sb.op, rb.op), "%q from %d to %d has the wrong direction in a box", text, from, to)
		}
		ev := evs(s, sb.op, rb.op)
		switch s.Outcome() {
		case history.OK:
			byDialog[dialog{from, to}] = append(byDialog[dialog{from, to}], s)
			for _, x := range []struct {
				who string
				n   int
			}{{fmt.Sprintf("sender %d", from), ns}, {fmt.Sprintf("recipient %d", to), nr}} {
				if x.n == 0 {
					r.add("lost", ev, "acknowledged send %q (%d→%d) is missing from the %s's box", text, from, to, x.who)
				} else if x.n > 1 {
					r.add("duplicate", ev, "acknowledged send %q (%d→%d) is %d times in the %s's box", text, from, to, x.n, x.who)
				}
			}
		case history.Info:
			if ns > 1 || nr > 1 {
				r.add("duplicate", ev, "indeterminate send %q (%d→%d) is in the boxes %d and %d times", text, from, to, ns, nr)
			} else if ns != nr {
				r.add("partial", ev, "indeterminate send %q (%d→%d) is in one box only (sender %d, recipient %d)",
					text, from, to, ns, nr)
			}
		case history.Fail:
			if ns+nr > 0 {
				r.add("failed-visible", ev, "failed send %q (%d→%d) is in the boxes (sender %d, recipient %d)",
					text, from, to, ns, nr)
			}
		}
	}
	// Texts nobody sent, or found in another dialog.
	dks := make([]dialog, 0, len(boxes))
	for d := range boxes {
		dks = append(dks, d)
	}
	sort.Slice(dks, func(i, j int) bool {
		return dks[i].user < dks[j].user || dks[i].user == dks[j].user && dks[i].peer < dks[j].peer
	})
	for _, d := range dks {
		b := boxes[d]
		for _, m := range b.op.Complete.Msgs {
			s, ok := sent[m.Text]
			if !ok {
				r.add("phantom", evs(b.op), "%q in %d's dialog with %d was never sent", m.Text, d.user, d.peer)
				continue
			}
			if (s.Invoke.User != d.user || s.Invoke.Peer != d.peer) && (s.Invoke.User != d.peer || s.Invoke.Peer != d.user) {
				r.add("misdelivered", evs(s, b.op), "%q (%d→%d) is in %d's dialog with %d", m.Text, s.Invoke.User,
					s.Invoke.Peer, d.user, d.peer)
			}
		}
	}
	// Order per dialog: real-time order of acknowledged sends is box order on both sides.
	for d, ss := range byDialog {
		sort.Slice(ss, func(i, j int) bool { return ss[i].Complete.Time < ss[j].Complete.Time })
		for _, bx := range []*box{boxes[d], boxes[dialog{d.peer, d.user}]} {
			for j, b := range ss {
				pb := bx.pos[b.Invoke.Text]
				if len(pb) == 0 {
					continue
				}
				for _, a := range ss[:j] {
					if a.Complete.Time >= b.Invoke.Time {
						break // sorted by completion: the rest completed later too
					}
					pa := bx.pos[a.Invoke.Text]
					if len(pa) > 0 && pa[0] > pb[0] {
						r.add("reordered", evs(a, b, bx.op), "%q was acknowledged before %q was sent, but comes after it "+
							"in %d's box", a.Invoke.Text, b.Invoke.Text, bx.op.Invoke.User)
					}
				}
			}
		}
	}
	return r.Result
}
