package session

import (
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"github.com/raftgram/raftgram/gateway/crypto"
	"github.com/raftgram/raftgram/tl"
	"github.com/raftgram/raftgram/tl/mt"
)

func TestMsgIDGen(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	g := NewMsgIDGen(func() time.Time { return now }) // a frozen clock still yields increasing ids
	last := int64(0)
	for i := range 1000 {
		resp := i%3 == 0
		id := g.Next(resp)
		if id <= last {
			t.Fatalf("msg_id %d not above %d", id, last)
		}
		if want := int64(3); resp && id&3 != 1 || !resp && id&3 != want {
			t.Fatalf("msg_id %x has wrong low bits for response=%v", id, resp)
		}
		if id>>32 != now.Unix() {
			t.Fatal("msg_id is not time based")
		}
		last = id
	}
}

func TestCheckTime(t *testing.T) {
	now := time.Unix(1_800_000_000, 500)
	id := func(d time.Duration) int64 { return now.Add(d).Unix() << 32 }
	for _, tc := range []struct {
		id   int64
		code int32
	}{
		{id(0), 0}, {id(-299 * time.Second), 0}, {id(29 * time.Second), 0},
		{id(-301 * time.Second), CodeMsgIDTooLow}, {id(31 * time.Second), CodeMsgIDTooHigh},
		{id(0) | 1, CodeMsgIDBadBits}, {id(0) | 2, CodeMsgIDBadBits},
	} {
		if got := checkTime(tc.id, now); got != tc.code {
			t.Fatalf("checkTime(%x) = %d, want %d", tc.id, got, tc.code)
		}
	}
}

func TestRecentIDs(t *testing.T) {
	var r recentIDs
	for i := int64(1); i <= 100; i++ {
		r.add(i * 4)
	}
	if !r.full() || r.min() != 37*4 || !r.contains(100*4) || r.contains(36*4) {
		t.Fatalf("ring: min %d", r.min())
	}
}

// fakeConn records frames sent to it.
type fakeConn struct {
	mu     sync.Mutex
	id     uint64
	frames [][]byte
}

func (c *fakeConn) ID() uint64 { return c.id }
func (c *fakeConn) Send(b []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.frames = append(c.frames, append([]byte(nil), b...))
	return nil
}
func (c *fakeConn) DisconnectAfter(time.Duration) {}

type nopDispatcher struct{ reqs []Request }

func (d *nopDispatcher) Dispatch(_ *Session, r Request) { d.reqs = append(d.reqs, r) }

func newTestManager(t testing.TB, now time.Time) (*Manager, *Key, *nopDispatcher) {
	salts, err := crypto.NewSalts([]byte("0123456789abcdef0123"), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	d := &nopDispatcher{}
	m, err := NewManager(Options{Salts: salts, Now: func() time.Time { return now }, MaxUnacked: 4}, d)
	if err != nil {
		t.Fatal(err)
	}
	var v [256]byte
	v[0] = 7
	return m, NewKey(crypto.NewAuthKey(v)), d
}

func TestUnackedBoundAndAcks(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	m, k, _ := newTestManager(t, now)
	c := &fakeConn{id: 1}
	salt := m.opts.Salts.Current(k.Auth.ID, now)
	body, _ := tl.Marshal(&mt.PingRequest{PingID: 1})
	msgID := now.Unix() << 32
	m.Handle(c, k, crypto.Message{Salt: salt, SessionID: 9, MsgID: msgID, SeqNo: 1, Body: body})
	s := m.Sessions(k.Auth.ID)[0]
	for range 10 {
		s.Push(&mt.Pong{})
	}
	s.mu.Lock()
	n := len(s.unacked)
	ids := make([]int64, 0, n)
	for _, u := range s.unacked {
		ids = append(ids, u.msgID)
	}
	s.mu.Unlock()
	if n != 4 {
		t.Fatalf("unacked kept %d messages, limit 4", n)
	}
	ack, _ := tl.Marshal(&mt.MsgsAck{MsgIDs: ids})
	m.Handle(c, k, crypto.Message{Salt: salt, SessionID: 9, MsgID: msgID + 4, SeqNo: 2, Body: ack})
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.unacked) != 0 {
		t.Fatalf("%d messages still unacked after msgs_ack", len(s.unacked))
	}
}

// FuzzHandleBody feeds arbitrary message bodies (and containers of them) to a session: no panic, bounded
// answers.
func FuzzHandleBody(f *testing.F) {
	ping, _ := tl.Marshal(&mt.PingRequest{PingID: 1})
	f.Add(ping)
	cont := binary.LittleEndian.AppendUint32(nil, mt.MsgContainerTypeID)
	cont = binary.LittleEndian.AppendUint32(cont, 1)
	cont = binary.LittleEndian.AppendUint64(cont, 1_800_000_000<<32+4)
	cont = binary.LittleEndian.AppendUint32(cont, 1)
	cont = binary.LittleEndian.AppendUint32(cont, uint32(len(ping)))
	f.Add(append(cont, ping...))
	f.Add([]byte{0xa1, 0xcf, 0x72, 0x30, 0, 0, 0, 0})
	now := time.Unix(1_800_000_000, 0)
	f.Fuzz(func(t *testing.T, body []byte) {
		m, k, _ := newTestManager(t, now)
		c := &fakeConn{id: 1}
		salt := m.opts.Salts.Current(k.Auth.ID, now)
		m.Handle(c, k, crypto.Message{Salt: salt, SessionID: 1, MsgID: now.Unix()<<32 + 8, SeqNo: 1, Body: body})
		total := 0
		for _, fr := range c.frames {
			total += len(fr)
		}
		if total > 64*1024+16*len(body) {
			t.Fatalf("answer of %d bytes to %d bytes", total, len(body))
		}
	})
}

func TestSweepDropsIdleSessions(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	m, k, _ := newTestManager(t, now)
	c := &fakeConn{id: 1}
	body, _ := tl.Marshal(&mt.PingRequest{PingID: 1})
	m.Handle(c, k, crypto.Message{Salt: m.opts.Salts.Current(k.Auth.ID, now), SessionID: 3, MsgID: now.Unix() << 32, SeqNo: 1, Body: body})
	if m.Sweep(now.Add(time.Hour)) != 0 {
		t.Fatal("a session with a connection was swept")
	}
	m.Detach(c)
	if m.Sweep(now.Add(m.opts.IdleTTL/2)) != 0 || m.Len() != 1 {
		t.Fatal("swept before IdleTTL")
	}
	if m.Sweep(now.Add(m.opts.IdleTTL+time.Second)) != 1 || m.Len() != 0 || len(m.Sessions(k.Auth.ID)) != 0 {
		t.Fatal("idle session not swept")
	}
}

func TestResendSplitsLargeBatches(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	m, k, _ := newTestManager(t, now)
	c1 := &fakeConn{id: 1}
	salt := m.opts.Salts.Current(k.Auth.ID, now)
	body, _ := tl.Marshal(&mt.PingRequest{PingID: 1})
	m.Handle(c1, k, crypto.Message{Salt: salt, SessionID: 3, MsgID: now.Unix() << 32, SeqNo: 1, Body: body})
	m.Detach(c1)
	s := m.Sessions(k.Auth.ID)[0]
	for range 4 {
		s.Push(&mt.MsgsStateInfo{Info: make([]byte, 200<<10)})
	}
	c2 := &fakeConn{id: 2}
	m.Handle(c2, k, crypto.Message{Salt: salt, SessionID: 3, MsgID: now.Unix()<<32 + 4, SeqNo: 3, Body: body})
	total := 0
	for _, f := range c2.frames {
		if len(f) > maxFrameBody+64<<10 {
			t.Fatalf("frame of %d bytes", len(f))
		}
		total += len(f)
	}
	if len(c2.frames) < 2 || total < 4*200<<10 {
		t.Fatalf("%d frames, %d bytes: the unacked messages were not all resent", len(c2.frames), total)
	}
}
