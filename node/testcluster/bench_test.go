package testcluster_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/raftgram/raftgram/fsm"
	"github.com/raftgram/raftgram/node"
	"github.com/raftgram/raftgram/node/testcluster"
)

// BenchmarkClusterPut: 256-byte KV puts over internal RPC to each shard's leader on 3 real processes (fsync
// on), 16 concurrent clients. The full 1/16/100-client comparison with etcd is scripts/bench-cluster.sh.
func BenchmarkClusterPut(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := testcluster.Start(ctx, testcluster.Options{Nodes: 3, Shards: 3, Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	dd, err := node.OpenDataDir(c.Nodes[0].Dir)
	if err != nil {
		b.Fatal(err)
	}
	cl := node.NewClient(dd)
	defer cl.Close()
	leaders := make([]string, 3)
	for s := range leaders {
		l := c.Leader(ctx, uint32(s))
		if l < 0 {
			b.Fatalf("shard %d has no leader", s)
		}
		leaders[s] = c.Nodes[l].Addr
	}
	val := make([]byte, 240)
	var seq atomic.Uint64
	b.SetParallelism(8) // 8 x GOMAXPROCS(2) = 16 clients
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := seq.Add(1)
			var id fsm.RequestID
			_, _ = rand.Read(id[:])
			s := uint32(n % 3)
			key := []byte(fmt.Sprintf("bench-%010d", n))
			res, err := cl.ProposeAt(ctx, leaders[s], s, fsm.Command{Type: fsm.TypeKVPut, RequestID: id,
				Time: time.Now().UnixMilli(), Payload: fsm.EncodeKVPut(key, val)})
			if err != nil || res.Err != nil {
				b.Errorf("put: %v %v", err, res.Err)
				return
			}
		}
	})
}
