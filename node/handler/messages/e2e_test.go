package messages_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gotd/log/logslog"
	"github.com/gotd/td/session"
	"github.com/gotd/td/telegram"
	"github.com/gotd/td/telegram/dcs"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/transport"

	"github.com/raftgram/raftgram/gateway"
	gwcrypto "github.com/raftgram/raftgram/gateway/crypto"
	"github.com/raftgram/raftgram/node"
	"github.com/raftgram/raftgram/node/access"
	"github.com/raftgram/raftgram/node/authkeys"
	"github.com/raftgram/raftgram/node/handler"
	"github.com/raftgram/raftgram/node/handler/messages"
	"github.com/raftgram/raftgram/node/messenger"
	"github.com/raftgram/raftgram/node/nodetest"
	"github.com/raftgram/raftgram/shard"
	"github.com/raftgram/raftgram/tl"
	"github.com/raftgram/raftgram/tl/api"
)

func testLog() *slog.Logger {
	if os.Getenv("RAFTGRAM_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// fakeAccount stands in for the account domain in these tests: help.getConfig, a sign-in shortcut
// (auth.signIn with the user id as the phone number: the key's user is set in Raft and bound on the gateway)
// and a Directory whose users carry the viewer's access hashes.
type fakeAccount struct {
	d    messenger.Deps
	addr func() string
}

func newFakeAccount(addr func() string) messenger.Builder {
	return func(d messenger.Deps) (messenger.Domain, error) {
		f := &fakeAccount{d: d, addr: addr}
		d.Services.Directory = f
		return f, nil
	}
}

func (f *fakeAccount) Extension() node.Extension   { return node.Extension{} }
func (f *fakeAccount) Start(context.Context) error { return nil }
func (f *fakeAccount) Close() error                { return nil }

func (f *fakeAccount) Register(r *handler.Router) {
	handler.HandlePublic(r, func(_ context.Context, _ *handler.Call, _ *api.HelpGetConfigRequest) (tl.Object, error) {
		host, portStr, _ := net.SplitHostPort(f.addr())
		port, _ := strconv.Atoi(portStr)
		now := int32(time.Now().Unix())
		return &api.Config{Date: now, Expires: now + 3600, ThisDC: 1,
			DCOptions:       []*api.DCOption{{ID: 1, IPAddress: host, Port: int32(port)}},
			DCTxtDomainName: "localhost", ChatSizeMax: 200, MegagroupSizeMax: 1000, ForwardedCountMax: 100,
			OnlineUpdatePeriodMs: 210000, OfflineBlurTimeoutMs: 5000, OfflineIdleTimeoutMs: 30000,
			OnlineCloudTimeoutMs: 300000, NotifyCloudDelayMs: 30000, NotifyDefaultDelayMs: 1500,
			PushChatPeriodMs: 60000, PushChatLimit: 2, EditTimeLimit: 172800, RevokeTimeLimit: 172800,
			RevokePmTimeLimit: 172800, RatingEDecay: 2419200, StickersRecentLimit: 200,
			ChannelsReadMediaPeriod: 604800, CallReceiveTimeoutMs: 20000, CallRingTimeoutMs: 90000,
			CallConnectTimeoutMs: 30000, CallPacketTimeoutMs: 10000, MeURLPrefix: "https://t.me/",
			CaptionLengthMax: 1024, MessageLengthMax: 4096, WebfileDCID: 1}, nil
	})
	handler.HandlePublic(r, func(ctx context.Context, c *handler.Call, req *api.AuthSignInRequest) (tl.Object, error) {
		uid, err := strconv.ParseInt(req.PhoneNumber, 10, 64)
		if err != nil || uid <= 0 {
			return nil, handler.BadRequest("PHONE_NUMBER_INVALID")
		}
		if err := authkeys.NewStore(f.d.Node).SetUser(ctx, c.PermKeyID, uid); err != nil {
			return nil, err
		}
		if e := f.d.Services.Edge(); e != nil {
			e.BindUser(c.PermKeyID, uid)
		}
		return &api.AuthAuthorization{User: f.user(uid, uid)}, nil
	})
}

func (f *fakeAccount) user(viewer, id int64) *api.User {
	return &api.User{ID: id, Self: id == viewer, AccessHash: tl.Ptr(f.d.Access.User(viewer, id)),
		FirstName: tl.Ptr(fmt.Sprint("user", id))}
}

func (f *fakeAccount) Users(_ context.Context, viewer int64, ids []int64) ([]api.UserClass, error) {
	out := make([]api.UserClass, 0, len(ids))
	for _, id := range ids {
		out = append(out, f.user(viewer, id))
	}
	return out, nil
}

// cluster is one node holding every shard, with the messages domain and its gateway.
type cluster struct {
	n    *node.Node
	m    *messenger.Messenger
	pub  gwcrypto.ServerKey
	hash access.Hasher
}

func startCluster(t testing.TB, shards int) *cluster {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "n1")
	if _, err := node.Init(node.InitOptions{Dir: dir, NodeID: "n1", Shards: shards, Listen: nodetest.FreeAddr(t)}); err != nil {
		t.Fatal(err)
	}
	return openCluster(t, dir)
}

// openNode starts the node of an initialized data dir with the messages domain and a gateway.
func openNode(t testing.TB, dir string) *cluster {
	t.Helper()
	n, err := node.New(node.Config{DataDir: dir, Logger: testLog()})
	if err != nil {
		t.Fatal(err)
	}
	key, err := gwcrypto.ParsePrivatePEM(n.DataDir().RSAPEM)
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{n: n, pub: *key, hash: access.New(n.DataDir().Secret)}
	c.m, err = messenger.New(n, messenger.Options{ClientAddr: "127.0.0.1:0", Log: testLog(),
		Gateway: func(o *gateway.Options) { o.PQPrimeBits = 20 }},
		messages.New, newFakeAccount(func() string { return c.m.Host().Addr() }))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close() })
	return c
}

// openCluster starts the single node of an initialized data dir (again, after a Close: a restart) and waits
// until it leads every shard.
func openCluster(t testing.TB, dir string) *cluster {
	t.Helper()
	c := openNode(t, dir)
	n := c.n
	deadline := time.Now().Add(30 * time.Second)
	for !n.Ready() || !allLeaders(n) {
		if time.Now().After(deadline) {
			t.Fatal("node not ready")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return c
}

func allLeaders(n *node.Node) bool {
	for s := range uint32(n.Shards()) {
		if !n.IsLeader(s) {
			return false
		}
	}
	return true
}

// device is one gotd client (one auth key) signed in as a user, recording every update pushed to it.
type device struct {
	t      testing.TB
	hook   func(tg.UpdatesClass) // if set, gets every pushed update instead of the record
	user   int64
	api    *tg.Client
	cancel context.CancelFunc
	done   chan error

	mu      sync.Mutex
	updates []tg.UpdatesClass
}

func (c *cluster) device(t testing.TB, user int64) *device { return c.deviceWith(t, user, nil) }

func (c *cluster) deviceWith(t testing.TB, user int64, hook func(tg.UpdatesClass)) *device {
	t.Helper()
	host, portStr, _ := net.SplitHostPort(c.m.Host().Addr())
	port, _ := strconv.Atoi(portStr)
	d := &device{t: t, user: user, done: make(chan error, 1), hook: hook}
	client := telegram.NewClient(1, "test", telegram.Options{
		DC:             1,
		DCList:         dcs.List{Options: []tg.DCOption{{ID: 1, IPAddress: host, Port: port, Static: true}}},
		PublicKeys:     []telegram.PublicKey{{RSA: &c.pub.Private.PublicKey}},
		Resolver:       dcs.Plain(dcs.PlainOptions{Protocol: transport.Intermediate}),
		SessionStorage: &session.StorageMemory{},
		DialTimeout:    10 * time.Second,
		Logger:         logslog.New(testLog().With("part", "gotd")),
		UpdateHandler: telegram.UpdateHandlerFunc(func(_ context.Context, u tg.UpdatesClass) error {
			if d.hook != nil {
				d.hook(u)
				return nil
			}
			d.mu.Lock()
			d.updates = append(d.updates, u)
			d.mu.Unlock()
			return nil
		}),
	})
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	ready := make(chan struct{})
	go func() {
		d.done <- client.Run(ctx, func(ctx context.Context) error {
			close(ready)
			<-ctx.Done()
			return nil
		})
	}()
	select {
	case <-ready:
	case err := <-d.done:
		t.Fatalf("gotd: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("gotd did not connect")
	}
	d.api = client.API()
	if _, err := d.api.AuthSignIn(d.ctx(), &tg.AuthSignInRequest{PhoneNumber: fmt.Sprint(user), PhoneCodeHash: "x",
		PhoneCode: "1"}); err != nil {
		t.Fatalf("sign in %d: %v", user, err)
	}
	t.Cleanup(d.close)
	return d
}

func (d *device) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	d.t.Cleanup(cancel)
	return ctx
}

func (d *device) close() {
	d.cancel()
	<-d.done
	d.done <- nil // idempotent
}

// newMsg is a pushed new message as gotd hands it over (updateShortMessage becomes updateShort{updateNewMessage}).
type newMsg struct {
	*tg.Message
	Pts, PtsCount int
}

// waitNew waits for a pushed new message matching f.
func (d *device) waitNew(f func(newMsg) bool) newMsg {
	d.t.Helper()
	var got newMsg
	d.waitUpdate(func(u tg.UpdateClass) bool {
		n, ok := u.(*tg.UpdateNewMessage)
		if !ok {
			return false
		}
		m, ok := n.Message.(*tg.Message)
		if !ok {
			return false
		}
		got = newMsg{m, n.Pts, n.PtsCount}
		return f(got)
	})
	return got
}

// waitUpdate waits for a pushed update (inside updateShort / updates) matching f.
func (d *device) waitUpdate(f func(tg.UpdateClass) bool) tg.UpdateClass {
	d.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		d.mu.Lock()
		for _, u := range d.updates {
			var list []tg.UpdateClass
			switch x := u.(type) {
			case *tg.UpdateShort:
				list = []tg.UpdateClass{x.Update}
			case *tg.Updates:
				list = x.Updates
			}
			for _, up := range list {
				if f(up) {
					d.mu.Unlock()
					return up
				}
			}
		}
		d.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	d.t.Fatalf("user %d: no matching update pushed", d.user)
	return nil
}

func (c *cluster) peer(viewer, id int64) *tg.InputPeerUser {
	return &tg.InputPeerUser{UserID: id, AccessHash: c.hash.User(viewer, id)}
}

// usersOnShards returns two users in different shards.
func usersOnShards(n int) (int64, int64) {
	a := int64(100)
	b := a + 1
	for shard.Of(b, n) == shard.Of(a, n) {
		b++
	}
	return a, b
}

func (d *device) send(c *cluster, to int64, rid int64, text string) *tg.UpdateShortSentMessage {
	d.t.Helper()
	res, err := d.api.MessagesSendMessage(d.ctx(), &tg.MessagesSendMessageRequest{Peer: c.peer(d.user, to),
		Message: text, RandomID: rid})
	if err != nil {
		d.t.Fatalf("send %q: %v", text, err)
	}
	s, ok := res.(*tg.UpdateShortSentMessage)
	if !ok {
		d.t.Fatalf("send answered %T", res)
	}
	return s
}

func (d *device) history(c *cluster, peer int64) []*tg.Message {
	d.t.Helper()
	res, err := d.api.MessagesGetHistory(d.ctx(), &tg.MessagesGetHistoryRequest{Peer: c.peer(d.user, peer), Limit: 100})
	if err != nil {
		d.t.Fatal(err)
	}
	mm, ok := res.AsModified()
	if !ok {
		d.t.Fatalf("history answered %T", res)
	}
	var out []*tg.Message
	for _, m := range mm.GetMessages() {
		if x, ok := m.(*tg.Message); ok {
			out = append(out, x)
		}
	}
	return out
}

// bySender lists the texts of hist (owner's box, newest first) sent by from.
func bySender(hist []*tg.Message, owner, from int64) []string {
	var out []string
	for _, m := range hist {
		if m.Out == (from == owner) {
			out = append(out, m.Message)
		}
	}
	return out
}

// TestChatAcrossShards: two users on different shards of a 3-shard node chat both ways through real gotd
// clients; a second device of each receives the pushes (the sender's own sends too, never the sending
// session); a retried send (same random_id) is stored once and answered with the same ids; an offline device
// catches up with getDifference; reads, edits and revoking deletes reach the other side.
func TestChatAcrossShards(t *testing.T) {
	c := startCluster(t, 3)
	a, b := usersOnShards(3)
	a1, a2, b1 := c.device(t, a), c.device(t, a), c.device(t, b)

	s1 := a1.send(c, b, 11, "hello b")
	if s1.ID != 1 || s1.Pts != 1 || s1.PtsCount != 1 || !s1.Out {
		t.Fatalf("first send: %+v", s1)
	}
	in := b1.waitNew(func(u newMsg) bool { return u.Message.Message == "hello b" })
	if in.Out || in.FromID.(*tg.PeerUser).UserID != a || in.Pts != 1 || in.PtsCount != 1 {
		t.Fatalf("recipient push: %+v", in)
	}
	own := a2.waitNew(func(u newMsg) bool { return u.Message.Message == "hello b" })
	if !own.Out || own.PeerID.(*tg.PeerUser).UserID != b || own.ID != s1.ID || own.Pts != s1.Pts {
		t.Fatalf("second device push: %+v", own)
	}
	// The retry: same ids, stored once.
	if r := a1.send(c, b, 11, "hello b"); r.ID != s1.ID || r.Pts != s1.Pts || r.Date != s1.Date {
		t.Fatalf("retry answered %+v, first %+v", r, s1)
	}
	if _, err := a1.api.MessagesSendMessage(a1.ctx(), &tg.MessagesSendMessageRequest{Peer: c.peer(a, b),
		Message: "other", RandomID: 11}); err == nil || !tg.IsRandomIDDuplicate(err) {
		t.Fatalf("another message with the same random_id: %v", err)
	}
	// Both ways, in order.
	for i := range 5 {
		b1.send(c, a, int64(100+i), fmt.Sprint("from b ", i))
		a1.send(c, b, int64(200+i), fmt.Sprint("from a ", i))
	}
	a1.waitNew(func(u newMsg) bool { return u.Message.Message == "from b 4" })
	a2.waitNew(func(u newMsg) bool { return u.Message.Message == "from b 4" })
	b1.waitNew(func(u newMsg) bool { return u.Message.Message == "from a 4" })
	ha, hb := a1.history(c, b), b1.history(c, a)
	if len(ha) != 11 || len(hb) != 11 {
		t.Fatalf("histories: %d and %d messages, want 11", len(ha), len(hb))
	}
	// Each direction keeps its order in both boxes (the two directions may interleave differently).
	for _, from := range []int64{a, b} {
		seqA, seqB := bySender(ha, a, from), bySender(hb, b, from)
		if fmt.Sprint(seqA) != fmt.Sprint(seqB) || len(seqA) == 0 {
			t.Fatalf("messages of %d: A sees %q, B sees %q", from, seqA, seqB)
		}
	}
	if ha[10].Message != "hello b" || hb[10].Message != "hello b" {
		t.Fatalf("oldest: %q / %q", ha[10].Message, hb[10].Message)
	}

	// Read receipts: B reads everything, A's devices get updateReadHistoryOutbox in A's ids.
	if _, err := b1.api.MessagesReadHistory(b1.ctx(), &tg.MessagesReadHistoryRequest{Peer: c.peer(b, a)}); err != nil {
		t.Fatal(err)
	}
	lastA := int32(0)
	for _, m := range ha {
		if m.Out && int32(m.ID) > lastA {
			lastA = int32(m.ID)
		}
	}
	a1.waitUpdate(func(u tg.UpdateClass) bool {
		r, ok := u.(*tg.UpdateReadHistoryOutbox)
		return ok && r.MaxID == int(lastA)
	})
	// Edit and revoke reach B.
	if _, err := a1.api.MessagesEditMessage(a1.ctx(), &tg.MessagesEditMessageRequest{Peer: c.peer(a, b), ID: s1.ID,
		Message: "hello b (edited)"}); err != nil {
		t.Fatal(err)
	}
	b1.waitUpdate(func(u tg.UpdateClass) bool {
		e, ok := u.(*tg.UpdateEditMessage)
		return ok && e.Message.(*tg.Message).Message == "hello b (edited)"
	})
	if _, err := a1.api.MessagesDeleteMessages(a1.ctx(), &tg.MessagesDeleteMessagesRequest{Revoke: true, ID: []int{s1.ID}}); err != nil {
		t.Fatal(err)
	}
	b1.waitUpdate(func(u tg.UpdateClass) bool {
		d, ok := u.(*tg.UpdateDeleteMessages)
		return ok && len(d.Messages) == 1 && d.Messages[0] == hb[10].ID
	})
	if n := len(b1.history(c, a)); n != 10 {
		t.Fatalf("B has %d messages after the revoke", n)
	}

	// A device that was offline the whole time catches up from pts 0, and its pts matches getState.
	b2 := c.device(t, b)
	st, err := b2.api.UpdatesGetState(b2.ctx())
	if err != nil {
		t.Fatal(err)
	}
	diff, err := b2.api.UpdatesGetDifference(b2.ctx(), &tg.UpdatesGetDifferenceRequest{Pts: 0, Date: 0})
	if err != nil {
		t.Fatal(err)
	}
	d, ok := diff.(*tg.UpdatesDifference)
	if !ok {
		t.Fatalf("difference: %T", diff)
	}
	live, events := 0, len(d.NewMessages) // a deleted message is a messageEmpty: its pts still add up
	for _, m := range d.NewMessages {
		if _, ok := m.(*tg.Message); ok {
			live++
		}
	}
	for _, u := range d.OtherUpdates {
		if p, ok := u.(interface{ GetPtsCount() int }); ok {
			events += p.GetPtsCount()
		}
	}
	if d.State.Pts != st.Pts || live != 10 || events != st.Pts || len(d.Users) == 0 {
		t.Fatalf("difference: pts %d (state %d), %d live messages, %d pts of events, %d users", d.State.Pts, st.Pts,
			live, events, len(d.Users))
	}
	// B's pts: 11 new messages, 1 read, 1 edit, 1 delete.
	if st.Pts != 14 {
		t.Fatalf("B's pts %d, want 14", st.Pts)
	}
	if e, err := b2.api.UpdatesGetDifference(b2.ctx(), &tg.UpdatesGetDifferenceRequest{Pts: st.Pts}); err != nil {
		t.Fatal(err)
	} else if _, ok := e.(*tg.UpdatesDifferenceEmpty); !ok {
		t.Fatalf("difference at the current pts: %T", e)
	}
	slice, err := b2.api.UpdatesGetDifference(b2.ctx(), &tg.UpdatesGetDifferenceRequest{Pts: 0, PtsTotalLimit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := slice.(*tg.UpdatesDifferenceSlice); !ok || s.IntermediateState.Pts != 3 {
		t.Fatalf("limited difference: %+v", slice)
	}

	// Dialogs on both sides.
	dl, err := b1.api.MessagesGetDialogs(b1.ctx(), &tg.MessagesGetDialogsRequest{OffsetPeer: &tg.InputPeerEmpty{}, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	ds, ok := dl.(*tg.MessagesDialogs)
	if !ok || len(ds.Dialogs) != 1 || ds.Dialogs[0].(*tg.Dialog).UnreadCount != 0 || len(ds.Users) == 0 {
		t.Fatalf("B's dialogs: %+v", dl)
	}
}
