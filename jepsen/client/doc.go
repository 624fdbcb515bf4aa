// Package client performs Jepsen operations against a cluster and records each one in a history.Recorder:
// the invocation just before the request leaves, the completion (ok / fail / info) just after the answer.
// KV talks to the debug KV API (/debug/kv) of each node's admin HTTP port; the messenger's MTProto client
// comes later with the same shape.
//
// It must never retry an operation under the same record (a retry is a new operation, invoked again), and never
// claim fail unless the request certainly had no effect (jepsen/DESIGN.md).
package client
