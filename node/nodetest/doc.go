// Package nodetest holds the test setup that the tests of several packages repeat around one real node: a free
// loopback address for its listeners, and starting a node and waiting until it serves.
//
// It owns nothing at run time: only tests import it. It must never be imported by non-test code, never reach
// beyond 127.0.0.1, and never hide a failure: every error fails the calling test. Package node's own
// (internal) tests cannot import it, since it imports node.
package nodetest
