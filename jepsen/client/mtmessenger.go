package client

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/gotd/td/tg"

	"github.com/raftgram/raftgram/jepsen/history"
	"github.com/raftgram/raftgram/node/e2e/tgclient"
)

// MTMessenger implements Messenger with real gotd clients: Users users (workload ids 1..Users), Devices
// devices each, device d of user u on node (u-1+d) mod nodes. Every device keeps its user's pts the way a
// real client does (pushes applied in pts order, gaps filled by updates.getDifference) and records what it
// received as "pts" observations: "push" (pushed), "sent" (its own sendMessage answer), "diff"
// (getDifference, each new message at the next pts of the range), "state" (the state getState or
// getDifference answered, with the time it was asked). Run also takes devices offline now and then: they miss
// pushes and must get exactly those through getDifference when they come back.
type MTMessenger struct {
	opts    MTOptions
	rec     *history.Recorder
	users   []*msgUser
	devices int
	// Phone numbers are Prefix followed by the user number (distinct per driver in one cluster).
	prefix string
	seed   uint64
	// Offline is how often each device goes offline during Run (mean interval; 0: never).
	Offline time.Duration

	ridMu sync.Mutex
	rid   *rand.Rand // random_ids
}

type msgUser struct {
	n     int64 // workload id
	id    int64 // Telegram id
	phone string
	hash  map[int64]int64 // peer's Telegram id -> access hash this user holds
	devs  []*msgDevice
}

// msgDevice is one device with its pts bookkeeping.
type msgDevice struct {
	*mtDevice
	m    *MTMessenger
	user *msgUser
	idx  int

	mu      sync.Mutex // pts state and the order of this device's observations
	pts     int
	date    int
	pending map[int]tgclient.Event // by start pts: waiting for the gap before them
	gapAt   time.Time              // when the oldest pending event arrived
}

// NewMTMessenger builds the driver; Setup connects and signs up.
func NewMTMessenger(rec *history.Recorder, opts MTOptions, users, devices int, phonePrefix string, seed uint64) *MTMessenger {
	opts.setDefaults()
	m := &MTMessenger{opts: opts, rec: rec, devices: devices, prefix: phonePrefix, seed: seed, Offline: 10 * time.Second,
		rid: rand.New(rand.NewPCG(seed, 0x726964))}
	for i := range users {
		u := &msgUser{n: int64(i + 1), phone: fmt.Sprintf("%s%03d", phonePrefix, i+1), hash: map[int64]int64{}}
		for d := range devices {
			md := &msgDevice{m: m, user: u, idx: d, pending: map[int]tgclient.Event{}}
			md.mtDevice = newDevice(&m.opts, (i+d)%len(opts.Addrs), md.push)
			u.devs = append(u.devs, md)
		}
		m.users = append(m.users, u)
	}
	return m
}

// Node is the node device dev of user talks to.
func (m *MTMessenger) Node(user int64, dev int) int { return m.users[user-1].devs[dev].node }

// Setup connects every device, signs every user up (device 0) and in (the others), resolves every peer's
// access hash and takes each device's starting state. Nothing is recorded but the starting states.
func (m *MTMessenger) Setup(ctx context.Context) error {
	var wg sync.WaitGroup
	sem := make(chan struct{}, setupParallel)
	errs := make(chan error, len(m.users))
	for _, u := range m.users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{} // a few users at a time: each new key costs seconds of CPU under load
			defer func() { <-sem }()
			for _, d := range u.devs {
				if err := retry(ctx, m.opts.Log, "connect", d.start); err != nil {
					errs <- err
					return
				}
				if err := retry(ctx, m.opts.Log, "login "+u.phone, func(ctx context.Context) error {
					id, err := d.login(ctx, u.phone, fmt.Sprintf("M%d", u.n))
					u.id = id
					return err
				}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	for _, u := range m.users {
		api := u.devs[0].api()
		for _, p := range m.users {
			if p == u {
				continue
			}
			if err := retry(ctx, m.opts.Log, "resolve", func(ctx context.Context) error {
				id, h, err := resolvePhone(ctx, api, p.phone)
				if err == nil && id != p.id {
					err = fmt.Errorf("%s resolved to %d, signed up as %d", p.phone, id, p.id)
				}
				u.hash[p.id] = h
				return err
			}); err != nil {
				return err
			}
		}
		for _, d := range u.devs {
			if err := retry(ctx, m.opts.Log, "getState", d.getState); err != nil {
				return err
			}
		}
	}
	return nil
}

// Close stops every device.
func (m *MTMessenger) Close() {
	for _, u := range m.users {
		for _, d := range u.devs {
			d.close()
		}
	}
}

// Send sends text with a fresh random_id through one device, one attempt (gotd resends it on a new
// connection if the first died unacknowledged; the random_id makes that safe).
func (m *MTMessenger) Send(ctx context.Context, user, peer int64, dev int, text string) (int64, int64, error) {
	u, p := m.users[user-1], m.users[peer-1]
	d := u.devs[dev]
	m.ridMu.Lock()
	rid := int64(m.rid.Uint64()>>1) | 1
	m.ridMu.Unlock()
	var ev tgclient.Event
	err := d.use(ctx, func(ctx context.Context, api *tg.Client) error {
		res, err := api.MessagesSendMessage(ctx, &tg.MessagesSendMessageRequest{
			Peer: &tg.InputPeerUser{UserID: p.id, AccessHash: u.hash[p.id]}, Message: text, RandomID: rid})
		if err != nil {
			return classify(err)
		}
		var ok bool
		if ev, ok = tgclient.SentEvent(res, p.id, text); !ok {
			return fmt.Errorf("sendMessage answered %T without a message", res)
		}
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	d.apply("sent", []tgclient.Event{ev})
	return int64(ev.Msg.ID), int64(ev.Pts), nil
}

// History pages through messages.getHistory (newest first) and returns the dialog oldest first.
func (m *MTMessenger) History(ctx context.Context, user, peer int64, dev int) ([]history.Msg, error) {
	u, p := m.users[user-1], m.users[peer-1]
	var out []history.Msg
	err := u.devs[dev].use(ctx, func(ctx context.Context, api *tg.Client) error {
		offset := 0
		for range 1000 {
			res, err := api.MessagesGetHistory(ctx, &tg.MessagesGetHistoryRequest{
				Peer: &tg.InputPeerUser{UserID: p.id, AccessHash: u.hash[p.id]}, OffsetID: offset, Limit: 100})
			if err != nil {
				return fmt.Errorf("getHistory(offset %d): %w", offset, err)
			}
			mod, ok := res.AsModified()
			if !ok {
				return fmt.Errorf("getHistory answered %T", res)
			}
			msgs := mod.GetMessages()
			for _, x := range msgs {
				if mm := tgclient.MsgOf(x); mm != nil {
					out = append(out, history.Msg{ID: int64(mm.ID), Text: mm.Text, Out: mm.Out})
				}
			}
			if len(msgs) < 100 {
				return nil
			}
			offset = msgs[len(msgs)-1].GetID()
		}
		return errors.New("getHistory never ended")
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b history.Msg) int { return int(a.ID - b.ID) })
	out = slices.CompactFunc(out, func(a, b history.Msg) bool { return a.ID == b.ID && a.Text == b.Text })
	return out, nil
}

// observe records one pts observation of the device (d.mu held: observations of a device are in the order
// it applied them).
func (d *msgDevice) observe(source string, pts, count int, text string, from int, asked int64) {
	d.m.rec.Add(history.Event{Type: history.Observe, Process: -2, Node: d.node, F: "pts", User: d.user.n,
		Device: d.idx, Source: source, Pts: int64(pts), PtsCount: int64(count), Text: text, From: int64(from),
		Asked: asked})
}

func (d *msgDevice) push(u tg.UpdatesClass) { d.apply("push", tgclient.Events(u)) }

// apply records events and applies them by pts as a client does.
func (d *msgDevice) apply(source string, evs []tgclient.Event) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, e := range evs {
		text := ""
		if e.Msg != nil {
			text = e.Msg.Text
		}
		d.observe(source, e.Pts, e.PtsCount, text, 0, 0)
		switch start := e.Pts - e.PtsCount; {
		case start == d.pts:
			d.pts = e.Pts
			d.drainLocked()
		case e.Pts <= d.pts: // already applied
		default:
			if len(d.pending) == 0 {
				d.gapAt = time.Now()
			}
			d.pending[start] = e
		}
	}
}

func (d *msgDevice) drainLocked() {
	for {
		e, ok := d.pending[d.pts]
		if !ok {
			break
		}
		delete(d.pending, d.pts)
		d.pts = e.Pts
	}
	for start, e := range d.pending {
		if e.Pts <= d.pts {
			delete(d.pending, start)
		}
	}
	if len(d.pending) > 0 {
		d.gapAt = time.Now()
	}
}

// getState takes the server's state (the device's start, or its view after coming back).
func (d *msgDevice) getState(ctx context.Context) error {
	return d.use(ctx, func(ctx context.Context, api *tg.Client) error {
		asked := max(int64(d.m.rec.Since()), 1)
		st, err := api.UpdatesGetState(ctx)
		if err != nil {
			return fmt.Errorf("updates.getState: %w", err)
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		d.observe("state", st.Pts, 0, "", 0, asked)
		if d.pts == 0 && d.date == 0 { // first state: the device starts here
			d.pts, d.date = st.Pts, st.Date
		}
		return nil
	})
}

// sync calls getDifference from the device's pts until the server has nothing newer.
func (d *msgDevice) sync(ctx context.Context) error {
	return d.use(ctx, func(ctx context.Context, api *tg.Client) error {
		for range 1000 {
			d.mu.Lock()
			from, date := d.pts, d.date
			d.mu.Unlock()
			asked := max(int64(d.m.rec.Since()), 1)
			res, err := api.UpdatesGetDifference(ctx, &tg.UpdatesGetDifferenceRequest{Pts: from, Date: date})
			if err != nil {
				return fmt.Errorf("updates.getDifference(pts %d): %w", from, err)
			}
			switch x := res.(type) {
			case *tg.UpdatesDifferenceEmpty:
				d.mu.Lock()
				d.date = max(d.date, x.Date)
				d.mu.Unlock()
				return nil
			case *tg.UpdatesDifference:
				d.difference(from, asked, x.NewMessages, x.OtherUpdates, x.State)
				return nil
			case *tg.UpdatesDifferenceSlice:
				d.difference(from, asked, x.NewMessages, x.OtherUpdates, x.IntermediateState)
			case *tg.UpdatesDifferenceTooLong:
				d.mu.Lock()
				d.observe("state", x.Pts, 0, "differenceTooLong", from, asked)
				d.pts = max(d.pts, x.Pts)
				d.drainLocked()
				d.mu.Unlock()
				return nil
			default:
				return fmt.Errorf("updates.getDifference answered %T", res)
			}
		}
		return errors.New("updates.getDifference never ended")
	})
}

// difference records a difference from pts from: other updates at their own pts, new messages each at the
// next free pts of (from, state] in order (a difference gives no pts per message), then the state.
func (d *msgDevice) difference(from int, asked int64, msgs []tg.MessageClass, others []tg.UpdateClass, st tg.UpdatesState) {
	d.mu.Lock()
	defer d.mu.Unlock()
	used := map[int]bool{}
	for _, e := range tgclient.Events(&tg.Updates{Updates: others}) {
		for p := e.Pts - e.PtsCount + 1; p <= e.Pts; p++ {
			used[p] = true
		}
		text := ""
		if e.Msg != nil {
			text = e.Msg.Text
		}
		d.observe("diff", e.Pts, e.PtsCount, text, from, asked)
	}
	p := from
	for _, x := range msgs {
		p++
		for used[p] {
			p++
		}
		text := ""
		if mm := tgclient.MsgOf(x); mm != nil {
			text = mm.Text
		}
		d.observe("diff", p, 1, text, from, asked)
	}
	d.observe("state", st.Pts, 0, "", from, asked)
	d.pts = max(d.pts, st.Pts)
	d.date = max(d.date, st.Date)
	d.drainLocked()
}

// Run keeps every device's box complete until ctx ends: getDifference when a gap stayed open for 300 ms or
// every 3 s, and now and then the device goes offline for 0.5-2 s, comes back, asks getState and catches up.
func (m *MTMessenger) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, u := range m.users {
		for _, d := range u.devs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				d.run(ctx, rand.New(rand.NewPCG(m.seed, uint64(u.n*100)+uint64(d.idx))))
			}()
		}
	}
	wg.Wait()
	return nil
}

func (d *msgDevice) run(ctx context.Context, rng *rand.Rand) {
	lastSync := time.Now()
	nextOff := time.Now().Add(jitter(rng, d.m.Offline))
	for ctx.Err() == nil {
		sleepCtx(ctx, 100*time.Millisecond)
		if ctx.Err() != nil {
			return
		}
		d.mu.Lock()
		gap := len(d.pending) > 0 && time.Since(d.gapAt) > 300*time.Millisecond
		d.mu.Unlock()
		if gap || time.Since(lastSync) > 3*time.Second {
			if err := d.sync(ctx); err != nil {
				d.opts.Log.Debug("getDifference", "user", d.user.n, "device", d.idx, "err", err)
			}
			lastSync = time.Now()
		}
		if d.m.Offline > 0 && time.Now().After(nextOff) {
			d.offline(ctx, 500*time.Millisecond+time.Duration(rng.Int64N(int64(1500*time.Millisecond))))
			nextOff = time.Now().Add(jitter(rng, d.m.Offline))
		}
	}
}

// offline takes the device down for a while (between operations), then back with the same key.
func (d *msgDevice) offline(ctx context.Context, down time.Duration) {
	d.gate.Lock()
	d.close()
	sleepCtx(ctx, down)
	for ctx.Err() == nil {
		sctx, cancel := context.WithTimeout(ctx, d.opts.Timeout)
		err := d.start(sctx)
		cancel()
		if err == nil {
			break
		}
		d.opts.Log.Debug("reconnect", "user", d.user.n, "device", d.idx, "err", err)
		sleepCtx(ctx, 500*time.Millisecond)
	}
	d.gate.Unlock()
	if err := d.getState(ctx); err != nil {
		d.opts.Log.Debug("getState after reconnect", "user", d.user.n, "device", d.idx, "err", err)
	}
	if err := d.sync(ctx); err != nil {
		d.opts.Log.Debug("getDifference after reconnect", "user", d.user.n, "device", d.idx, "err", err)
	}
}

// Settle brings every device online and up to date once the cluster healed: getState, then getDifference
// until nothing is newer, retried until it works or ctx ends.
func (m *MTMessenger) Settle(ctx context.Context) error {
	for _, u := range m.users {
		for _, d := range u.devs {
			if d.api() == nil {
				if err := retry(ctx, m.opts.Log, "reconnect", d.start); err != nil {
					return err
				}
			}
			if err := retry(ctx, m.opts.Log, "final getState", d.getState); err != nil {
				return err
			}
			if err := retry(ctx, m.opts.Log, "final getDifference", d.sync); err != nil {
				return err
			}
		}
	}
	return nil
}

func jitter(rng *rand.Rand, d time.Duration) time.Duration {
	if d <= 0 {
		return time.Hour
	}
	return d/2 + time.Duration(rng.Int64N(int64(d)))
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
