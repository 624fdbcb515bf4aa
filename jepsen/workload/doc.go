// Package workload generates the operations of a run: which clients, keys, values and nodes, until the run
// ends, then the final reads. Register drives put/get/cas on a rotating set of keys (checked by
// validate.Linearizable); Claim races many clients to claim one key per round (validate.UniqueClaim); Set
// writes keys once (validate.Durable); Messages drives users chatting from devices on different nodes
// (messages-set, dialog-order, read-your-writes, pts); Profile and Username drive profile names and username
// claims through MTProto (linearizable and unique-claim over the mt: keys).
//
// It must never judge a result (checkers do) or retry an operation under the same record.
package workload
