// Package client performs Jepsen operations against a cluster and records each one in a history.Recorder:
// the invocation just before the request leaves, the completion (ok / fail / info) just after the answer.
// KV talks to the debug KV API (/debug/kv) of each node's admin HTTP port. The MTProto drivers talk to the
// nodes' gateways through real gotd clients, each pinned to one node and dialing from that node's client
// source address: MTMessenger implements Messenger (sends, histories, pts observations of every device, devices
// going offline and catching up) and MTRegisters records profile names and username claims as register
// operations (jepsen/DESIGN.md, "MTProto driver").
//
// It must never retry an operation under the same record (a retry is a new operation, invoked again; gotd
// resending one request on a new connection is the same request, kept safe by its random_id), and never claim
// fail unless the request certainly had no effect (jepsen/DESIGN.md).
package client
