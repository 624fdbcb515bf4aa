package gatehost_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gotd/log/logslog"
	"github.com/gotd/td/session"
	"github.com/gotd/td/telegram"
	"github.com/gotd/td/telegram/dcs"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/transport"

	"github.com/raftgram/raftgram/fsm"
	"github.com/raftgram/raftgram/gateway"
	gwcrypto "github.com/raftgram/raftgram/gateway/crypto"
	"github.com/raftgram/raftgram/node"
	"github.com/raftgram/raftgram/node/authkeys"
	"github.com/raftgram/raftgram/node/gatehost"
	"github.com/raftgram/raftgram/node/nodetest"
	"github.com/raftgram/raftgram/tl"
	"github.com/raftgram/raftgram/tl/api"
)

func testLog() *slog.Logger {
	if os.Getenv("RAFTGRAM_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// configBackend answers help.getConfig with a config naming the gateway's current address as DC 1.
type configBackend struct {
	addr  atomic.Value // host:port
	calls atomic.Int64
}

func (b *configBackend) Invoke(_ context.Context, call gateway.Call) (tl.Object, error) {
	if _, ok := call.Request.(*api.HelpGetConfigRequest); !ok {
		return nil, gateway.ErrNotImplemented
	}
	b.calls.Add(1)
	host, portStr, _ := net.SplitHostPort(b.addr.Load().(string))
	port, _ := strconv.Atoi(portStr)
	now := int32(time.Now().Unix())
	return &api.Config{
		Date: now, Expires: now + 3600, ThisDC: 1,
		DCOptions:       []*api.DCOption{{ID: 1, IPAddress: host, Port: int32(port)}},
		DCTxtDomainName: "localhost", ChatSizeMax: 200, MegagroupSizeMax: 1000, ForwardedCountMax: 100,
		OnlineUpdatePeriodMs: 210000, OfflineBlurTimeoutMs: 5000, OfflineIdleTimeoutMs: 30000,
		OnlineCloudTimeoutMs: 300000, NotifyCloudDelayMs: 30000, NotifyDefaultDelayMs: 1500,
		PushChatPeriodMs: 60000, PushChatLimit: 2, EditTimeLimit: 172800, RevokeTimeLimit: 172800,
		RevokePmTimeLimit: 172800, RatingEDecay: 2419200, StickersRecentLimit: 200,
		ChannelsReadMediaPeriod: 604800, CallReceiveTimeoutMs: 20000, CallRingTimeoutMs: 90000,
		CallConnectTimeoutMs: 30000, CallPacketTimeoutMs: 10000, MeURLPrefix: "https://t.me/",
		CaptionLengthMax: 1024, MessageLengthMax: 4096, WebfileDCID: 1,
	}, nil
}

// startNode starts a node of dir with a gatehost gateway on a free port, and waits until it is ready.
func startNode(t *testing.T, dir string, b gateway.Backend) (*node.Node, *gatehost.Host) {
	t.Helper()
	h := gatehost.New(gatehost.Options{ClientAddr: "127.0.0.1:0", Gateway: func(o *gateway.Options) {
		o.PQPrimeBits = 20 // gotd factors pq with big.Int: seconds per key under -race at full size
	}}, b, testLog())
	n := nodetest.StartReady(t, node.Config{DataDir: dir, Logger: testLog(), Gateway: h, Appliers: authkeys.Appliers()})
	if h.Addr() == "" || h.Server() == nil || h.Store() == nil {
		n.Close()
		t.Fatal("gateway not started")
	}
	return n, h
}

// getConfig runs a gotd client (intermediate transport) with storage against addr and calls help.getConfig.
func getConfig(t *testing.T, addr string, pub gwcrypto.ServerKey, storage telegram.SessionStorage, pfs ...bool) {
	t.Helper()
	runGotd(t, addr, pub, storage, dcs.Plain(dcs.PlainOptions{Protocol: transport.Intermediate}), nil, pfs...)
}

func runGotd(t *testing.T, addr string, pub gwcrypto.ServerKey, storage telegram.SessionStorage, resolver dcs.Resolver,
	domains map[int]string, pfs ...bool) {
	t.Helper()
	host, portStr, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portStr)
	client := telegram.NewClient(1, "test", telegram.Options{
		DC:             1,
		DCList:         dcs.List{Options: []tg.DCOption{{ID: 1, IPAddress: host, Port: port, Static: true}}, Domains: domains},
		PublicKeys:     []telegram.PublicKey{{RSA: &pub.Private.PublicKey}},
		Resolver:       resolver,
		SessionStorage: storage,
		NoUpdates:      true,
		DialTimeout:    10 * time.Second,
		Logger:         logslog.New(testLog().With("part", "gotd")),
		EnablePFS:      len(pfs) > 0 && pfs[0],
		TempKeyTTL:     3600,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := client.Run(ctx, func(ctx context.Context) error {
		cfg, err := client.API().HelpGetConfig(ctx)
		if err != nil {
			return err
		}
		if cfg.ThisDC != 1 {
			t.Errorf("this_dc %d", cfg.ThisDC)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("gotd: %v", err)
	}
}

func sessionKeyID(t *testing.T, storage *session.StorageMemory) []byte {
	t.Helper()
	d, err := (&session.Loader{Storage: storage}).Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return d.AuthKeyID
}

// sessionKey is the id of the client's auth key, as the server computes it from the key.
func sessionKey(t *testing.T, storage *session.StorageMemory) int64 {
	t.Helper()
	d, err := (&session.Loader{Storage: storage}).Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return gwcrypto.AuthKeyID(d.AuthKey)
}

// TestGotdKeyThroughRaftSurvivesRestart: gotd creates an auth key against a node's gateway (the key is
// committed through Raft before dh_gen_ok), completes help.getConfig through the Backend, and after the node
// is closed and started again from its data dir (a fresh gateway: nothing in memory) the same client key
// still works over intermediate TCP and WebSocket: no new key exchange, the key read back from the replicated
// state. A second client with PFS binds a temporary key through the cluster.
func TestGotdKeyThroughRaftSurvivesRestart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "n1")
	dd, err := node.Init(node.InitOptions{Dir: dir, Shards: 2, Listen: nodetest.FreeAddr(t), Admin: nodetest.FreeAddr(t)})
	if err != nil {
		t.Fatal(err)
	}
	srvKey, err := gwcrypto.ParsePrivatePEM(dd.RSAPEM)
	if err != nil {
		t.Fatal(err)
	}
	storage := &session.StorageMemory{}

	b := &configBackend{}
	n, h := startNode(t, dir, b)
	b.addr.Store(h.Addr())
	getConfig(t, h.Addr(), *srvKey, storage)
	keyID := sessionKeyID(t, storage)
	if len(keyID) != 8 || b.calls.Load() == 0 { // gotd also calls help.getConfig itself on connect
		t.Fatalf("key id %x, %d calls", keyID, b.calls.Load())
	}
	id := sessionKey(t, storage)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if k, ok, err := h.Store().Get(ctx, id); err != nil || !ok || k.Temp {
		t.Fatalf("key %x not in the cluster: %+v %v %v", keyID, k, ok, err)
	}

	// PFS: gotd creates a permanent and a temporary key and binds them (auth.bindTempAuthKey, answered by the
	// gateway through Store.Bind: a read of the permanent key, a Raft command in the temporary key's shard).
	pfs := &session.StorageMemory{}
	getConfig(t, h.Addr(), *srvKey, pfs, true)
	permID := sessionKey(t, pfs)
	bound := 0
	for _, k := range allKeys(t, n) {
		if k.Temp && k.PermID == permID {
			bound++
		}
	}
	if bound != 1 {
		t.Fatalf("%d temporary keys bound to the PFS client's permanent key", bound)
	}

	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if h.Addr() != "" {
		t.Fatal("gateway still running after the node closed")
	}

	b2 := &configBackend{}
	n2, h2 := startNode(t, dir, b2)
	defer n2.Close()
	b2.addr.Store(h2.Addr())
	getConfig(t, h2.Addr(), *srvKey, storage)
	if got := sessionKeyID(t, storage); !bytes.Equal(got, keyID) {
		t.Fatalf("client made a new key after the restart: %s -> %s", hex.EncodeToString(keyID), hex.EncodeToString(got))
	}
	// The same key over WebSocket on the same port (/apiws, obfuscated2 inside).
	runGotd(t, h2.Addr(), *srvKey, storage, dcs.Websocket(dcs.WebsocketOptions{}),
		map[int]string{1: "ws://" + h2.Addr() + "/apiws"})
	if got := sessionKeyID(t, storage); !bytes.Equal(got, keyID) {
		t.Fatal("client made a new key over WebSocket")
	}
	if b2.calls.Load() == 0 {
		t.Fatalf("%d calls after the restart", b2.calls.Load())
	}
	if m := h2.Server().Metrics(); m.KeysCreated.Load() != 0 {
		t.Fatalf("%d keys created after the restart", m.KeysCreated.Load())
	}
}

// allKeys lists every auth key in the node's local replicas (a single node holds every shard).
func allKeys(t *testing.T, n *node.Node) []gateway.AuthKey {
	t.Helper()
	var out []gateway.AuthKey
	for sh := 0; sh < n.Shards(); sh++ {
		err := n.State().View(uint32(sh), func(r fsm.Reader) error {
			return r.Scan([]byte("authkey/"), []byte("authkey0"), func(k, v []byte) bool {
				ak, err := authkeys.DecodeRecord(int64(binary.BigEndian.Uint64(k[len("authkey/"):])), v)
				if err != nil {
					t.Error(err)
					return false
				}
				out = append(out, ak)
				return true
			})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}
