package main

import (
	"context"

	"github.com/raftgram/raftgram/node/testcluster"
)

// tcCluster adapts testcluster to nemesis.Cluster.
type tcCluster struct{ c *testcluster.Cluster }

func (t tcCluster) Size() int                                { return len(t.c.Nodes) }
func (t tcCluster) Running(i int) bool                       { return t.c.Nodes[i].Running() }
func (t tcCluster) Kill(i int) error                         { return t.c.Kill(i) }
func (t tcCluster) Restart(i int) error                      { return t.c.Restart(i) }
func (t tcCluster) Pause(i int) error                        { return t.c.Pause(i) }
func (t tcCluster) Resume(i int) error                       { return t.c.Resume(i) }
func (t tcCluster) Wipe(i int) error                         { return t.c.Wipe(i) }
func (t tcCluster) Leader(ctx context.Context, g uint32) int { return t.c.Leader(ctx, g) }
func (t tcCluster) RestartWith(i int, args ...string) error  { return t.c.RestartWith(i, args...) }
func (t tcCluster) Transfer(ctx context.Context, i int, g uint32) error {
	return t.c.TransferLeadership(ctx, i, g)
}
