// Package pebbledb is the Pebble plumbing shared by fsm and shard/raftlog: the Options both expose (FS, Logger,
// OnFatal, CacheBytes, MemTableBytes) and their defaulting, opening the DB with a logger that turns Pebble's
// Fatalf into a sticky fail-stop error, and the life lock that keeps every operation away from a closed DB.
//
// It owns: the *pebble.DB handle, its life lock (shared by operations, exclusive in Close), the closed flag, the
// sticky failure and the once-only call of OnFatal.
//
// It must never: decide key layouts or what is stored (its callers do), retry or swallow a fatal error (a retried
// fsync can falsely succeed; the failure stays sticky until the process exits), start goroutines, or reach for a
// global logger. Every text a caller's tests or users see (error prefixes, ErrClosed, log component and the
// default OnFatal message) comes from the caller through Names and Defaults, so each package keeps its own.
package pebbledb
