package validate

// ReadYourWrites across devices: once a send by user U through device d is acknowledged, every read of that
// dialog by U through another device, invoked after the acknowledgement, holds the message ("stale-read").
// (The same device is covered too: a device must not forget what it was told was sent.)

import (
	"sort"

	"github.com/raftgram/raftgram/jepsen/history"
)

// ReadYourWrites checks reads against earlier acknowledged sends of the same user.
type ReadYourWrites struct{}

// Name is "read-your-writes".
func (ReadYourWrites) Name() string { return "read-your-writes" }

// Check judges every ok read.
func (c ReadYourWrites) Check(events []history.Event) Result {
	r := newResult(c.Name())
	ops, ok := pair(r, events)
	if !ok {
		return r.Result
	}
	acked := map[dialog][]history.Op{}
	for _, s := range history.ByF(ops, "send") {
		if s.Outcome() == history.OK {
			d := dialog{s.Invoke.User, s.Invoke.Peer}
			acked[d] = append(acked[d], s)
		}
	}
	for _, ss := range acked {
		sort.Slice(ss, func(i, j int) bool { return ss[i].Complete.Time < ss[j].Complete.Time })
	}
	checked := 0
	for _, rd := range history.ByF(ops, "read") {
		if rd.Outcome() != history.OK {
			continue
		}
		ss := acked[dialog{rd.Invoke.User, rd.Invoke.Peer}]
		if len(ss) == 0 {
			continue
		}
		have := map[string]bool{}
		for _, m := range rd.Complete.Msgs {
			have[m.Text] = true
		}
		for _, s := range ss {
			if s.Complete.Time >= rd.Invoke.Time {
				break
			}
			checked++
			if s.Invoke.Device != rd.Invoke.Device {
				r.Stats["cross-device"]++
			}
			if !have[s.Invoke.Text] {
				r.add("stale-read", evs(s, rd), "user %d's device %d (node %d) does not see %q, acknowledged to "+
					"device %d (node %d) before the read began", rd.Invoke.User, rd.Invoke.Device, rd.Invoke.Node,
					s.Invoke.Text, s.Invoke.Device, s.Invoke.Node)
			}
		}
	}
	r.Stats["checked"] = checked
	if checked == 0 && r.Verdict == Valid {
		return r.unknown("no read followed an acknowledged send")
	}
	return r.Result
}
