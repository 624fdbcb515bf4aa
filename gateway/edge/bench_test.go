package edge

import (
	"bytes"
	"crypto/rand"
	"io"
	"testing"

	"github.com/gotd/td/mtproxy"
	"github.com/gotd/td/mtproxy/obfuscated2"
	"github.com/gotd/td/proto/codec"
)

// BenchmarkEchoRoundTrip measures framing round trips through the edge (one connection, 128-byte frames,
// echo handler): the transport cost without any MTProto crypto.
func BenchmarkEchoRoundTrip(b *testing.B) {
	s := startServer(b, Options{}, newEcho())
	for _, mode := range []string{"intermediate", "intermediate+obfuscated"} {
		b.Run(mode, func(b *testing.B) {
			nc := dial(b, s)
			var rw io.ReadWriter = nc
			cc := codec.Intermediate{}
			if mode == "intermediate" {
				_ = cc.WriteHeader(nc)
			} else {
				ob := obfuscated2.NewObfuscated2(rand.Reader, nc)
				_ = ob.Handshake([4]byte{0xee, 0xee, 0xee, 0xee}, 2, mtproxy.Secret{})
				rw = ob
			}
			msg := bytes.Repeat([]byte{7}, 128)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				writeFrame(b, cc, rw, msg)
				_ = readFrame(b, cc, rw)
			}
		})
	}
}
