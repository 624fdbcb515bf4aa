//go:build tools

package raftgram

import (
	_ "github.com/cockroachdb/pebble/v2"
	_ "github.com/gotd/td/tg"
	_ "github.com/hashicorp/raft"
	_ "github.com/hashicorp/raft-boltdb/v2"
	_ "github.com/klauspost/reedsolomon"
	_ "github.com/panjf2000/gnet/v2"
	_ "github.com/prometheus/client_golang/prometheus"
)
