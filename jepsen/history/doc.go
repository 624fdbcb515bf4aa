// Package history is the record of a Jepsen run: one Event per invocation, completion or nemesis action,
// written as JSONL (one JSON object a line), read back, and paired into Ops (invoke + completion).
//
// It owns the event format and its invariants (jepsen/DESIGN.md, "Invariants of the record"). It must never
// interpret results: that is jepsen/validate's job.
package history
