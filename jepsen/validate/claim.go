package validate

// UniqueClaim: many clients concurrently claim one key with a compare-and-set from absent (f "claim", Value =
// the claimant). At most one claim may be acknowledged as won (ok without mismatch); a final read (f "get",
// Final) then names the owner, which must be the acknowledged winner if there is one, otherwise a claimant whose
// claim is indeterminate (never one that failed or was told "mismatch"). An acknowledged mismatch means some
// claim took effect, so the final read cannot find the key absent ("claim-lost"; "stuck-claim" when only an
// indeterminate claim could be the one that took effect: a claim left half done).

import (
	"github.com/raftgram/raftgram/jepsen/history"
)

// UniqueClaim checks claim keys.
type UniqueClaim struct {
	// Only / Except, when set, keep only the keys with (without) this prefix; Label names the selection.
	Only, Except, Label string
}

// Name is "unique-claim", or "unique-claim/<Label>".
func (c UniqueClaim) Name() string { return labeled("unique-claim", c.Label) }

// Check judges every claimed key.
func (c UniqueClaim) Check(events []history.Event) Result {
	r := newResult(c.Name())
	ops, ok := pair(r, events)
	if !ok {
		return r.Result
	}
	claims := map[string][]history.Op{}
	final := map[string]history.Op{}
	var keys []string
	for _, o := range byKey(ops, c.Only, c.Except) {
		switch {
		case o.Invoke.F == "claim":
			if _, ok := claims[o.Invoke.Key]; !ok {
				keys = append(keys, o.Invoke.Key)
			}
			claims[o.Invoke.Key] = append(claims[o.Invoke.Key], o)
		case o.Invoke.F == "get" && o.Invoke.Final && o.Outcome() == history.OK:
			final[o.Invoke.Key] = o // the last final read wins
		}
	}
	if len(keys) == 0 {
		return r.unknown("no claims")
	}
	undecided := 0
	for _, k := range keys {
		r.Stats["keys"]++
		var winners, losers, unknown []history.Op
		for _, o := range claims[k] {
			switch {
			case o.Outcome() == history.OK && !o.Complete.Mismatch:
				winners = append(winners, o)
			case o.Outcome() == history.OK:
				losers = append(losers, o)
			case o.Outcome() == history.Info:
				unknown = append(unknown, o)
			}
		}
		r.Stats["claims"] += len(claims[k])
		r.Stats["won"] += len(winners)
		r.Stats["indeterminate"] += len(unknown)
		if len(winners) > 1 {
			r.add("double-claim", evs(winners...), "key %q: %d claims were all told they won", k, len(winners))
		}
		fin, ok := final[k]
		if !ok {
			undecided++
			continue
		}
		owner := fin.Complete.Value
		switch {
		case fin.Complete.Absent && len(winners) == 0 && len(losers) > 0 && len(unknown) > 0:
			// Claimants were told "taken", nobody holds it, and an indeterminate claim exists: the name is held
			// by an attempt that never finished (a claim protocol cut half way).
			r.addKey("stuck-claim", k, append(evs(fin), evs(append(losers, unknown...)...)...),
				"key %q: %d claims were told it is taken, the final read finds it unclaimed, and the only claims "+
					"that could hold it (%d) are indeterminate", k, len(losers), len(unknown))
		case fin.Complete.Absent && (len(winners) > 0 || len(losers) > 0):
			r.add("claim-lost", append(evs(fin), evs(append(winners, losers...)...)...),
				"key %q: the final read finds it unclaimed after a claim was acknowledged", k)
		case fin.Complete.Absent:
		case len(winners) > 0:
			for _, w := range winners {
				if w.Invoke.Value != owner {
					r.add("claim-lost", append(evs(fin), evs(w)...),
						"key %q: claim by %q was acknowledged, but the final owner is %q", k, w.Invoke.Value, owner)
				}
			}
		default:
			found := false
			for _, u := range unknown {
				found = found || u.Invoke.Value == owner
			}
			if !found {
				r.add("phantom-claim", evs(append([]history.Op{fin}, claims[k]...)...),
					"key %q: owner %q made no claim that could have taken effect", k, owner)
			}
		}
	}
	if undecided > 0 && r.Verdict == Valid {
		return r.unknown("keys without a final read")
	}
	return r.Result
}
