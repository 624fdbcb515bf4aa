package nodetest

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/raftgram/raftgram/node"
)

// FreeAddr returns a 127.0.0.1 address whose port was free a moment ago. The listener is closed before
// returning, so the port can in principle be taken before the node binds it.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// StartReady creates a node from cfg, starts it and waits (30 s each) until it is ready. If it does not become
// ready it is closed and the test fails; otherwise the caller closes it.
func StartReady(t testing.TB, cfg node.Config) *node.Node {
	t.Helper()
	n, err := node.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !n.Ready() {
		if time.Now().After(deadline) {
			n.Close()
			t.Fatal("node not ready")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return n
}
