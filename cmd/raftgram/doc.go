// Command raftgram is the single binary of a raftgram node: init, join, serve, run --dev, status, token,
// remove-node and bench (see usage). It parses flags (plus an optional JSON config file whose keys are flag
// names), sets up log/slog, and calls node/; it must never hold logic a test cannot reach through node/.
package main
