// Command tlgen generates raftgram's TL packages from the public schema files: tl/mt from mtproto.tl and
// tl/api from api-227.tl (canonical), with the older layers (api-223/198/170.tl) ingested into one IR per
// name to map their ids onto the canonical types, to generate the projection of canonical values for each older
// layer (api/layers_encode_gen.go, with the reviewed policy tl/layers/policy.txt) and to write the per-layer
// report tl/layers/REPORT.md.
//
// Usage (from tl/, via go generate): tlgen -schema ../../shared/tl -out .
//
// It owns the TL schema parser, the Go naming rules, the emitter, the layer IR/report, the projection planner
// and the policy checker. It must never write anything but *_gen.go files in tl/mt and tl/api and
// tl/layers/REPORT.md (it reads tl/layers/policy.txt), and its output must be a
// pure function of the schema files and the policy (deterministic: `make check-generated` relies on it). Generated code
// must stay small: per type only struct, TypeID/TypeName, Encode, Decode, a one-line String; everything
// shared lives in package tl.
package main
