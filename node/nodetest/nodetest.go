package nodetest

import (
	"context"
	"crypto/rsa"
	"os"
	"testing"
	"time"

	gwcrypto "github.com/raftgram/raftgram/gateway/crypto"
	"github.com/raftgram/raftgram/internal/freeport"
	"github.com/raftgram/raftgram/node"
	"github.com/raftgram/raftgram/node/gatehost"
)

// FreeAddr returns a 127.0.0.1 address whose port was free a moment ago, outside the kernel's ephemeral range
// and never given before in this process (internal/freeport says why).
func FreeAddr(t testing.TB) string {
	t.Helper()
	a, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// StartReady creates a node from cfg, starts it and waits (30 s each) until it is ready. If it does not become
// ready it is closed and the test fails; otherwise the caller closes it.
func StartReady(t testing.TB, cfg node.Config) *node.Node {
	t.Helper()
	n, err := node.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	Start(t, n)
	return n
}

// Start starts a node built by the caller (e.g. extended by node/messenger first) and waits (30 s each) until it
// is ready. If it does not become ready it is closed and the test fails; otherwise the caller closes it.
func Start(t testing.TB, n *node.Node) {
	t.Helper()
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
}

// PublicKey is the node's public RSA key (written to its data dir if missing), what MTProto clients are
// configured with.
func PublicKey(t testing.TB, n *node.Node) *rsa.PublicKey {
	t.Helper()
	path, _, err := gatehost.WritePublicKey(n.DataDir())
	if err != nil {
		t.Fatal(err)
	}
	pem, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := gwcrypto.ParsePublicPEM(pem)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}
