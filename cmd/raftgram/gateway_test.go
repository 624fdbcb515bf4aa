package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gwcrypto "github.com/raftgram/raftgram/gateway/crypto"
	"github.com/raftgram/raftgram/node"
	"github.com/raftgram/raftgram/node/authkeys"
	"github.com/raftgram/raftgram/node/gatehost"
	"github.com/raftgram/raftgram/node/nodetest"
)

// TestNewNodeRegistersAppliersEverywhere: the auth-key applier is on every node, the gateway only where a
// client address is given.
func TestNewNodeRegistersAppliersEverywhere(t *testing.T) {
	for _, client := range []string{"", "127.0.0.1:0"} {
		dir := filepath.Join(t.TempDir(), "n")
		if _, err := node.Init(node.InitOptions{Dir: dir, NodeID: "n1", Shards: 1, Listen: nodetest.FreeAddr(t)}); err != nil {
			t.Fatal(err)
		}
		n, m, err := newNode(node.Config{DataDir: dir}, apiOptions{client: client}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := n.Start(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
		if !n.State().Applies(authkeys.TypeV1) {
			t.Fatalf("client %q: auth-key applier not registered", client)
		}
		if (m.Host() != nil) != (client != "") {
			t.Fatalf("client %q: gateway %v", client, m.Host())
		}
		n.Close()
	}
}

// TestDevClientInfo: what `run --dev` prints after startup: the bound MTProto address, the path of a PKCS#1
// public key file matching the fingerprint, and the dev login code.
func TestDevClientInfo(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "dev")
	if _, err := node.Init(node.InitOptions{Dir: dir, NodeID: "dev", Shards: 1, Listen: nodetest.FreeAddr(t), Admin: nodetest.FreeAddr(t)}); err != nil {
		t.Fatal(err)
	}
	n, m, err := newNode(node.Config{DataDir: dir}, apiOptions{client: "127.0.0.1:0"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := m.Host()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	var out bytes.Buffer
	if err := printClientInfo(&out, n, h, gatehost.DevLoginCode); err != nil {
		t.Fatal(err)
	}
	pubPath := filepath.Join(dir, gatehost.PublicKeyFile)
	pem, err := os.ReadFile(pubPath)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := gwcrypto.ParsePublicPEM(pem)
	if err != nil || !bytes.HasPrefix(pem, []byte("-----BEGIN RSA PUBLIC KEY-----")) {
		t.Fatalf("public key file: %v\n%s", err, pem)
	}
	for _, want := range []string{h.Addr(), pubPath, fmt.Sprintf("%016x", uint64(gwcrypto.Fingerprint(pub))),
		"dev login code: " + gatehost.DevLoginCode} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "server_rsa.pem") {
		t.Fatalf("output names the private key file:\n%s", out.String())
	}
	// Printed again (a restart): the same file is accepted.
	if err := printClientInfo(&out, n, h, gatehost.DevLoginCode); err != nil {
		t.Fatal(err)
	}
}
