// Package box is the replicated state of private chats: one message box per user (own message ids and pts),
// dialogs, the per-user update log that updates.getDifference reads, send receipts keyed by random_id, and the
// per-destination outbox and inbound watermarks of the exactly-once cross-shard delivery channel (DESIGN.md).
//
// It provides the fsm.Applier of command types 100..139 (Applier), their payload encoders (proposer side),
// their result decoders, and the read functions the messages domain runs as node queries.
//
// It must never read a clock, use randomness or do I/O inside Apply (ids, pts and seqs are allocated there;
// Command.Time is the only clock), never panic on a payload's bytes, and never know MTProto: text is a string,
// entities an opaque blob encoded by the caller, a peer a user id.
package box
