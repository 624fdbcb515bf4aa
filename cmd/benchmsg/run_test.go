package main

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/raftgram/raftgram/gateway"
	"github.com/raftgram/raftgram/node"
	"github.com/raftgram/raftgram/node/handler/auth"
	"github.com/raftgram/raftgram/node/handler/help"
	"github.com/raftgram/raftgram/node/handler/messages"
	"github.com/raftgram/raftgram/node/messenger"
	"github.com/raftgram/raftgram/node/nodetest"
)

// TestMeasureWithEachClient runs the benchmark's own path (sign-up, pairing, one short run) against an in-process
// node with both clients: every acknowledged send must be pushed to its peer and counted.
func TestMeasureWithEachClient(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "n1")
	if _, err := node.Init(node.InitOptions{Dir: dir, NodeID: "n1", Shards: 2, Listen: nodetest.FreeAddr(t)}); err != nil {
		t.Fatal(err)
	}
	n, err := node.New(node.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	const code = "24680"
	m, err := messenger.New(n, messenger.Options{ClientAddr: "127.0.0.1:0", DevCode: code,
		Log:     slog.New(slog.DiscardHandler),
		Gateway: func(o *gateway.Options) { o.PQPrimeBits = 20 }}, auth.New, messages.New, help.New)
	if err != nil {
		t.Fatal(err)
	}
	nodetest.Start(t, n)
	t.Cleanup(func() { _ = n.Close() })
	pub := nodetest.PublicKey(t, n)
	log := slog.New(slog.DiscardHandler)
	for i, client := range []string{"raw", "gotd"} {
		t.Run(client, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cfg := config{duration: time.Second, grace: 5 * time.Second, code: code, workers: 4, shards: 2,
				client: client, phoneBase: int64(100 + i)}
			tr := &tracker{}
			pairs, err := signUp(ctx, cfg, []string{m.Host().Addr()}, pub, 2, tr)
			defer func() {
				for _, p := range pairs {
					p.close()
				}
			}()
			if err != nil {
				t.Fatal(err)
			}
			r, err := measure(ctx, cfg, pairs, tr, 0, log)
			if err != nil {
				t.Fatal(err)
			}
			if r.acked == 0 || r.errors != 0 || r.unpushed != 0 || len(r.push) != r.acked || len(r.ack) != r.acked {
				t.Fatalf("%s: acked %d, errors %d, unpushed %d, pushes %d", client, r.acked, r.errors, r.unpushed, len(r.push))
			}
			printTable(io.Discard, []result{r})
		})
	}
}
