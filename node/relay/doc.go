// Package relay moves the outbox of each shard this node leads to the destination shards, exactly once in
// effect (fsm/box/DESIGN.md "Cross-shard delivery"): it reads the outbox through a linearizable query of the
// source shard, proposes the items in seq order as box.DeliverBatch to the destination shard (many per
// proposal), follows the watermark the destination answers, trims the source's outbox lazily, and hands what
// was applied to a callback (push to the recipients' sessions).
//
// Latency: the leader's apply hands committed items over (Offer, box.Config.OnOutbox); a worker sends them
// without a query when they continue exactly where its cursor is, and falls back to the query otherwise.
//
// It keeps nothing that matters in memory: a worker starts from the replicated outbox each time this node
// gains a shard's leadership (polled every Poll), and the destination's
// watermark makes every resend harmless.
//
// It must never read a shard's state outside a Query (a follower's local state may be stale), never skip an
// item (a gap is refused by the destination and resent), and never block the FSM (Offer does not block).
package relay
