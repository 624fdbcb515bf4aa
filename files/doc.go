// Package files owns the bytes of uploaded file parts: Reed-Solomon shards of each part spread over the
// cluster's nodes (Store), and this node's share of them in its own Pebble database (Local). DESIGN.md has the
// layout and the invariants.
//
// It must never: acknowledge a part before every shard of one write is synced on its own node; delete a write
// of a key unless a newer write of it is complete; return bytes that do not match the part's checksum; trust a
// shard header's sizes before checking them; know MTProto or who may read a file (node/handler/upload does).
package files
