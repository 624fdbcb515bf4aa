// Package workload generates the operations of a run: which clients, keys, values and nodes, until the run
// ends, then the final reads. Register drives put/get/cas on a rotating set of keys (checked by
// validate.Linearizable); Claim races many clients to claim one key per round (validate.UniqueClaim).
//
// It must never judge a result (checkers do) or retry an operation under the same record.
package workload
