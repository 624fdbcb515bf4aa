// Package handler is the API dispatcher of a node: it implements gateway.Backend by routing each decoded
// layer-227 request to the handler registered for its method, enforces sign-in (401 AUTH_KEY_UNREGISTERED for
// methods that need a user), and logs every method a client calls that no handler serves (once per method,
// listed by Router.Unimplemented).
//
// It also declares the services API domains use from each other (Directory, Pusher, ServiceMessages), so a
// domain package (node/handler/<domain>) depends on these interfaces, never on another domain's package; the
// wiring (node/messenger) connects them.
//
// It must never hold domain state, talk to Raft, or encode for a client's layer (the gateway does that).
package handler
