package edge

import (
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gotd/td/proto/codec"

	"github.com/raftgram/raftgram/gateway/transport"
)

type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// openIntermediate dials and completes one echo round trip, so the connection is known to be open.
func openIntermediate(t *testing.T, s *Server) net.Conn {
	t.Helper()
	nc := dial(t, s)
	cc := codec.Intermediate{}
	_ = cc.WriteHeader(nc)
	writeFrame(t, cc, nc, []byte("hello!!!"))
	if got := readFrame(t, cc, nc); string(got) != "hello!!!" {
		t.Fatalf("echo %q", got)
	}
	return nc
}

func TestOversizeFrameClosesAndCounts(t *testing.T) {
	h := newEcho()
	s := startServer(t, Options{MaxFrame: 1024}, h)
	for _, hdr := range [][]byte{
		{0xef, 0x7f, 0x01, 0x01, 0x00},       // abridged, 257 words
		{0xee, 0xee, 0xee, 0xee, 0, 8, 0, 0}, // intermediate, 2048 bytes
		{0xdd, 0xdd, 0xdd, 0xdd, 0, 0, 0, 0x7f},
		{0x20, 0x08, 0, 0, 0, 0, 0, 0}, // full, first packet
	} {
		nc := dial(t, s)
		_, _ = nc.Write(hdr)
		expectClosed(t, nc)
	}
	waitFor(t, "metric", func() bool { return s.Metrics().FrameTooLarge.Load() == 4 })
	for range 4 {
		if ev := <-h.closed; !errors.Is(ev.err, transport.ErrFrameTooLarge) {
			t.Fatalf("OnClose err %v", ev.err)
		}
	}
	openIntermediate(t, s)
}

func TestFullBadCRCAndSeqNoClose(t *testing.T) {
	s := startServer(t, Options{}, newEcho())
	good := transport.NewFull(0).AppendFrame(nil, []byte("abcdefgh"))
	badCRC := append([]byte(nil), good...)
	badCRC[len(badCRC)-1] ^= 0xff
	for name, stream := range map[string][]byte{
		"crc":   badCRC,
		"seqno": append(append([]byte(nil), good...), good...), // second packet numbered 0 again
	} {
		t.Run(name, func(t *testing.T) {
			nc := dial(t, s)
			_, _ = nc.Write(stream)
			expectClosed(t, nc)
		})
	}
	waitFor(t, "metric", func() bool { return s.Metrics().ProtocolError.Load() == 2 })
}

func TestGarbageFirstBytesClose(t *testing.T) {
	s := startServer(t, Options{}, newEcho())
	garbage := []string{
		"POST /api HTTP/1.1\r\n\r\n",
		"HEAD / HTTP/1.1\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\n\r\n",
		"\x16\x03\x01\x02\x00",
		strings.Repeat("\x01\x02\x03\x04\x05\x06\x07\x08", 8), // 64 bytes: obfuscated2 init with a wrong tag
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
	}
	for _, g := range garbage {
		nc := dial(t, s)
		_, _ = nc.Write([]byte(g))
		expectClosed(t, nc)
	}
	waitFor(t, "metric", func() bool { return s.Metrics().BadTransport.Load() == uint64(len(garbage)) })
	if s.Metrics().Opened.Load() != 0 {
		t.Fatalf("garbage reached the handler")
	}
	openIntermediate(t, s)
}

func TestIdleAndUnauthenticatedTimeouts(t *testing.T) {
	clock := newFakeClock()
	h := newEcho()
	s := startServer(t, Options{
		Now:           clock.Now,
		TickInterval:  5 * time.Millisecond,
		MaxUnauthTime: time.Minute,
		IdleTimeout:   5 * time.Minute,
	}, h)
	unauth := openIntermediate(t, s)
	authed := openIntermediate(t, s)
	cc := codec.Intermediate{}
	writeFrame(t, cc, authed, []byte("AUTHAUTH"))
	_ = readFrame(t, cc, authed)

	clock.Advance(2 * time.Minute)
	expectClosed(t, unauth)
	waitFor(t, "unauth metric", func() bool { return s.Metrics().UnauthTimeout.Load() == 1 })
	// The authenticated one survives the unauthenticated limit and still echoes.
	writeFrame(t, cc, authed, []byte("still!!!"))
	if got := readFrame(t, cc, authed); string(got) != "still!!!" {
		t.Fatalf("echo %q", got)
	}
	clock.Advance(6 * time.Minute)
	expectClosed(t, authed)
	waitFor(t, "idle metric", func() bool { return s.Metrics().IdleTimeout.Load() == 1 })
	// Undetected connections (no bytes at all) are subject to the limits too.
	silent := dial(t, s)
	waitFor(t, "accept", func() bool { return s.Metrics().Active.Load() == 1 })
	clock.Advance(10 * time.Minute)
	expectClosed(t, silent)
}

func TestPerIPCap(t *testing.T) {
	s := startServer(t, Options{MaxConnsPerIP: 2}, newEcho())
	a := openIntermediate(t, s)
	openIntermediate(t, s)
	extra := dial(t, s)
	expectClosed(t, extra)
	if got := s.Metrics().RejectedPerIP.Load(); got != 1 {
		t.Fatalf("rejected %d", got)
	}
	_ = a.Close()
	waitFor(t, "close", func() bool { return s.Metrics().Active.Load() == 1 })
	openIntermediate(t, s)
}

func TestOutboundOverrunCloses(t *testing.T) {
	h := newEcho()
	s := startServer(t, Options{MaxPendingOut: 256 << 10}, h)
	nc := dial(t, s)
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4096)
	}
	cc := codec.Intermediate{}
	_ = cc.WriteHeader(nc)
	writeFrame(t, cc, nc, []byte("FLOODFLO"))
	// Do not read: the server's queue must hit the limit.
	waitFor(t, "overrun", func() bool { return s.Metrics().OutboundOverrun.Load() >= 1 })
	ev := <-h.closed
	if ev.err == nil || !strings.Contains(ev.err.Error(), "waiting to be written") {
		t.Fatalf("OnClose err %v", ev.err)
	}
}

func TestHandlerPanicClosesOnlyThatConn(t *testing.T) {
	h := newEcho()
	s := startServer(t, Options{}, h)
	other := openIntermediate(t, s)
	nc := dial(t, s)
	cc := codec.Intermediate{}
	_ = cc.WriteHeader(nc)
	writeFrame(t, cc, nc, []byte("PANICPAN"))
	expectClosed(t, nc)
	if s.Metrics().Panics.Load() != 1 {
		t.Fatalf("panics %d", s.Metrics().Panics.Load())
	}
	writeFrame(t, cc, other, []byte("alive!!!"))
	if got := readFrame(t, cc, other); string(got) != "alive!!!" {
		t.Fatalf("echo %q", got)
	}
}

func TestExtraListener(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	extra := l.Addr().String()
	_ = l.Close()
	s := startServer(t, Options{ExtraAddrs: []string{extra}}, newEcho())
	if len(s.Addrs()) != 2 || s.Addrs()[1].String() != extra {
		t.Fatalf("addrs %v", s.Addrs())
	}
	nc, err := net.Dial("tcp", extra)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	cc := codec.Abridged{}
	_ = cc.WriteHeader(nc)
	writeFrame(t, cc, nc, []byte("extra!!!"))
	if got := readFrame(t, cc, nc); string(got) != "extra!!!" {
		t.Fatalf("echo %q", got)
	}
}

func TestStartFailsOnBusyPort(t *testing.T) {
	s := startServer(t, Options{}, newEcho())
	other := New(Options{Addr: s.Addr().String()}, newEcho(), testLogger())
	if err := other.Start(); err == nil {
		t.Fatal("second server bound the same port")
	}
	openIntermediate(t, s)
}

func TestStalledConnDoesNotBlockOthers(t *testing.T) {
	s := startServer(t, Options{}, newEcho())
	stalled := dial(t, s)
	_, _ = stalled.Write([]byte{0xee, 0xee, 0xee, 0xee, 0, 0, 0x10, 0, 1, 2, 3}) // 1 MiB announced, 3 bytes sent
	for range 5 {
		openIntermediate(t, s)
	}
}
