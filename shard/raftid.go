package shard

import "strings"

// A raft server ID is "nodeID~incarnation". The incarnation is created with the node's raft stable state (node/
// keeps it in raft/incarnation), so a node that lost that state, and with it the votes it cast, comes back as a
// NEW raft member: it can never vote twice in one term under an ID a candidate already counted. '~' cannot
// occur in a node id, so the split is unambiguous. Placement and status speak node ids; only raft
// configurations carry the incarnation.
const incarnationSep = "~"

// RaftID returns the raft server ID of incarnation inc of node id ("" inc: the bare node id, as data dirs
// created before incarnations existed use).
func RaftID(id, inc string) string {
	if inc == "" {
		return id
	}
	return id + incarnationSep + inc
}

// NodeOf returns the node id of a raft server ID.
func NodeOf(raftID string) string {
	id, _, _ := strings.Cut(raftID, incarnationSep)
	return id
}
