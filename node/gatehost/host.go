package gatehost

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/raftgram/raftgram/gateway"
	gwcrypto "github.com/raftgram/raftgram/gateway/crypto"
	"github.com/raftgram/raftgram/node"
	"github.com/raftgram/raftgram/node/authkeys"
)

// DevLoginCode is the sign-in code `raftgram run --dev` will accept for every phone number (sign-in arrives with
// the messenger).
const DevLoginCode = "22222"

// Options configure a Host.
type Options struct {
	// ClientAddr is the MTProto listen address (host:port; port 0 picks one, see Addr).
	ClientAddr string
	// DC is the DC id this cluster answers as (default 1).
	DC int32
	// Gateway, if set, adjusts the gateway options before the server is built (tests: PQPrimeBits).
	Gateway func(*gateway.Options)
}

// Host is a node.Gateway running gateway.Server.
type Host struct {
	opts    Options
	backend gateway.Backend
	log     *slog.Logger

	mu    sync.Mutex
	srv   *gateway.Server
	store *authkeys.Store
}

var _ node.Gateway = (*Host)(nil)

// New returns a Host; nothing runs until Start. A nil backend means NotImplementedBackend.
func New(opts Options, backend gateway.Backend, log *slog.Logger) *Host {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.DC == 0 {
		opts.DC = 1
	}
	if backend == nil {
		backend = NewNotImplementedBackend(log)
	}
	return &Host{opts: opts, backend: backend, log: log}
}

// SaltSecret derives the gateway's salt secret from the cluster secret.
func SaltSecret(clusterSecret []byte) []byte {
	m := hmac.New(sha256.New, clusterSecret)
	m.Write([]byte("raftgram mtproto salts v1"))
	return m.Sum(nil)
}

// Start implements node.Gateway: it builds the gateway over n and starts listening on ClientAddr.
func (h *Host) Start(_ context.Context, n *node.Node) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.srv != nil {
		return errors.New("gatehost: already started")
	}
	if h.opts.ClientAddr == "" {
		return errors.New("gatehost: no client address")
	}
	dd := n.DataDir()
	key, err := gwcrypto.ParsePrivatePEM(dd.RSAPEM)
	if err != nil {
		return fmt.Errorf("gatehost: server RSA key: %w", err)
	}
	store := authkeys.NewStore(n)
	o := gateway.Options{ServerKey: key, SaltSecret: SaltSecret(dd.Secret), DC: h.opts.DC}
	o.Edge.Addr = h.opts.ClientAddr
	if h.opts.Gateway != nil {
		h.opts.Gateway(&o)
	}
	srv, err := gateway.New(o, h.backend, store, h.log.With("part", "gateway"))
	if err != nil {
		return fmt.Errorf("gatehost: %w", err)
	}
	if err := srv.Start(); err != nil {
		return fmt.Errorf("gatehost: %w", err)
	}
	h.srv, h.store = srv, store
	h.log.Info("MTProto gateway listening", "addr", srv.Addr().String(),
		"fingerprint", fmt.Sprintf("%016x", uint64(key.Fingerprint)))
	return nil
}

// Close implements node.Gateway: it closes every client connection and stops the gateway.
func (h *Host) Close() error {
	h.mu.Lock()
	srv := h.srv
	h.srv = nil
	h.mu.Unlock()
	if srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Close(ctx)
}

// Addr is the bound client address ("" before Start and after Close).
func (h *Host) Addr() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.srv == nil {
		return ""
	}
	return h.srv.Addr().String()
}

// Server is the running gateway (nil before Start): the backend binds users and pushes updates through it.
func (h *Host) Server() *gateway.Server {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.srv
}

// Store is the Raft-backed key store of the running gateway (nil before Start): the backend records sign-ins
// with Store.SetUser.
func (h *Host) Store() *authkeys.Store {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.store
}
