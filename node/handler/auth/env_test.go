package auth_test

import (
	"context"
	"crypto/rsa"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gotd/td/session"
	"github.com/gotd/td/telegram"
	tgauth "github.com/gotd/td/telegram/auth"
	"github.com/gotd/td/telegram/dcs"
	"github.com/gotd/td/tg"

	"github.com/raftgram/raftgram/gateway"
	"github.com/raftgram/raftgram/node"
	"github.com/raftgram/raftgram/node/handler"
	"github.com/raftgram/raftgram/node/handler/auth"
	"github.com/raftgram/raftgram/node/handler/users"
	"github.com/raftgram/raftgram/node/messenger"
	"github.com/raftgram/raftgram/node/nodetest"
	"github.com/raftgram/raftgram/tl"
	"github.com/raftgram/raftgram/tl/api"
)

// fakeClock is real time plus an offset the test moves forward (code expiry).
type fakeClock struct{ offset atomic.Int64 }

func (c *fakeClock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *fakeClock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

type push struct {
	user, except int64
	u            api.UpdatesClass
}

// fakes provides Pusher and ServiceMessages (recording) and help.getConfig, the services and start-up call
// the account domain relies on from other domains.
type fakes struct {
	d messenger.Deps

	mu      sync.Mutex
	pushes  []push
	service map[int64][]string
	addr    string
}

func (f *fakes) Push(_ context.Context, userID, except int64, u api.UpdatesClass) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pushes = append(f.pushes, push{userID, except, u})
}

func (f *fakes) SendService(_ context.Context, userID int64, text string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.service[userID] = append(f.service[userID], text)
	return nil
}

func (f *fakes) Extension() node.Extension   { return node.Extension{} }
func (f *fakes) Start(context.Context) error { return nil }
func (f *fakes) Close() error                { return nil }
func (f *fakes) Register(r *handler.Router) {
	handler.HandlePublic(r, func(context.Context, *handler.Call, *api.HelpGetConfigRequest) (tl.Object, error) {
		f.mu.Lock()
		addr := f.addr
		f.mu.Unlock()
		host, portStr, _ := net.SplitHostPort(addr)
		port, _ := strconv.Atoi(portStr)
		now := time.Now()
		return &api.Config{Date: int32(now.Unix()), Expires: int32(now.Add(time.Hour).Unix()), ThisDC: 1,
			DCOptions: []*api.DCOption{{ID: 1, IPAddress: host, Port: int32(port)}}, ChatSizeMax: 200,
			MegagroupSizeMax: 200000, ForwardedCountMax: 100, OnlineUpdatePeriodMs: 210000,
			OfflineBlurTimeoutMs: 5000, OfflineIdleTimeoutMs: 30000, OnlineCloudTimeoutMs: 300000,
			NotifyCloudDelayMs: 30000, NotifyDefaultDelayMs: 1500, PushChatPeriodMs: 60000, PushChatLimit: 2,
			EditTimeLimit: 172800, RevokeTimeLimit: 172800, RevokePmTimeLimit: 2147483647,
			StickersRecentLimit: 200, ChannelsReadMediaPeriod: 604800, CallReceiveTimeoutMs: 20000,
			CallRingTimeoutMs: 90000, CallConnectTimeoutMs: 30000, CallPacketTimeoutMs: 10000,
			MeURLPrefix: "https://t.me/", CaptionLengthMax: 1024, MessageLengthMax: 4096, WebfileDCID: 1}, nil
	})
}

// pushesTo returns the updates pushed to user so far.
func (f *fakes) pushesTo(user int64) []api.UpdateClass {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []api.UpdateClass
	for _, p := range f.pushes {
		if p.user != user {
			continue
		}
		if s, ok := p.u.(*api.UpdateShort); ok {
			out = append(out, s.Update)
		}
	}
	return out
}

var codeRE = regexp.MustCompile(`Login code: (\d+)`)

// lastServiceCode is the code in the newest service message to user.
func (f *fakes) lastServiceCode(user int64) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	msgs := f.service[user]
	if len(msgs) == 0 {
		return ""
	}
	if m := codeRE.FindStringSubmatch(msgs[len(msgs)-1]); m != nil {
		return m[1]
	}
	return ""
}

type env struct {
	t     testing.TB
	n     *node.Node
	m     *messenger.Messenger
	dom   *auth.Domain
	fakes *fakes
	clock *fakeClock
	addr  string
	admin string
	pub   *rsa.PublicKey
}

func testLog() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.DiscardHandler)
}

// startEnv runs a one-node cluster of `shards` shards with the account domain, the fakes and a gateway.
func startEnv(t testing.TB, shards int, lim auth.Limits, mod func(*messenger.Options)) *env {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "n1")
	admin := nodetest.FreeAddr(t)
	if _, err := node.Init(node.InitOptions{Dir: dir, NodeID: "n1", Shards: shards, Listen: nodetest.FreeAddr(t),
		Admin: admin}); err != nil {
		t.Fatal(err)
	}
	return startMember(t, dir, admin, lim, mod)
}

// startMember starts the node of an initialized (or joined) data dir with the account domain, the fakes and a
// gateway, and waits until it is ready.
func startMember(t testing.TB, dir, admin string, lim auth.Limits, mod func(*messenger.Options)) *env {
	t.Helper()
	n, err := node.New(node.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, n: n, clock: &fakeClock{}, admin: admin}
	f := &fakes{service: map[int64][]string{}}
	e.fakes = f
	fb := func(d messenger.Deps) (messenger.Domain, error) {
		f.d = d
		d.Services.Pusher, d.Services.ServiceMessages = f, f
		return f, nil
	}
	ab := func(d messenger.Deps) (messenger.Domain, error) {
		dom, err := auth.NewWithLimits(d, lim)
		e.dom = dom
		return dom, err
	}
	opts := messenger.Options{ClientAddr: "127.0.0.1:0", Log: testLog(), Clock: e.clock.Now,
		// Small pq primes: the client's proof of work is not what these tests are about.
		Gateway: func(o *gateway.Options) { o.PQPrimeBits = 20 }}
	if mod != nil {
		mod(&opts)
	}
	m, err := messenger.New(n, opts, ab, fb)
	if err != nil {
		t.Fatal(err)
	}
	e.m = m
	if err := m.Check(); err != nil {
		t.Fatal(err)
	}
	nodetest.Start(t, n)
	t.Cleanup(func() { n.Close() })
	e.pub = nodetest.PublicKey(t, n)
	e.addr = m.Host().Addr()
	f.mu.Lock()
	f.addr = e.addr
	f.mu.Unlock()
	return e
}

// client is a new gotd client (a new auth key) for the env's gateway.
func (e *env) client(device string) *telegram.Client {
	host, portStr, _ := net.SplitHostPort(e.addr)
	port, _ := strconv.Atoi(portStr)
	return telegram.NewClient(1, "test", telegram.Options{
		DC:             1,
		DCList:         dcs.List{Options: []tg.DCOption{{ID: 1, IPAddress: host, Port: port, Static: true}}},
		PublicKeys:     []telegram.PublicKey{{RSA: e.pub}},
		SessionStorage: &session.StorageMemory{},
		NoUpdates:      true,
		DialTimeout:    10 * time.Second,
		Device:         telegram.DeviceConfig{DeviceModel: device, SystemVersion: "test OS", AppVersion: "1.0"},
	})
}

// run runs fn with a connected client, failing the test on an error.
func (e *env) run(c *telegram.Client, fn func(ctx context.Context, api *tg.Client) error) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	if err := c.Run(ctx, func(ctx context.Context) error { return fn(ctx, c.API()) }); err != nil {
		e.t.Fatalf("client: %v", err)
	}
}

// codeFor finds the code just sent to phone: from the service message if the answer says app, else from the
// pending codes (what /codes lists).
func (e *env) codeFor(ctx context.Context, phone string, sent *tg.AuthSentCode, user int64) (string, error) {
	if _, ok := sent.Type.(*tg.AuthSentCodeTypeApp); ok {
		if c := e.fakes.lastServiceCode(user); c != "" {
			return c, nil
		}
		return "", fmt.Errorf("no service message to %d", user)
	}
	codes, err := e.dom.PendingCodes(ctx)
	if err != nil {
		return "", err
	}
	for _, c := range codes {
		if c.Phone == "+"+phone {
			return c.Code, nil
		}
	}
	return "", fmt.Errorf("no pending code for %s", phone)
}

// authenticator drives gotd's auth.Flow with codes found by codeFor.
type authenticator struct {
	e           *env
	phone       string
	first, last string
	knownUser   int64 // for codes delivered as service messages
}

func (a authenticator) Phone(context.Context) (string, error) { return "+" + a.phone, nil }
func (a authenticator) Password(context.Context) (string, error) {
	return "", fmt.Errorf("no password")
}
func (a authenticator) AcceptTermsOfService(context.Context, tg.HelpTermsOfService) error { return nil }
func (a authenticator) SignUp(context.Context) (tgauth.UserInfo, error) {
	return tgauth.UserInfo{FirstName: a.first, LastName: a.last}, nil
}
func (a authenticator) Code(ctx context.Context, sent *tg.AuthSentCode) (string, error) {
	return a.e.codeFor(ctx, a.phone, sent, a.knownUser)
}

// login runs gotd's auth.Flow (sign up if needed) and returns the signed-in user.
func (e *env) login(ctx context.Context, c *telegram.Client, phone, first string, known int64) (*tg.User, error) {
	flow := tgauth.NewFlow(authenticator{e: e, phone: phone, first: first, knownUser: known}, tgauth.SendCodeOptions{})
	if err := flow.Run(ctx, c.Auth()); err != nil {
		return nil, err
	}
	return c.Self(ctx)
}

// getJSON fetches an admin endpoint.
func (e *env) getJSON(path string) ([]byte, error) {
	resp, err := http.Get("http://" + e.admin + path)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

func (e *env) store() *users.Store { return users.NewStore(e.n, e.clock.Now) }
