// Package messages is the API domain of private chats and updates: messages.* (send, forward, edit, delete,
// history, dialogs, read, typing, drafts, pins, search), updates.getState / getDifference, the
// ServiceMessages service (messages from 777000) and the cluster's Pusher (node/push) and outbox relay
// (node/relay). Its state is fsm/box's, in the shard of each user; every write is one Propose into the
// caller's shard, decided in Apply (ids, pts, dedup by random_id), and reads are linearizable node queries.
//
// It must never read a shard's state outside a node query, never answer a client before its change committed,
// never allocate ids or pts itself, and never import another domain's package (users come from
// Services.Directory).
package messages
