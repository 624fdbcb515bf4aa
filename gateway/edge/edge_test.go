package edge

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/proto/codec"
)

func testPayloads() [][]byte {
	r := rand.New(rand.NewPCG(1, 1))
	var out [][]byte
	for _, n := range []int{8, 16, 508, 512, 5000, 200000} {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		out = append(out, b)
	}
	return out
}

func TestPlainTransportsEcho(t *testing.T) {
	s := startServer(t, Options{}, newEcho())
	for _, name := range []string{"abridged", "intermediate", "padded", "full"} {
		for _, slow := range []bool{false, true} {
			t.Run(name+map[bool]string{false: "/whole", true: "/bytewise"}[slow], func(t *testing.T) {
				nc := dial(t, s)
				var w io.Writer = nc
				if slow {
					w = byteWriter{nc}
				}
				cc := gotdCodec(name)
				if err := cc.WriteHeader(w); err != nil {
					t.Fatal(err)
				}
				msgs := testPayloads()
				if slow {
					msgs = msgs[:4]
				}
				for _, m := range msgs {
					writeFrame(t, cc, w, m)
					if got := readFrame(t, cc, nc); !bytes.Equal(got, m) {
						t.Fatalf("echo of %d bytes differs (got %d)", len(m), len(got))
					}
				}
				writeFrame(t, cc, w, []byte("NAMENAME"))
				if got := string(bytes.TrimSpace(readFrame(t, cc, nc))); got != name {
					t.Fatalf("transport %q, want %q", got, name)
				}
			})
		}
	}
}

func TestTransportErrorThenClose(t *testing.T) {
	h := newEcho()
	s := startServer(t, Options{}, h)
	nc := dial(t, s)
	cc := gotdCodec("intermediate")
	_ = cc.WriteHeader(nc)
	writeFrame(t, cc, nc, []byte("ERR!ERR!"))
	var b bin.Buffer
	err := cc.Read(nc, &b)
	var pe *codec.ProtocolErr
	if !errors.As(err, &pe) || pe.Code != 404 {
		t.Fatalf("got %v, want protocol error 404", err)
	}
	expectClosed(t, nc)
	ev := <-h.closed
	if ev.err == nil || ev.err.Error() != "asked to" {
		t.Fatalf("OnClose err %v", ev.err)
	}
}

func TestQuickAck(t *testing.T) {
	s := startServer(t, Options{}, newEcho())
	t.Run("abridged", func(t *testing.T) {
		nc := dial(t, s)
		// 0xef, then a 2-word frame with the quick-ack bit.
		_, _ = nc.Write(append([]byte{0xef, 0x80 | 2}, "abcdefgh"...))
		var ack [4]byte
		if _, err := io.ReadFull(nc, ack[:]); err != nil {
			t.Fatal(err)
		}
		if binary.BigEndian.Uint32(ack[:]) != 0x81020304 {
			t.Fatalf("quick ack %x", ack)
		}
		if got := readFrame(t, codec.Abridged{}, nc); string(got) != "abcdefgh" {
			t.Fatalf("echo %q", got)
		}
	})
	t.Run("intermediate", func(t *testing.T) {
		nc := dial(t, s)
		_, _ = nc.Write(append([]byte{0xee, 0xee, 0xee, 0xee, 8, 0, 0, 0x80}, "abcdefgh"...))
		var ack [4]byte
		if _, err := io.ReadFull(nc, ack[:]); err != nil {
			t.Fatal(err)
		}
		if binary.LittleEndian.Uint32(ack[:]) != 0x81020304 {
			t.Fatalf("quick ack %x", ack)
		}
		if got := readFrame(t, codec.Intermediate{}, nc); string(got) != "abcdefgh" {
			t.Fatalf("echo %q", got)
		}
	})
}
