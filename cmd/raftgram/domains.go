package main

import (
	"github.com/raftgram/raftgram/node/messenger"
)

// domains are the API domains every node runs (node/handler/<domain>).
var domains = []messenger.Builder{}
