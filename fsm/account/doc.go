// Package account is the replicated state of accounts: users, the uniqueness of phones and usernames, login
// codes and their limits, authorizations (signed-in auth keys as the user lists them), contacts and blocks. It
// holds the deterministic fsm.Applier of command type 80 (ops inside, see ops.go), the read-only queries
// (node query types 1..99) and their encodings. DESIGN.md says where each key lives and why sign-up and
// username changes are safe under concurrency and cuts.
//
// It must never read a clock, use randomness or do I/O inside Apply (times, codes, hashes and limits come in
// the payload), read another shard, panic on a payload's bytes, or know about MTProto (handlers in
// node/handler/auth and node/handler/users turn these records into API objects).
package account
