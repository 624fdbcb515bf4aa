// Package crosscheck holds only tests: raftgram's TL codec (tl, tl/mt, tl/api) checked byte for byte
// against an independent implementation, gotd/td v0.160.0 (layer 227), in both directions, plus benchmarks
// of both on the same values. It must never be imported by production code (gotd is a test dependency).
package crosscheck
