// Command tlgen generates raftgram's TL packages from the public schema files: tl/mt from mtproto.tl and
// tl/api from api-227.tl (canonical), with the older layers (api-223/198/170.tl) ingested into one IR per
// name to map their ids onto the canonical types and to write the per-layer report tl/layers/REPORT.md.
//
// Usage (from tl/, via go generate): tlgen -schema ../../shared/tl -out .
//
// It owns the TL schema parser, the Go naming rules, the emitter and the layer IR/report. It must never
// write anything but *_gen.go files in tl/mt and tl/api and tl/layers/REPORT.md, and its output must be a
// pure function of the schema files (deterministic: `make check-generated` relies on it). Generated code
// must stay small: per type only struct, TypeID/TypeName, Encode, Decode, a one-line String; everything
// shared lives in package tl.
package main
