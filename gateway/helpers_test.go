package gateway_test

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/raftgram/raftgram/gateway"
	"github.com/raftgram/raftgram/gateway/crypto"
	"github.com/raftgram/raftgram/internal/testclient"
	"github.com/raftgram/raftgram/tl"
	"github.com/raftgram/raftgram/tl/api"
)

var (
	keyOnce sync.Once
	srvKey  *crypto.ServerKey
)

func serverKey(t testing.TB) *crypto.ServerKey {
	keyOnce.Do(func() {
		k, err := crypto.GenerateServerKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		srvKey = k
	})
	return srvKey
}

func testLog() *slog.Logger {
	if os.Getenv("GATEWAY_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// testBackend answers help.getConfig with a config naming the test server as DC 1, and counts calls.
type testBackend struct {
	addr  atomic.Value // string host:port
	calls atomic.Int64
	mu    sync.Mutex
	last  gateway.Call
}

func (b *testBackend) Invoke(_ context.Context, call gateway.Call) (tl.Object, error) {
	b.calls.Add(1)
	b.mu.Lock()
	b.last = call
	b.mu.Unlock()
	switch call.Request.(type) {
	case *api.HelpGetConfigRequest:
		return b.config(), nil
	case *api.UsersGetUsersRequest:
		return nil, &gateway.RPCError{Code: 401, Message: "AUTH_KEY_UNREGISTERED"}
	case *api.HelpGetNearestDCRequest:
		// A large, compressible answer: the gateway must send it gzip_packed.
		return &api.NearestDC{Country: strings.Repeat("raftgram ", 1000), ThisDC: 1, NearestDC: 1}, nil
	case *api.HelpGetSupportRequest:
		panic("backend bug")
	}
	return nil, gateway.ErrNotImplemented
}

func (b *testBackend) lastCall() gateway.Call {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.last
}

func (b *testBackend) config() *api.Config {
	host, portStr, _ := net.SplitHostPort(b.addr.Load().(string))
	port, _ := strconv.Atoi(portStr)
	now := int32(time.Now().Unix())
	return &api.Config{
		Date: now, Expires: now + 3600, ThisDC: 1,
		DCOptions:       []*api.DCOption{{ID: 1, IPAddress: host, Port: int32(port)}},
		DCTxtDomainName: "localhost",
		ChatSizeMax:     200, MegagroupSizeMax: 200000, ForwardedCountMax: 100,
		OnlineUpdatePeriodMs: 210000, OfflineBlurTimeoutMs: 5000, OfflineIdleTimeoutMs: 30000,
		OnlineCloudTimeoutMs: 300000, NotifyCloudDelayMs: 30000, NotifyDefaultDelayMs: 1500,
		PushChatPeriodMs: 60000, PushChatLimit: 2, EditTimeLimit: 172800, RevokeTimeLimit: 172800,
		RevokePmTimeLimit: 172800, RatingEDecay: 2419200, StickersRecentLimit: 200,
		ChannelsReadMediaPeriod: 604800, CallReceiveTimeoutMs: 20000, CallRingTimeoutMs: 90000,
		CallConnectTimeoutMs: 30000, CallPacketTimeoutMs: 10000, MeURLPrefix: "https://t.me/",
		CaptionLengthMax: 1024, MessageLengthMax: 4096, WebfileDCID: 1,
	}
}

type testServer struct {
	*gateway.Server
	backend *testBackend
	store   *gateway.MemoryStore
}

func startServer(t testing.TB, mod func(*gateway.Options)) *testServer {
	t.Helper()
	b := &testBackend{}
	store := gateway.NewMemoryStore()
	// Small pq primes: gotd factors pq with big.Int arithmetic, seconds per key under -race at full size.
	opts := gateway.Options{ServerKey: serverKey(t), SaltSecret: []byte("test-cluster-secret-0123456789"), DC: 1,
		PQPrimeBits: 20}
	if mod != nil {
		mod(&opts)
	}
	s, err := gateway.New(opts, b, store, testLog())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	b.addr.Store(s.Addr().String())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Close(ctx)
	})
	return &testServer{Server: s, backend: b, store: store}
}

// newClient dials the server, creates a key and returns an encrypted session on the same connection.
func newClient(t testing.TB, s *testServer) *testclient.Session {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := testclient.Dial(ctx, s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	res, err := testclient.CreateKey(ctx, c.PlainRoundTrip(), &serverKey(t).Private.PublicKey, testclient.KeyOptions{DC: 1, Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	return testclient.NewSession(c, res.Key, res.Salt)
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}
