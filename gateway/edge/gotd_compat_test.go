package edge

import (
	"bytes"
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/gotd/td/bin"
	"github.com/gotd/td/mtproxy"
	"github.com/gotd/td/mtproxy/obfuscator"
	"github.com/gotd/td/proto/codec"
	"github.com/gotd/td/transport"
	"github.com/gotd/td/wsutil"
)

// exchange sends each payload over a gotd transport.Conn and expects the echo.
func exchange(t *testing.T, tc transport.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, m := range testPayloads() {
		if err := tc.Send(ctx, &bin.Buffer{Buf: bytes.Clone(m)}); err != nil {
			t.Fatalf("send: %v", err)
		}
		var b bin.Buffer
		if err := tc.Recv(ctx, &b); err != nil {
			t.Fatalf("recv: %v", err)
		}
		if !bytes.Equal(b.Buf, m) {
			t.Fatalf("echo of %d bytes differs", len(m))
		}
	}
}

// TestGotdTransports drives the server with gotd v0.160.0's own transport connections: the plain protocols
// as gotd's dcs.Plain dials them, obfuscated2 over TCP the way its obfuscated Plain option does (codec
// without header, tag in the init), and WebSocket exactly as its dcs.Websocket resolver does (coder/websocket
// dialer, subprotocol "binary", obfuscated2 intermediate inside).
func TestGotdTransports(t *testing.T) {
	s := startServer(t, Options{}, newEcho())
	protocols := map[string]transport.Protocol{
		"abridged":     transport.Abridged,
		"intermediate": transport.Intermediate,
		"padded":       transport.PaddedIntermediate,
		"full":         transport.Full,
	}
	for name, p := range protocols {
		t.Run(name, func(t *testing.T) {
			tc, err := p.Handshake(dial(t, s))
			if err != nil {
				t.Fatal(err)
			}
			exchange(t, tc)
		})
	}
	tags := map[string]codec.TaggedCodec{
		"abridged":     codec.Abridged{},
		"intermediate": codec.Intermediate{},
		"padded":       codec.PaddedIntermediate{},
	}
	for name, cdc := range tags {
		t.Run("obfuscated/"+name, func(t *testing.T) {
			ob := obfuscator.Obfuscated2(rand.Reader, dial(t, s))
			if err := ob.Handshake(cdc.ObfuscatedTag(), 2, mtproxy.Secret{Type: mtproxy.Simple}); err != nil {
				t.Fatal(err)
			}
			p := transport.NewProtocol(func() transport.Codec { return codec.NoHeader{Codec: cdc} })
			tc, err := p.Handshake(ob)
			if err != nil {
				t.Fatal(err)
			}
			exchange(t, tc)
		})
	}
	t.Run("websocket", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		wc, resp, err := websocket.Dial(ctx, "ws://"+s.Addr().String()+"/apiws",
			&websocket.DialOptions{Subprotocols: []string{"binary"}})
		if resp != nil && resp.Body != nil {
			_ = resp.Body.Close()
		}
		if err != nil {
			t.Fatal(err)
		}
		wc.SetReadLimit(4 << 20)
		nc := wsutil.NetConn(wc)
		defer nc.Close()
		cdc := codec.Intermediate{}
		ob := obfuscator.Obfuscated2(rand.Reader, nc)
		if err := ob.Handshake(cdc.ObfuscatedTag(), 2, mtproxy.Secret{Type: mtproxy.Simple}); err != nil {
			t.Fatal(err)
		}
		p := transport.NewProtocol(func() transport.Codec { return codec.NoHeader{Codec: cdc} })
		tc, err := p.Handshake(ob)
		if err != nil {
			t.Fatal(err)
		}
		exchange(t, tc)
	})
}
