package edge

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/gotd/td/mtproxy"
	"github.com/gotd/td/mtproxy/obfuscated2"
	"github.com/gotd/td/proto/codec"
)

var obfTags = map[string][4]byte{
	"abridged":     {0xef, 0xef, 0xef, 0xef},
	"intermediate": {0xee, 0xee, 0xee, 0xee},
	"padded":       {0xdd, 0xdd, 0xdd, 0xdd},
}

func TestObfuscatedTransportsEcho(t *testing.T) {
	s := startServer(t, Options{}, newEcho())
	for name, tag := range obfTags {
		for _, slow := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/bytewise=%v", name, slow), func(t *testing.T) {
				nc := dial(t, s)
				var w io.ReadWriter = nc
				if slow {
					w = struct {
						io.Reader
						io.Writer
					}{nc, byteWriter{nc}}
				}
				ob := obfuscated2.NewObfuscated2(rand.Reader, w)
				// Any DC id is accepted, as GramJS and mtcute send random ones.
				dc := int(mrand.Int32N(2000)) - 1000
				if err := ob.Handshake(tag, dc, mtproxy.Secret{}); err != nil {
					t.Fatal(err)
				}
				cc := gotdCodec(name)
				writeFrame(t, cc, ob, []byte("DCDCDCDC"))
				if got := string(bytes.TrimSpace(readFrame(t, cc, ob))); got != fmt.Sprint(dc, true) {
					t.Fatalf("DC %q, want %d", got, dc)
				}
				msgs := testPayloads()
				if slow {
					msgs = msgs[:3]
				}
				for _, m := range msgs {
					writeFrame(t, cc, ob, m)
					if got := readFrame(t, cc, ob); !bytes.Equal(got, m) {
						t.Fatalf("echo of %d bytes differs", len(m))
					}
				}
				writeFrame(t, cc, ob, []byte("NAMENAME"))
				if got := string(bytes.TrimSpace(readFrame(t, cc, ob))); got != name+"+obfuscated" {
					t.Fatalf("transport %q", got)
				}
			})
		}
	}
}

// wsClient is a minimal RFC 6455 client: it writes the stream as masked binary frames cut at random places
// (with fragmentation and pings interleaved) and reads the server's frames back as a stream.
type wsClient struct {
	t     testing.TB
	nc    net.Conn
	br    *bufio.Reader
	rnd   *mrand.Rand
	buf   []byte // unread payload
	pongs int
}

func dialWS(t testing.TB, s *Server, path string) (*wsClient, *http.Response) {
	t.Helper()
	nc := dial(t, s)
	var key [16]byte
	_, _ = rand.Read(key[:])
	k := base64.StdEncoding.EncodeToString(key[:])
	req := "GET " + path + " HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n" +
		"Sec-WebSocket-Key: " + k + "\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: binary\r\n\r\n"
	if _, err := nc.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return nil, nil
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		sum := sha1.Sum([]byte(k + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
		if resp.Header.Get("Sec-WebSocket-Accept") != base64.StdEncoding.EncodeToString(sum[:]) {
			t.Fatalf("bad accept header %q", resp.Header.Get("Sec-WebSocket-Accept"))
		}
		if resp.Header.Get("Sec-WebSocket-Protocol") != "binary" {
			t.Fatalf("subprotocol %q", resp.Header.Get("Sec-WebSocket-Protocol"))
		}
	}
	return &wsClient{t: t, nc: nc, br: br, rnd: mrand.New(mrand.NewPCG(9, 9))}, resp
}

func (w *wsClient) frame(op byte, fin bool, payload []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	out := []byte{b0}
	switch n := len(payload); {
	case n < 126:
		out = append(out, 0x80|byte(n))
	case n <= 0xffff:
		out = binary.BigEndian.AppendUint16(append(out, 0x80|126), uint16(n))
	default:
		out = binary.BigEndian.AppendUint64(append(out, 0x80|127), uint64(n))
	}
	var mask [4]byte
	_, _ = rand.Read(mask[:])
	out = append(out, mask[:]...)
	for i, c := range payload {
		out = append(out, c^mask[i%4])
	}
	return out
}

func (w *wsClient) Write(p []byte) (int, error) {
	var out []byte
	rest := p
	for len(rest) > 0 {
		// A message of one to three fragments, each an arbitrary slice of the stream.
		parts := 1 + w.rnd.IntN(3)
		for i := range parts {
			n := min(len(rest), 1+w.rnd.IntN(300))
			if i == parts-1 || n == len(rest) {
				op := byte(0x0)
				if i == 0 {
					op = 0x2
				}
				out = append(out, w.frame(op, true, rest[:n])...)
				rest = rest[n:]
				break
			}
			op := byte(0x0)
			if i == 0 {
				op = 0x2
			}
			out = append(out, w.frame(op, false, rest[:n])...)
			rest = rest[n:]
			if w.rnd.IntN(4) == 0 {
				out = append(out, w.frame(0x9, true, []byte("hi"))...) // ping inside a fragmented message
			}
		}
	}
	// Write in odd-sized pieces so frame headers straddle reads.
	for len(out) > 0 {
		n := min(len(out), 1+w.rnd.IntN(100))
		if _, err := w.nc.Write(out[:n]); err != nil {
			return 0, err
		}
		out = out[n:]
	}
	return len(p), nil
}

func (w *wsClient) Read(p []byte) (int, error) {
	for len(w.buf) == 0 {
		op, payload, err := w.readFrame()
		if err != nil {
			return 0, err
		}
		switch op {
		case 0x2, 0x0:
			w.buf = payload
		case 0xa:
			w.pongs++
		case 0x8:
			return 0, io.EOF
		default:
			w.t.Fatalf("unexpected opcode %#x", op)
		}
	}
	n := copy(p, w.buf)
	w.buf = w.buf[n:]
	return n, nil
}

func (w *wsClient) readFrame() (byte, []byte, error) {
	var h [2]byte
	if _, err := io.ReadFull(w.br, h[:]); err != nil {
		return 0, nil, err
	}
	if h[1]&0x80 != 0 {
		w.t.Fatal("server frame is masked")
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		_, _ = io.ReadFull(w.br, b[:])
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		_, _ = io.ReadFull(w.br, b[:])
		n = binary.BigEndian.Uint64(b[:])
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(w.br, payload); err != nil {
		return 0, nil, err
	}
	return h[0] & 0x0f, payload, nil
}

func TestWebSocketObfuscatedEcho(t *testing.T) {
	s := startServer(t, Options{}, newEcho())
	for name, tag := range obfTags {
		t.Run(name, func(t *testing.T) {
			ws, resp := dialWS(t, s, "/apiws")
			if resp == nil || resp.StatusCode != 101 {
				t.Fatalf("upgrade failed: %v", resp)
			}
			ob := obfuscated2.NewObfuscated2(rand.Reader, ws)
			if err := ob.Handshake(tag, 2, mtproxy.Secret{}); err != nil {
				t.Fatal(err)
			}
			cc := gotdCodec(name)
			for _, m := range testPayloads() {
				writeFrame(t, cc, ob, m)
				if got := readFrame(t, cc, ob); !bytes.Equal(got, m) {
					t.Fatalf("echo of %d bytes differs", len(m))
				}
			}
			writeFrame(t, cc, ob, []byte("NAMENAME"))
			if got := string(bytes.TrimSpace(readFrame(t, cc, ob))); got != name+"+obfuscated+ws" {
				t.Fatalf("transport %q", got)
			}
			// An explicit ping gets a pong with the same payload; a close gets a close back.
			_, _ = ws.nc.Write(ws.frame(0x9, true, []byte("ping!")))
			op, payload, err := ws.readFrame()
			if err != nil || op != 0xa || string(payload) != "ping!" {
				t.Fatalf("pong: %#x %q %v", op, payload, err)
			}
			_, _ = ws.nc.Write(ws.frame(0x8, true, []byte{0x03, 0xe8}))
			op, _, err = ws.readFrame()
			if err != nil || op != 0x8 {
				t.Fatalf("close reply: %#x %v", op, err)
			}
			expectClosed(t, ws.nc)
		})
	}
}

func TestWebSocketProtocolViolationsClose(t *testing.T) {
	s := startServer(t, Options{}, newEcho())
	cases := map[string]func(w *wsClient) []byte{
		"unmasked": func(*wsClient) []byte { return []byte{0x82, 0x02, 1, 2} },
		"text":     func(w *wsClient) []byte { return w.frame(0x1, true, []byte("hello")) },
		"rsv":      func(w *wsClient) []byte { f := w.frame(0x2, true, []byte("x")); f[0] |= 0x40; return f },
		"cont":     func(w *wsClient) []byte { return w.frame(0x0, true, []byte("x")) },
		"bigping":  func(w *wsClient) []byte { return w.frame(0x9, true, make([]byte, 200)) },
		"fragping": func(w *wsClient) []byte { return w.frame(0x9, false, []byte("x")) },
		"plain":    func(w *wsClient) []byte { return w.frame(0x2, true, []byte{0xef, 1, 2, 3, 4}) },
	}
	for name, mk := range cases {
		t.Run(name, func(t *testing.T) {
			before := s.Metrics().ProtocolError.Load() + s.Metrics().BadTransport.Load()
			ws, resp := dialWS(t, s, "/apiws")
			if resp == nil || resp.StatusCode != 101 {
				t.Fatal("upgrade failed")
			}
			_, _ = ws.nc.Write(mk(ws))
			expectClosed(t, ws.nc)
			waitFor(t, "metric", func() bool {
				return s.Metrics().ProtocolError.Load()+s.Metrics().BadTransport.Load() > before
			})
		})
	}
}

func TestHTTPNotWebSocketCloses(t *testing.T) {
	s := startServer(t, Options{}, newEcho())
	for _, path := range []string{"/", "/api", "/apiws/x"} {
		nc := dial(t, s)
		_, _ = nc.Write([]byte("GET " + path + " HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"))
		expectClosed(t, nc)
	}
	// A plain GET to /apiws without the upgrade headers.
	nc := dial(t, s)
	_, _ = nc.Write([]byte("GET /apiws HTTP/1.1\r\nHost: x\r\n\r\n"))
	expectClosed(t, nc)
	// A request head that never ends.
	nc = dial(t, s)
	_, _ = nc.Write([]byte("GET /apiws HTTP/1.1\r\nX: " + strings.Repeat("a", 5000)))
	expectClosed(t, nc)
	waitFor(t, "metric", func() bool { return s.Metrics().BadTransport.Load() == 5 })
	// The server still serves others.
	c := dial(t, s)
	cc := codec.Intermediate{}
	_ = cc.WriteHeader(c)
	writeFrame(t, cc, c, []byte("still ok"))
	if got := readFrame(t, cc, c); string(got) != "still ok" {
		t.Fatalf("echo %q", got)
	}
}

func TestConcurrentSendersKeepStreamValid(t *testing.T) {
	s := startServer(t, Options{}, newEcho())
	check := func(t *testing.T, rw io.ReadWriter, cc codec.Codec) {
		writeFrame(t, cc, rw, []byte("MANYMANY"))
		next := make([]int, 8)
		for range 8 * 50 {
			f := readFrame(t, cc, rw)
			g, i := int(f[0]), int(f[1])
			if g >= 8 || i != next[g] || len(f) != 4*(8+g*100+i) || !bytes.Equal(f, bytes.Repeat(f[:2], len(f)/2)) {
				t.Fatalf("frame from sender %d out of order or corrupt (i=%d want %d, len %d)", g, i, next[g], len(f))
			}
			next[g]++
		}
	}
	t.Run("obfuscated", func(t *testing.T) {
		nc := dial(t, s)
		ob := obfuscated2.NewObfuscated2(rand.Reader, nc)
		_ = ob.Handshake(obfTags["padded"], 1, mtproxy.Secret{})
		check(t, ob, codec.PaddedIntermediate{})
	})
	t.Run("full", func(t *testing.T) {
		nc := dial(t, s)
		check(t, nc, &codec.Full{})
	})
	t.Run("websocket", func(t *testing.T) {
		ws, resp := dialWS(t, s, "/apiws")
		if resp == nil || resp.StatusCode != 101 {
			t.Fatal("upgrade failed")
		}
		ob := obfuscated2.NewObfuscated2(rand.Reader, ws)
		_ = ob.Handshake(obfTags["abridged"], 1, mtproxy.Secret{})
		check(t, ob, codec.Abridged{})
	})
}
