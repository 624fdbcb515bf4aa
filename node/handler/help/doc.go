// Package help is the stateless API domain: help.*, langpack.*, and the start-up methods of other namespaces
// (notify and privacy settings, sticker, emoji, reaction, theme and wallpaper catalogs) that real clients call
// right after connecting and that this server answers with valid defaults.
//
// help.getConfig lists every node's client address for DC 1 (from the meta group's published addresses), so
// clients fail over between nodes; the list is cached briefly because building it costs one linearizable read
// per node.
//
// Invariants:
//   - It holds no state beyond that cache: no FSM commands, no queries, no internal RPC. A setting a client
//     "saves" here (account.updateNotifySettings, account.registerDevice) is accepted and not stored, and says
//     so in its handler.
//   - It yields: a method another domain already registered is left to that domain (register skips it), so
//     this domain must be the last builder in cmd/raftgram/domains.go.
//   - Catalogs that carry a hash answer their "not modified" form only when the client sends back the hash this
//     server gave it (catalogHash); hash 0 ("I have nothing") always gets the full, empty catalog.
//   - Dates come from Deps.Clock, never time.Now.
//
// It must never write to Raft, read a shard's state, or answer for a signed-in user's data (that belongs to
// the account and messages domains).
package help
