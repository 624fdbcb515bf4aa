package e2e_test

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"

	"github.com/raftgram/raftgram/node/e2e/tgclient"
	"github.com/raftgram/raftgram/node/testcluster"
	"github.com/raftgram/raftgram/shard"
)

const (
	devCode = "22222"
	shards  = 3
	// burst is the number of sends of each user while the leader of its shard is killed (2 x 100 = 200).
	burst = 100
	// killAfter is how many sends of a burst are acknowledged before the leader is killed.
	killAfter = 30
)

// device is one gotd client of a user with its client-side replica of the user's box.
type device struct {
	name    string
	node    int
	d       *tgclient.Device
	box     *tgclient.Box
	initPts int // the box's pts right after login: the replay of the user's log starts here
	initDt  int
}

type user struct {
	name  string
	id    int64
	phone string
	shard uint32
	devs  []*device
	peer  *tg.InputPeerUser // the other user, with the access hash this user was given
}

type env struct {
	retries int          // send attempts that failed and were retried with the same random_id
	killed  map[int]bool // nodes killed at least once (a client first connected there may have moved)
	t       *testing.T
	c       *testcluster.Cluster
	pub     *rsa.PublicKey
	step    string
	rng     *rand.Rand
	users   []*user
}

func (e *env) fatalf(format string, args ...any) {
	e.t.Helper()
	e.t.Fatalf("step %q: %s", e.step, fmt.Sprintf(format, args...))
}

func (e *env) errorf(format string, args ...any) {
	e.t.Helper()
	e.t.Errorf("step %q: %s", e.step, fmt.Sprintf(format, args...))
}

func (e *env) begin(step string) {
	e.step = step
	e.t.Logf("--- %s", step)
}

// TestMessengerCluster is issue 5's end-to-end test.
func TestMessengerCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 3 processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute) // ~30 s normally; generous for a loaded machine
	defer cancel()
	dir := t.TempDir()
	e := &env{t: t, rng: rand.New(rand.NewPCG(5, 5)), killed: map[int]bool{}}
	e.begin("start cluster")
	c, err := testcluster.Start(ctx, testcluster.Options{Client: true, DevCode: devCode, Shards: shards, Dir: dir})
	if err != nil {
		testcluster.LogTails(t, dir, 8000)
		e.fatalf("%v", err)
	}
	e.c = c
	t.Cleanup(func() {
		c.LogUnimplemented(t)
		for _, u := range e.users {
			for _, d := range u.devs {
				_ = d.d.Close()
			}
		}
		c.Close()
		if t.Failed() {
			testcluster.LogTails(t, dir, 8000)
		}
	})
	if e.pub, err = c.PublicKey(); err != nil {
		e.fatalf("public key: %v", err)
	}

	e.begin("help.getConfig lists every node")
	e.checkConfig(ctx)

	e.begin("sign up two users on different shards")
	a, b := e.signUpPair(ctx)
	t.Logf("user A %d (shard %d), user B %d (shard %d)", a.id, a.shard, b.id, b.shard)

	e.begin("second device of each user signs in")
	e.addDevice(ctx, a, (a.devs[0].node+1)%len(c.Nodes))
	e.addDevice(ctx, b, (b.devs[0].node+1)%len(c.Nodes))

	e.begin("contacts.importContacts (access hashes)")
	a.peer = e.importContact(ctx, a, b)
	b.peer = e.importContact(ctx, b, a)

	sent := map[*user][]string{} // acknowledged texts per sender, in send order
	var unacked []string

	e.begin("chat both ways, pushes to every device")
	for _, dir := range [][2]*user{{a, b}, {b, a}} {
		from, to := dir[0], dir[1]
		text := fmt.Sprintf("hello from %s", from.name)
		if _, err := e.send(ctx, from.devs[0], from.peer, text); err != nil {
			e.fatalf("send %q: %v", text, err)
		}
		sent[from] = append(sent[from], text)
		e.waitPushed(ctx, text, from.devs[1], to.devs[0], to.devs[1])
	}

	e.begin("offline device catches up by getDifference")
	off := b.devs[1]
	if err := off.d.Close(); err != nil {
		t.Logf("close %s: %v", off.name, err)
	}
	var offline []string
	for i := range 5 {
		text := fmt.Sprintf("while %s is offline %d", off.name, i)
		if _, err := e.send(ctx, a.devs[0], a.peer, text); err != nil {
			e.fatalf("send %q: %v", text, err)
		}
		sent[a] = append(sent[a], text)
		offline = append(offline, text)
	}
	e.restart(ctx, off)
	// Acknowledged means in A's box; B's box gets it through the relay a moment later: poll getDifference.
	deadline := time.Now().Add(15 * time.Second)
	for {
		if err := off.box.Sync(ctx, off.d.API); err != nil {
			e.fatalf("%s: %v", off.name, err)
		}
		var missing []string
		for _, text := range offline {
			if _, ok := off.box.Find(text); !ok {
				missing = append(missing, text)
			}
		}
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			e.fatalf("%s still lacks %q after getDifference", off.name, missing)
		}
		time.Sleep(50 * time.Millisecond)
	}

	for _, dir := range [][2]*user{{a, b}, {b, a}} {
		from := dir[0]
		e.begin(fmt.Sprintf("burst of %d sends by %s, leader of shard %d killed", burst, from.name, from.shard))
		acked, failed := e.burst(ctx, from, from.shard)
		sent[from] = append(sent[from], acked...)
		unacked = append(unacked, failed...)
	}

	e.begin("every acknowledged message once, in order, on every device; pts without gaps")
	e.verify(ctx, a, b, sent, unacked)
}

func (e *env) startDevice(ctx context.Context, name string, node int) *device {
	box := tgclient.NewBox()
	d, err := tgclient.Start(ctx, tgclient.Options{Addr: e.c.Nodes[node].Client, PublicKey: e.pub, OnUpdates: box.Push})
	if err != nil {
		e.fatalf("%s: %v", name, err)
	}
	return &device{name: name, node: node, d: d, box: box}
}

// restart reconnects a closed device with its stored key (still signed in) and box.
func (e *env) restart(ctx context.Context, dev *device) {
	d, err := tgclient.Start(ctx, tgclient.Options{Addr: e.c.Nodes[dev.node].Client, PublicKey: e.pub,
		Storage: dev.d.Storage, OnUpdates: dev.box.Push})
	if err != nil {
		e.fatalf("restart %s: %v", dev.name, err)
	}
	dev.d = d
}

// checkConfig asks through WebSocket (the other tests use TCP) until every node's address is listed.
func (e *env) checkConfig(ctx context.Context) {
	d, err := tgclient.Start(ctx, tgclient.Options{Addr: e.c.Nodes[0].Client, PublicKey: e.pub, WebSocket: true})
	if err != nil {
		e.fatalf("WebSocket client: %v", err)
	}
	dev := &device{name: "config", d: d}
	defer dev.d.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		cfg, err := dev.d.API.HelpGetConfig(ctx)
		if err != nil {
			e.fatalf("help.getConfig: %v", err)
		}
		var missing []string
		for _, n := range e.c.Nodes {
			if !listed(cfg.DCOptions, n.Client) {
				missing = append(missing, n.Client)
			}
		}
		if cfg.ThisDC == 1 && len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			e.fatalf("this_dc %d, nodes missing from dc_options: %v (options %+v)", cfg.ThisDC, missing, cfg.DCOptions)
		}
		time.Sleep(200 * time.Millisecond) // nodes publish their addresses asynchronously after start
	}
}

func listed(opts []tg.DCOption, addr string) bool {
	for _, o := range opts {
		if o.ID == 1 && fmt.Sprintf("%s:%d", o.IPAddress, o.Port) == addr {
			return true
		}
	}
	return false
}

// signUpPair signs up users (each through another node) until two have ids on different shards.
func (e *env) signUpPair(ctx context.Context) (a, b *user) {
	for i := range 8 {
		name := string(rune('A' + i))
		u := &user{name: name, phone: fmt.Sprintf("1555%07d", 100+i)}
		dev := e.startDevice(ctx, name+"1", i%len(e.c.Nodes))
		me, err := dev.d.Login(ctx, u.phone, devCode, "User", name)
		if err != nil {
			e.fatalf("user %s: %v", name, err)
		}
		if !me.Self || me.ID <= 0 || me.ID >= 1<<52 {
			e.fatalf("user %s: authorization holds %+v", name, me)
		}
		u.id, u.shard = me.ID, shard.Of(me.ID, shards)
		e.initBox(ctx, dev)
		u.devs = append(u.devs, dev)
		switch {
		case a == nil:
			a = u
		case u.shard != a.shard:
			b = u
		default:
			_ = dev.d.Close() // same shard as A: not used further
			continue
		}
		e.users = append(e.users, u)
		if b != nil {
			b.name = "B"
			a.name = "A"
			return a, b
		}
	}
	e.fatalf("8 sign-ups, all on shard %d", a.shard)
	return nil, nil
}

func (e *env) initBox(ctx context.Context, dev *device) {
	if err := dev.box.Init(ctx, dev.d.API); err != nil {
		e.fatalf("%s: %v", dev.name, err)
	}
	dev.initPts, dev.initDt = dev.box.State()
}

func (e *env) addDevice(ctx context.Context, u *user, node int) {
	dev := e.startDevice(ctx, fmt.Sprintf("%s%d", u.name, len(u.devs)+1), node)
	me, err := dev.d.Login(ctx, u.phone, devCode, "User", u.name)
	if err != nil {
		e.fatalf("%s: %v", dev.name, err)
	}
	if me.ID != u.id {
		e.fatalf("%s signed in as %d, want %d", dev.name, me.ID, u.id)
	}
	e.initBox(ctx, dev)
	u.devs = append(u.devs, dev)
}

func (e *env) importContact(ctx context.Context, u, other *user) *tg.InputPeerUser {
	res, err := u.devs[0].d.API.ContactsImportContacts(ctx, []tg.InputPhoneContact{{ClientID: 1, Phone: other.phone,
		FirstName: "User", LastName: other.name}})
	if err != nil {
		e.fatalf("%s imports %s: %v", u.name, other.name, err)
	}
	for _, x := range res.Users {
		if x, ok := x.(*tg.User); ok && x.ID == other.id {
			hash, ok := x.GetAccessHash()
			if !ok {
				e.fatalf("%s got %s without an access hash", u.name, other.name)
			}
			return &tg.InputPeerUser{UserID: other.id, AccessHash: hash}
		}
	}
	e.fatalf("%s imported %s: user not in the answer %+v", u.name, other.name, res)
	return nil
}

// send sends text with one random_id, retrying the same random_id through failures (a killed node, an
// election) until it is acknowledged; a 4xx answer ends it.
func (e *env) send(ctx context.Context, dev *device, peer *tg.InputPeerUser, text string) (tgclient.Event, error) {
	return e.sendRID(ctx, dev, peer, text, e.rng.Int64())
}

func (e *env) sendRID(ctx context.Context, dev *device, peer *tg.InputPeerUser, text string, rid int64) (tgclient.Event, error) {
	deadline := time.Now().Add(60 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		actx, cancel := context.WithTimeout(ctx, 8*time.Second)
		res, err := dev.d.API.MessagesSendMessage(actx, &tg.MessagesSendMessageRequest{Peer: peer, Message: text,
			RandomID: rid})
		cancel()
		if err == nil {
			ev, ok := tgclient.SentEvent(res, peer.UserID, text)
			if !ok {
				return tgclient.Event{}, fmt.Errorf("sendMessage answered %T without a message", res)
			}
			dev.box.Apply(ev)
			return ev, nil
		}
		last = err
		e.retries++
		if rpcErr, ok := tgerr.As(err); ok && rpcErr.Code >= 400 && rpcErr.Code < 500 && rpcErr.Code != 420 {
			return tgclient.Event{}, err
		}
		if ctx.Err() != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	return tgclient.Event{}, fmt.Errorf("not acknowledged: %w", last)
}

// waitPushed waits until every device holds text having received it by push.
func (e *env) waitPushed(ctx context.Context, text string, devs ...*device) {
	deadline := time.Now().Add(15 * time.Second)
	for _, d := range devs {
		for {
			m, ok := d.box.Find(text)
			if ok && d.box.Pushed(m.ID) {
				break
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				e.fatalf("%s got no push of %q (has it: %v)", d.name, text, ok)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// burst sends `burst` messages from u's first device to its peer, one in flight. After killAfter
// acknowledgements the leader of shard s is killed with SIGKILL; at restartAt it is restarted; at killClientAt
// the node the sending client is connected to is killed too (if the client is still on its first node), so
// the client must fail over to another node from help.getConfig's dc_options and retry with the same
// random_id. Killed nodes are restarted after the burst.
func (e *env) burst(ctx context.Context, u *user, s uint32) (acked, failed []string) {
	const restartAt, killClientAt = 60, 70
	leader, client := -1, -1
	start, retries := time.Now(), e.retries
	for i := range burst {
		switch i {
		case killAfter:
			leader = e.c.Leader(ctx, s)
			if leader < 0 {
				e.fatalf("no leader of shard %d", s)
			}
			e.kill(leader, fmt.Sprintf("leader of shard %d", s))
		case restartAt:
			e.restartNode(ctx, leader)
		case killClientAt:
			if n := u.devs[0].node; !e.killed[n] {
				client = n
				e.kill(client, fmt.Sprintf("the node %s is connected to", u.devs[0].name))
			} else {
				e.t.Logf("%s may have moved from %s: its node is not killed", u.devs[0].name, e.c.Nodes[n].ID)
			}
		}
		text := fmt.Sprintf("%s burst %d", u.name, i)
		rid := e.rng.Int64()
		ev, err := e.sendRID(ctx, u.devs[0], u.peer, text, rid)
		if err != nil {
			var rpcErr *tgerr.Error
			if errors.As(err, &rpcErr) {
				e.fatalf("send %q: %v", text, err)
			}
			e.t.Logf("send %q not acknowledged: %v", text, err)
			failed = append(failed, text)
			continue
		}
		acked = append(acked, text)
		if i%20 == 10 {
			// A client retry of an acknowledged send, from the user's other device (another node): the same
			// random_id must answer the same message, and the message must still be stored once.
			again, err := e.sendRID(ctx, u.devs[1], u.peer, text, rid)
			if err != nil {
				e.fatalf("resend %q with its random_id: %v", text, err)
			}
			if again.Msg.ID != ev.Msg.ID || again.Pts != ev.Pts {
				e.errorf("resend %q with its random_id: message %d pts %d, first answer %d pts %d", text,
					again.Msg.ID, again.Pts, ev.Msg.ID, ev.Pts)
			}
		}
	}
	if client >= 0 {
		e.restartNode(ctx, client)
	}
	e.t.Logf("%s: %d acknowledged, %d not, %d attempts retried, %v", u.name, len(acked), len(failed),
		e.retries-retries, time.Since(start).Round(time.Millisecond))
	return acked, failed
}

func (e *env) kill(i int, why string) {
	e.t.Logf("kill -9 %s (%s)", e.c.Nodes[i].ID, why)
	if err := e.c.Kill(i); err != nil {
		e.fatalf("kill %s: %v", e.c.Nodes[i].ID, err)
	}
	e.killed[i] = true
}

func (e *env) restartNode(ctx context.Context, i int) {
	if err := e.c.Restart(i); err != nil {
		e.fatalf("restart %s: %v", e.c.Nodes[i].ID, err)
	}
	if err := e.c.WaitReady(ctx); err != nil {
		e.fatalf("cluster after restarting %s: %v", e.c.Nodes[i].ID, err)
	}
}

// verify: after every device caught up, each device of each user holds every acknowledged message of the
// dialog exactly once and in send order, unacknowledged ones at most once, all devices of a user agree, the
// server's history says the same, and a replay of each user's update log from its first login tiles pts.
func (e *env) verify(ctx context.Context, a, b *user, sent map[*user][]string, unacked []string) {
	for _, u := range []*user{a, b} {
		other := a
		if u == a {
			other = b
		}
		var ref []tgclient.Msg
		for _, d := range u.devs {
			e.settle(ctx, d, append(slices.Clone(sent[u]), sent[other]...))
			for _, p := range d.box.Problems() {
				e.errorf("%s: %s", d.name, p)
			}
			if n := d.box.Pending(); n > 0 {
				e.errorf("%s: %d events still wait for a gap after getDifference", d.name, n)
			}
			msgs := d.box.Messages(other.id)
			e.checkDialog(d.name, msgs, sent[u], sent[other], unacked)
			if ref == nil {
				ref = msgs
			} else if !slices.Equal(ref, msgs) {
				e.errorf("%s and %s disagree on the dialog: %d vs %d messages", u.devs[0].name, d.name, len(ref), len(msgs))
			}
			e.t.Logf("%s: %d messages with %s, %d pts events pushed, pts %d", d.name, len(msgs), other.name,
				d.box.Pushes(), d.box.Pts())
		}
		hist := e.history(ctx, u.devs[0], u.peer)
		e.checkDialog(u.name+" getHistory", hist, sent[u], sent[other], unacked)
		if len(hist) != len(ref) {
			e.errorf("%s: getHistory has %d messages, the synced box %d", u.name, len(hist), len(ref))
		}
		first := u.devs[0]
		replay := tgclient.NewBoxAt(first.initPts, first.initDt)
		if err := replay.Sync(ctx, first.d.API); err != nil {
			e.fatalf("%s replay: %v", u.name, err)
		}
		for _, p := range replay.Problems() {
			e.errorf("%s replay of the update log from pts %d: %s", u.name, first.initPts, p)
		}
		if got, want := replay.Pts(), first.box.Pts(); got != want {
			e.errorf("%s replay ends at pts %d, the device at %d", u.name, got, want)
		}
	}
}

// settle syncs a device until it holds every text (deliveries to the other shard trail the acknowledgement),
// or 30 s passed: what is still missing then is reported by the checks.
func (e *env) settle(ctx context.Context, d *device, texts []string) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		if err := d.box.Sync(ctx, d.d.API); err != nil {
			e.fatalf("%s: %v", d.name, err)
		}
		missing := 0
		for _, t := range texts {
			if _, ok := d.box.Find(t); !ok {
				missing++
			}
		}
		if missing == 0 || time.Now().After(deadline) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkDialog: each acknowledged text of each direction once and in order; unacknowledged at most once.
func (e *env) checkDialog(who string, msgs []tgclient.Msg, out, in, unacked []string) {
	e.t.Helper()
	count := map[string]int{}
	var gotOut, gotIn []string
	for _, m := range msgs {
		count[m.Text]++
		if m.Out {
			gotOut = append(gotOut, m.Text)
		} else {
			gotIn = append(gotIn, m.Text)
		}
	}
	for _, dir := range []struct {
		name      string
		want, got []string
	}{{"sent", out, gotOut}, {"received", in, gotIn}} {
		for _, t := range dir.want {
			if count[t] != 1 {
				e.errorf("%s: acknowledged %q is there %d times", who, t, count[t])
			}
		}
		var order []string
		for _, t := range dir.got {
			if slices.Contains(dir.want, t) {
				order = append(order, t)
			}
		}
		if !slices.Equal(slices.Compact(order), dir.want) {
			e.errorf("%s: %s messages out of order or missing:\n got %s\nwant %s", who, dir.name,
				strings.Join(order, ", "), strings.Join(dir.want, ", "))
		}
	}
	for _, t := range unacked {
		if count[t] > 1 {
			e.errorf("%s: unacknowledged %q is there %d times", who, t, count[t])
		}
	}
}

// history pages through messages.getHistory with peer (newest first) and returns it by id.
func (e *env) history(ctx context.Context, dev *device, peer *tg.InputPeerUser) []tgclient.Msg {
	var out []tgclient.Msg
	offset := 0
	for range 100 {
		res, err := dev.d.API.MessagesGetHistory(ctx, &tg.MessagesGetHistoryRequest{Peer: peer, OffsetID: offset,
			Limit: 50})
		if err != nil {
			e.fatalf("%s getHistory(offset %d): %v", dev.name, offset, err)
		}
		mod, ok := res.AsModified()
		if !ok {
			e.fatalf("getHistory answered %T", res)
		}
		msgs := mod.GetMessages()
		for _, m := range msgs {
			if x := tgclient.MsgOf(m); x != nil {
				out = append(out, *x)
			}
		}
		if len(msgs) < 50 {
			break
		}
		offset = msgs[len(msgs)-1].GetID()
	}
	slices.SortFunc(out, func(x, y tgclient.Msg) int { return x.ID - y.ID })
	return out
}
