package edge

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/proto/codec"
)

// echo is the test Handler: it echoes frames and obeys a few commands.
type echo struct {
	mu     sync.Mutex
	opened []Conn
	closed chan closeEvent
}

type closeEvent struct {
	c   Conn
	err error
}

func newEcho() *echo { return &echo{closed: make(chan closeEvent, 1024)} }

func (e *echo) OnOpen(c Conn) {
	e.mu.Lock()
	e.opened = append(e.opened, c)
	e.mu.Unlock()
}

func (e *echo) OnFrame(c Conn, frame []byte, quickAck bool) {
	if quickAck {
		_ = c.SendQuickAck(0x01020304)
	}
	switch string(frame) {
	case "AUTHAUTH":
		c.SetAuthenticated()
	case "ERR!ERR!":
		_ = c.SendTransportError(-404)
		c.Close("asked to")
		return
	case "PANICPAN":
		panic("handler panic")
	case "FLOODFLO":
		go func() {
			big := make([]byte, 64<<10)
			for range 1000 {
				if c.Send(big) != nil {
					return
				}
			}
		}()
		return
	case "MANYMANY":
		// Concurrent senders: the wire must still be a valid stream (CTR and framing in order).
		for g := range 8 {
			go func() {
				for i := range 50 {
					f := bytes.Repeat([]byte{byte(g), byte(i)}, 2*(8+g*100+i))
					_ = c.Send(f)
				}
			}()
		}
		return
	case "DCDCDCDC":
		dc, ok := c.(DCConn).DC()
		_ = c.Send(padTo4([]byte(fmt.Sprint(dc, ok))))
		return
	case "NAMENAME":
		_ = c.Send(padTo4([]byte(c.Transport())))
		return
	}
	_ = c.Send(frame)
}

func (e *echo) OnClose(c Conn, err error) { e.closed <- closeEvent{c, err} }

func padTo4(b []byte) []byte {
	for len(b)%4 != 0 || len(b) < 8 {
		b = append(b, ' ')
	}
	return b
}

func testLogger() *slog.Logger {
	if os.Getenv("EDGE_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func startServer(t testing.TB, opts Options, h Handler) *Server {
	t.Helper()
	if opts.EventLoops == 0 {
		opts.EventLoops = 2
	}
	s := New(opts, h, testLogger())
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

func dial(t testing.TB, s *Server) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", s.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// byteWriter writes one byte per Write call to the socket.
type byteWriter struct{ w io.Writer }

func (b byteWriter) Write(p []byte) (int, error) {
	for i := range p {
		if _, err := b.w.Write(p[i : i+1]); err != nil {
			return i, err
		}
	}
	return len(p), nil
}

func gotdCodec(name string) codec.Codec {
	switch name {
	case "abridged":
		return codec.Abridged{}
	case "intermediate":
		return codec.Intermediate{}
	case "padded":
		return codec.PaddedIntermediate{}
	default:
		return &codec.Full{}
	}
}

func writeFrame(t testing.TB, c codec.Codec, w io.Writer, payload []byte) {
	t.Helper()
	if err := c.Write(w, &bin.Buffer{Buf: bytes.Clone(payload)}); err != nil {
		t.Fatalf("write frame: %v", err)
	}
}

func readFrame(t testing.TB, c codec.Codec, r io.Reader) []byte {
	t.Helper()
	var b bin.Buffer
	if err := c.Read(r, &b); err != nil {
		t.Fatalf("read frame: %v", err)
	}
	return b.Buf
}

// expectClosed waits for the server to close the socket (EOF or reset), reading and discarding.
func expectClosed(t testing.TB, c net.Conn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	buf := make([]byte, 4096)
	for {
		if _, err := c.Read(buf); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("server did not close the connection")
			}
			return
		}
	}
}

// waitFor polls cond (no timing assertion: it only bounds how long a broken test hangs).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
