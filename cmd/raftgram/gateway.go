package main

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/raftgram/raftgram/node"
	"github.com/raftgram/raftgram/node/gatehost"
	"github.com/raftgram/raftgram/node/messenger"
)

// devClientAddr is the MTProto address of `raftgram run --dev`.
const devClientAddr = "127.0.0.1:2443"

// apiOptions are the messenger flags of serve, join and run.
type apiOptions struct {
	client      string   // MTProto address; empty: no gateway on this node
	devCode     string   // login code accepted for every phone (development only)
	codeCommand []string // program run with (phone, code) for every login code
}

// newNode builds a node with the messenger on it: every node applies the API's commands and runs its
// background work; only a node with a client address runs a gateway.
func newNode(cfg node.Config, o apiOptions, log *slog.Logger) (*node.Node, *messenger.Messenger, error) {
	n, err := node.New(cfg)
	if err != nil {
		return nil, nil, err
	}
	m, err := messenger.New(n, messenger.Options{ClientAddr: o.client, DevCode: o.devCode,
		CodeCommand: o.codeCommand, Log: log, Clock: cfg.Clock}, domains...)
	if err != nil {
		return nil, nil, err
	}
	// A service no domain provides is a wiring bug: refuse to start rather than fail on the first call.
	if err := m.Check(); err != nil {
		return nil, nil, err
	}
	return n, m, nil
}

// printClientInfo tells a developer how to point an MTProto client at the node: the address, the public key
// file (written next to the private key if missing) and its fingerprint, and the dev login code.
func printClientInfo(w io.Writer, n *node.Node, h *gatehost.Host, devCode string) error {
	if h == nil {
		fmt.Fprintln(w, "MTProto gateway: disabled on this node (no --client address)")
		return nil
	}
	path, fp, err := gatehost.WritePublicKey(n.DataDir())
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "MTProto clients: %s (TCP: abridged/intermediate/padded/full/obfuscated; WebSocket: ws://%s/apiws)\n",
		h.Addr(), h.Addr())
	fmt.Fprintf(w, "server public key (PKCS#1 RSA PUBLIC KEY): %s\nfingerprint: %016x\n", path, uint64(fp))
	if devCode != "" {
		fmt.Fprintf(w, "dev login code: %s (accepted for every phone number)\n", devCode)
	}
	return nil
}
