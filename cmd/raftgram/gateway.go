package main

import (
	"fmt"
	"io"
	"log/slog"
	"maps"

	"github.com/raftgram/raftgram/node"
	"github.com/raftgram/raftgram/node/authkeys"
	"github.com/raftgram/raftgram/node/gatehost"
)

// devClientAddr is the MTProto address of `raftgram run --dev`.
const devClientAddr = "127.0.0.1:2443"

// withGateway registers the gateway's appliers on cfg (on every node: each replica applies the commands of its
// shards, whether or not it serves clients) and, when client is not empty, a gateway listening there.
func withGateway(cfg node.Config, client string, log *slog.Logger) (node.Config, *gatehost.Host) {
	apps := maps.Clone(cfg.Appliers)
	if apps == nil {
		apps = authkeys.Appliers()
	} else {
		maps.Copy(apps, authkeys.Appliers())
	}
	cfg.Appliers = apps
	if client == "" {
		return cfg, nil
	}
	h := gatehost.New(gatehost.Options{ClientAddr: client}, nil, log)
	cfg.Gateway = h
	return cfg, h
}

// printClientInfo tells a developer how to point an MTProto client at the node: the address, the public key
// file (written next to the private key if missing) and its fingerprint, and the dev login code.
func printClientInfo(w io.Writer, n *node.Node, h *gatehost.Host, dev bool) error {
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
	if dev {
		fmt.Fprintf(w, "dev login code: %s (sign-in arrives with the messenger; API methods answer METHOD_NOT_IMPLEMENTED until then)\n",
			gatehost.DevLoginCode)
	}
	return nil
}
