// Package messenger wires the Telegram API of a node: it builds the API domains (node/handler/<domain>, each a
// Domain), registers their FSM appliers, queries, internal RPC methods and admin endpoints on the node
// (node.Extend), routes client calls to their handlers (handler.Router as the gateway's Backend), connects the
// domains to each other (handler.Services), runs the gateway on nodes that serve clients, and publishes this
// node's client addresses for help.getConfig.
//
// Every node runs the domains (appliers apply on every replica; background work such as the outbox relay runs
// wherever a shard's leader is), with or without a gateway.
//
// It must never hold API logic or state itself: that belongs to the domains.
package messenger
