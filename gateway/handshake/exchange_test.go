package handshake_test

import (
	"context"
	"crypto/rand"
	"errors"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/raftgram/raftgram/gateway/crypto"
	"github.com/raftgram/raftgram/gateway/handshake"
	"github.com/raftgram/raftgram/internal/testclient"
	"github.com/raftgram/raftgram/tl"
	"github.com/raftgram/raftgram/tl/mt"
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

func newServer(t testing.TB, store handshake.AuthKeyStore, now time.Time) *handshake.Server {
	t.Helper()
	s, err := handshake.NewServer(handshake.Options{Key: serverKey(t), Store: store, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// direct feeds the exchange in process, exactly as the gateway does after framing.
func direct(x *handshake.Exchange, results *[]*handshake.Result) testclient.RoundTrip {
	return func(ctx context.Context, body []byte) ([]byte, error) {
		ans, res, err := x.Handle(ctx, body)
		if err != nil {
			return nil, err
		}
		if res != nil {
			*results = append(*results, res)
		}
		return tl.Marshal(ans)
	}
}

func TestExchangeCreatesKey(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	for _, tc := range []struct {
		name string
		opts testclient.KeyOptions
	}{
		{"rsa_pad_dc", testclient.KeyOptions{DC: 2}},
		{"legacy_pkcs", testclient.KeyOptions{Legacy: true}},
		{"temp_dc", testclient.KeyOptions{DC: 1, ExpiresIn: 3600}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := handshake.NewMemoryStore()
			s := newServer(t, store, now)
			var results []*handshake.Result
			tc.opts.Rand = rand.Reader
			got, err := testclient.CreateKey(context.Background(), direct(s.NewExchange(), &results), &serverKey(t).Private.PublicKey, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(results) != 1 {
				t.Fatalf("%d results", len(results))
			}
			r := results[0]
			if r.Key.ID != got.Key.ID || r.Key.Key != got.Key.Value || r.Salt != got.Salt {
				t.Fatal("client and server disagree on the key or salt")
			}
			stored, ok, err := store.Get(context.Background(), got.Key.ID)
			if err != nil || !ok || stored.Key != got.Key.Value {
				t.Fatal("key not persisted before dh_gen_ok")
			}
			if stored.DC != tc.opts.DC || stored.Temp != (tc.opts.ExpiresIn > 0) {
				t.Fatalf("stored %+v", stored)
			}
			if tc.opts.ExpiresIn > 0 && !stored.ExpiresAt.Equal(now.Add(time.Hour)) {
				t.Fatalf("expiry %v", stored.ExpiresAt)
			}
			if got.ServerTime != int32(now.Unix()) {
				t.Fatal("server_time not from the injected clock")
			}
		})
	}
}

// collidingStore reports the first n Puts as collisions, to drive dh_gen_retry.
type collidingStore struct {
	*handshake.MemoryStore
	n   int
	err error
}

func (c *collidingStore) Put(ctx context.Context, k handshake.AuthKey) error {
	if c.err != nil {
		return c.err
	}
	if c.n > 0 {
		c.n--
		return handshake.ErrKeyExists
	}
	return c.MemoryStore.Put(ctx, k)
}

func TestExchangeRetryAndFail(t *testing.T) {
	store := &collidingStore{MemoryStore: handshake.NewMemoryStore(), n: 2}
	s := newServer(t, store, time.Now())
	var results []*handshake.Result
	if _, err := testclient.CreateKey(context.Background(), direct(s.NewExchange(), &results), &serverKey(t).Private.PublicKey, testclient.KeyOptions{Rand: rand.Reader}); err != nil {
		t.Fatalf("two retries then ok: %v", err)
	}
	if store.Len() != 1 {
		t.Fatal("key not stored after retries")
	}
	failing := &collidingStore{MemoryStore: handshake.NewMemoryStore(), err: errors.New("disk on fire")}
	s = newServer(t, failing, time.Now())
	_, err := testclient.CreateKey(context.Background(), direct(s.NewExchange(), &results), &serverKey(t).Private.PublicKey, testclient.KeyOptions{Rand: rand.Reader})
	if err == nil || err.Error() != "dh_gen_fail" {
		t.Fatalf("want dh_gen_fail, got %v", err)
	}
}

func handle(t *testing.T, x *handshake.Exchange, req tl.Object) (tl.Object, error) {
	t.Helper()
	b, err := tl.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	ans, _, err := x.Handle(context.Background(), b)
	return ans, err
}

func TestExchangeRejects(t *testing.T) {
	s := newServer(t, handshake.NewMemoryStore(), time.Now())
	x := s.NewExchange()
	// Out of order.
	if _, err := handle(t, x, &mt.SetClientDHParamsRequest{}); !errors.Is(err, handshake.ErrUnexpected) {
		t.Fatalf("set_client_DH_params first: %v", err)
	}
	if _, err := handle(t, x, &mt.PingRequest{PingID: 1}); !errors.Is(err, handshake.ErrUnexpected) {
		t.Fatalf("ping unencrypted: %v", err)
	}
	if _, _, err := x.Handle(context.Background(), []byte{1, 2, 3, 4, 5}); err == nil {
		t.Fatal("garbage accepted")
	}
	ans, err := handle(t, x, &mt.ReqPqMultiRequest{Nonce: tl.Int128{1}})
	if err != nil {
		t.Fatal(err)
	}
	res := ans.(*mt.ResPQ)
	if res.ServerNonce[0] == 0 {
		t.Fatal("server_nonce starts with 0")
	}
	if len(res.ServerPublicKeyFingerprints) != 1 || res.ServerPublicKeyFingerprints[0] != serverKey(t).Fingerprint {
		t.Fatal("fingerprint not advertised")
	}
	good := &mt.ReqDHParamsRequest{Nonce: tl.Int128{1}, ServerNonce: res.ServerNonce, PublicKeyFingerprint: serverKey(t).Fingerprint, EncryptedData: make([]byte, 256)}
	bad := *good
	bad.Nonce = tl.Int128{2}
	if _, err := handle(t, x, &bad); !errors.Is(err, handshake.ErrNonce) {
		t.Fatalf("wrong nonce: %v", err)
	}
	// The failed step reset the exchange: start again.
	ans, _ = handle(t, x, &mt.ReqPqMultiRequest{Nonce: tl.Int128{1}})
	good.ServerNonce = ans.(*mt.ResPQ).ServerNonce
	bad = *good
	bad.PublicKeyFingerprint++
	if _, err := handle(t, x, &bad); !errors.Is(err, handshake.ErrFingerprint) {
		t.Fatalf("wrong fingerprint: %v", err)
	}
	ans, _ = handle(t, x, &mt.ReqPqMultiRequest{Nonce: tl.Int128{1}})
	good.ServerNonce = ans.(*mt.ResPQ).ServerNonce
	if _, err := handle(t, x, good); !errors.Is(err, handshake.ErrPQ) {
		t.Fatalf("missing p/q: %v", err)
	}
	// The per-connection cap on exchanges.
	if _, err := handle(t, x, &mt.ReqPqMultiRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := handle(t, x, &mt.ReqPqMultiRequest{}); !errors.Is(err, handshake.ErrTooMany) {
		t.Fatalf("fifth exchange: %v", err)
	}
}

func TestPlainFrame(t *testing.T) {
	f := handshake.AppendPlain(nil, 1234<<2, []byte{1, 2, 3, 4})
	id, body, err := handshake.ParsePlain(f)
	if err != nil || id != 1234<<2 || len(body) != 4 {
		t.Fatalf("round trip: %v", err)
	}
	for _, bad := range [][]byte{nil, f[:19], f[:23], append(append([]byte{}, f...), make([]byte, 16)...), append([]byte{1}, f[1:]...)} {
		if _, _, err := handshake.ParsePlain(bad); err == nil {
			t.Fatalf("accepted %x", bad)
		}
	}
}

// threadCPU is the CPU time of the calling OS thread (Linux RUSAGE_THREAD): unlike wall time it does not
// count time spent waiting for a core on a loaded machine.
func threadCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkHandshakeServerCPU runs whole exchanges in process and reports the CPU time spent inside the
// server's Exchange.Handle per handshake (server-cpu-ms/op), apart from the client's share.
func BenchmarkHandshakeServerCPU(b *testing.B) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	s := newServer(b, handshake.NewMemoryStore(), time.Now())
	pub := &serverKey(b).Private.PublicKey
	var server time.Duration
	b.ResetTimer()
	for range b.N {
		x := s.NewExchange()
		rt := func(ctx context.Context, body []byte) ([]byte, error) {
			start := threadCPU()
			ans, _, err := x.Handle(ctx, body)
			server += threadCPU() - start
			if err != nil {
				return nil, err
			}
			return tl.Marshal(ans)
		}
		if _, err := testclient.CreateKey(context.Background(), rt, pub, testclient.KeyOptions{Rand: rand.Reader}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(server.Microseconds())/1000/float64(b.N), "server-cpu-ms/op")
}

// FuzzExchange feeds arbitrary unencrypted bodies to an exchange, after a valid req_pq_multi so that the
// deeper states are reachable: errors only, never a panic.
func FuzzExchange(f *testing.F) {
	s := newServer(f, handshake.NewMemoryStore(), time.Unix(1_800_000_000, 0))
	pq, _ := tl.Marshal(&mt.ReqPqMultiRequest{Nonce: tl.Int128{1}})
	dh, _ := tl.Marshal(&mt.ReqDHParamsRequest{Nonce: tl.Int128{1}, P: []byte{1}, Q: []byte{2}, EncryptedData: make([]byte, 256)})
	set, _ := tl.Marshal(&mt.SetClientDHParamsRequest{Nonce: tl.Int128{1}, EncryptedData: make([]byte, 48)})
	f.Add(pq)
	f.Add(dh)
	f.Add(set)
	f.Add([]byte{0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, body []byte) {
		x := s.NewExchange()
		ctx := context.Background()
		if _, _, err := x.Handle(ctx, pq); err != nil {
			t.Fatal(err)
		}
		_, _, _ = x.Handle(ctx, body)
	})
}

// TestPlainFrameSpecSample parses the req_pq message published on core.telegram.org/mtproto/samples-auth_key.
func TestPlainFrameSpecSample(t *testing.T) {
	frame := []byte{
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x4A, 0x96, 0x70, 0x27, 0xC4, 0x7A, 0xE5, 0x51,
		0x14, 0x00, 0x00, 0x00, 0x78, 0x97, 0x46, 0x60, 0x3E, 0x05, 0x49, 0x82, 0x8C, 0xCA, 0x27, 0xE9,
		0x66, 0xB3, 0x01, 0xA4, 0x8F, 0xEC, 0xE2, 0xFC,
	}
	id, body, err := handshake.ParsePlain(frame)
	if err != nil || id != 0x51e57ac42770964a {
		t.Fatalf("msg_id %x: %v", id, err)
	}
	obj, err := tl.DecodeObject(body, tl.NewRegistry(mt.New))
	if err != nil {
		t.Fatal(err)
	}
	req, ok := obj.(*mt.ReqPqRequest)
	want := tl.Int128{0x3E, 0x05, 0x49, 0x82, 0x8C, 0xCA, 0x27, 0xE9, 0x66, 0xB3, 0x01, 0xA4, 0x8F, 0xEC, 0xE2, 0xFC}
	if !ok || req.Nonce != want {
		t.Fatalf("decoded %v", obj)
	}
}
