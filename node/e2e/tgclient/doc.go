// Package tgclient drives real gotd/td clients against a raftgram cluster for the end-to-end test (node/e2e)
// and the messaging benchmark (cmd/benchmsg): a Device is one gotd client (one auth key, one session) bound to
// one node's address at first and failing over to any node in help.getConfig's dc_options afterwards; Login
// signs in or up with a login code; Events flattens every shape of pushed or returned updates into pts events;
// Box is a client-side replica of one user's message box that applies events by pts as a real client does
// (in order, duplicates dropped, gaps filled by updates.getDifference) and records what it saw.
//
// It must never reach into a server process: everything goes over MTProto sockets. It holds no assertions:
// callers (tests, the benchmark) decide what is an error.
package tgclient
