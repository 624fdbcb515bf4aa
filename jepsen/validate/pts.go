package validate

// Pts: the updates a user's devices receive (f "pts", type observe; Source "push" or "diff", Pts and PtsCount
// of the update, Text of its message; Source "state": the device's updates.getState answer, Pts only).
//   - one pts, one update: per user, a pts value never carries two different messages ("pts-conflict");
//   - gapless: per device, from its first state (or 0), the ranges (Pts-PtsCount, Pts] it received cover every
//     value up to the largest pts it saw or was told by getState ("pts-gap": a device that reconnects must get
//     exactly what it missed through getDifference);
//   - one update, one pts: per user, a message text never arrives under two pts values ("pts-conflict": e.g.
//     getDifference handing back a message the device already had, which shifts every pts after it);
//   - monotonic: per device, each pushed update's Pts is above the last pts the device had applied, or it is a
//     redelivery of the same message ("pts-regression"); and a getState (or a difference's final state) never
//     answers below a pts the user's devices had received before it was asked ("pts-regression"; with Asked
//     set, only updates recorded before that time count, as the answer may be computed before a concurrent
//     push arrives).
//   - exactly once: getDifference never hands a device an update at or below the pts it asked from (From, when
//     the observation carries Asked; otherwise the pts the device had applied) ("redelivered").
// Sources besides "state" and "diff" ("push", "sent": the device's own sendMessage answer) are received
// updates alike.

import (
	"sort"

	"github.com/raftgram/raftgram/jepsen/history"
)

// Pts checks update sequences.
type Pts struct{}

// Name is "pts".
func (Pts) Name() string { return "pts" }

type device struct {
	user int64
	dev  int
}

type ptsSeen struct {
	text string
	ev   int64
}

// Check judges every device's stream in record order.
func (c Pts) Check(events []history.Event) Result {
	r := newResult(c.Name())
	var obs []history.Event
	for _, e := range events {
		if e.F == "pts" && e.Type == history.Observe {
			obs = append(obs, e)
		}
	}
	if len(obs) == 0 {
		return r.unknown("no pts observations")
	}
	sort.SliceStable(obs, func(i, j int) bool { return obs[i].Index < obs[j].Index })
	byPts := map[int64]map[int64]ptsSeen{} // user -> pts -> message
	userMax := map[int64]history.Event{}   // user -> observation with the largest pts so far
	recv := map[int64][]history.Event{}    // user -> updates that raised the largest pts, in record order
	type ptsAt struct {
		pts int64
		ev  int64
	}
	textPts := map[int64]map[string]ptsAt{} // user -> text -> first pts
	type state struct {
		started  bool
		base     int64          // pts the stream starts from
		covered  map[int64]bool // pts values received
		applied  int64          // highest contiguous pts
		top      int64          // largest pts seen or told
		topEvent int64
		evs      []int64
	}
	devs := map[device]*state{}
	var order []device
	for _, e := range obs {
		d := device{e.User, e.Device}
		st := devs[d]
		if st == nil {
			st = &state{covered: map[int64]bool{}}
			devs[d] = st
			order = append(order, d)
		}
		st.evs = append(st.evs, e.Index)
		if e.Source == "state" {
			if m, ok := maxBefore(recv[e.User], e.Asked); ok && m.Pts > e.Pts {
				r.add("pts-regression", []int64{m.Index, e.Index}, "user %d: getState answered pts %d after pts %d "+
					"had been received", e.User, e.Pts, m.Pts)
			}
			if !st.started {
				st.started, st.base, st.applied = true, e.Pts, e.Pts
			}
			if e.Pts > st.top {
				st.top, st.topEvent = e.Pts, e.Index
			}
			continue
		}
		st.started = true
		r.Stats["updates"]++
		if byPts[e.User] == nil {
			byPts[e.User] = map[int64]ptsSeen{}
		}
		if s, ok := byPts[e.User][e.Pts]; ok && s.text != e.Text {
			r.add("pts-conflict", []int64{s.ev, e.Index}, "user %d: pts %d carries both %q and %q", e.User, e.Pts,
				s.text, e.Text)
		} else if !ok {
			byPts[e.User][e.Pts] = ptsSeen{e.Text, e.Index}
		}
		if e.Text != "" {
			if textPts[e.User] == nil {
				textPts[e.User] = map[string]ptsAt{}
			}
			if s, ok := textPts[e.User][e.Text]; !ok {
				textPts[e.User][e.Text] = ptsAt{e.Pts, e.Index}
			} else if s.pts != e.Pts {
				r.add("pts-conflict", []int64{s.ev, e.Index}, "user %d device %d: %q arrived at pts %d (%s) after "+
					"pts %d", e.User, e.Device, e.Text, e.Pts, e.Source, s.pts)
			}
		}
		if m, ok := userMax[e.User]; !ok || e.Pts > m.Pts {
			userMax[e.User] = e
		}
		if n := len(recv[e.User]); n == 0 || recv[e.User][n-1].Pts < e.Pts {
			recv[e.User] = append(recv[e.User], e)
		}
		if e.Source == "diff" && e.Asked > 0 && e.Pts <= e.From {
			r.add("redelivered", []int64{e.Index}, "user %d device %d: getDifference from pts %d handed pts %d",
				e.User, e.Device, e.From, e.Pts)
			r.Stats["redelivered"]++
		} else if e.Pts <= st.applied {
			if e.Source == "diff" && e.Asked == 0 {
				r.add("redelivered", []int64{e.Index}, "user %d device %d: getDifference handed pts %d again "+
					"(device had applied up to %d)", e.User, e.Device, e.Pts, st.applied)
			} else if s := byPts[e.User][e.Pts]; s.text != e.Text {
				r.add("pts-regression", []int64{e.Index}, "user %d device %d: pushed pts %d below applied %d", e.User,
					e.Device, e.Pts, st.applied)
			}
			r.Stats["redelivered"]++
		}
		count := max(e.PtsCount, 1)
		for p := e.Pts - count + 1; p <= e.Pts; p++ {
			st.covered[p] = true
		}
		for st.covered[st.applied+1] {
			st.applied++
		}
		if e.Pts > st.top {
			st.top, st.topEvent = e.Pts, e.Index
		}
	}
	for _, d := range order {
		st := devs[d]
		r.Stats["devices"]++
		var missing []int64
		for p := st.base + 1; p <= st.top; p++ {
			if !st.covered[p] {
				missing = append(missing, p)
			}
		}
		if len(missing) > 0 {
			ev := []int64{st.topEvent}
			if len(st.evs) > 0 {
				ev = append(ev, st.evs[0])
			}
			r.add("pts-gap", ev, "user %d device %d never received pts %v (saw up to %d from %d)", d.user, d.dev,
				head(missing, 10), st.top, st.base)
		}
	}
	return r.Result
}

// maxBefore is the update with the largest pts among those recorded before time asked (all when asked is 0);
// recv is in record order with increasing pts.
func maxBefore(recv []history.Event, asked int64) (history.Event, bool) {
	i := len(recv)
	if asked > 0 {
		i = sort.Search(len(recv), func(i int) bool { return recv[i].Time >= asked })
	}
	if i == 0 {
		return history.Event{}, false
	}
	return recv[i-1], true
}

func head(xs []int64, n int) []int64 {
	if len(xs) > n {
		return xs[:n]
	}
	return xs
}
