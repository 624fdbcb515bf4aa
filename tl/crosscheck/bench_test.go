package crosscheck

import (
	"testing"

	"github.com/gotd/td/bin"
	gmt "github.com/gotd/td/mt"
	"github.com/gotd/td/proto"
	"github.com/gotd/td/tg"

	"github.com/raftgram/raftgram/tl"
)

// Benchmarks of our codec and gotd's on the same values (checked equal by TestNativeValuesMatchGotd and
// TestContainerAgainstGotd): messages.messages with 100 messages (text, 3 entities, every 10th a photo),
// and a msg_container of 10 rpc_results.
//
//	go test -run '^$' -bench . -benchmem ./tl/crosscheck/

func BenchmarkMessagesEncode(b *testing.B) {
	b.Run("raftgram", func(b *testing.B) {
		v := ourMessages(100)
		var e tl.Encoder
		e.PutObject(v)
		b.SetBytes(int64(e.Len()))
		b.ReportAllocs()
		for b.Loop() {
			e.Reset()
			e.PutObject(v)
			if e.Err() != nil {
				b.Fatal(e.Err())
			}
		}
	})
	b.Run("gotd", func(b *testing.B) {
		v := gotdMessages(100)
		var buf bin.Buffer
		_ = v.Encode(&buf)
		b.SetBytes(int64(buf.Len()))
		b.ReportAllocs()
		for b.Loop() {
			buf.Reset()
			if err := v.Encode(&buf); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkMessagesDecode(b *testing.B) {
	data, err := tl.Marshal(ourMessages(100))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("raftgram", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := tl.DecodeObject(data, registry); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("gotd", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := tg.DecodeMessagesMessages(&bin.Buffer{Buf: data}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkContainerEncode(b *testing.B) {
	b.Run("raftgram", func(b *testing.B) {
		v := ourContainer(10)
		var e tl.Encoder
		e.PutObject(v)
		b.SetBytes(int64(e.Len()))
		b.ReportAllocs()
		for b.Loop() {
			e.Reset()
			e.PutObject(v)
			if e.Err() != nil {
				b.Fatal(e.Err())
			}
		}
	})
	b.Run("gotd", func(b *testing.B) {
		// gotd encodes each result, wraps it in rpc_result, then into the container: the work its
		// server side (tgtest) does for the same answer.
		results := make([]bin.Encoder, 10)
		for i := range results {
			switch i % 3 {
			case 0:
				results[i] = gotdMessages(2)
			case 1:
				results[i] = &gmt.RPCError{ErrorCode: 400, ErrorMessage: "MESSAGE_ID_INVALID"}
			default:
				results[i] = &tg.BoolTrue{}
			}
		}
		var out, tmp, body bin.Buffer
		b.ReportAllocs()
		for b.Loop() {
			c := proto.MessageContainer{Messages: make([]proto.Message, 0, 10)}
			for i, r := range results {
				tmp.Reset()
				if err := r.Encode(&tmp); err != nil {
					b.Fatal(err)
				}
				body.Reset()
				res := proto.Result{RequestMessageID: int64(0x5000000000000000 + 4*i), Result: tmp.Buf}
				if err := res.Encode(&body); err != nil {
					b.Fatal(err)
				}
				c.Messages = append(c.Messages, proto.Message{ID: int64(0x6000000000000001 + 4*i), SeqNo: 2*i + 1,
					Bytes: body.Len(), Body: append([]byte(nil), body.Buf...)})
			}
			out.Reset()
			if err := c.Encode(&out); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkContainerDecode(b *testing.B) {
	data, err := tl.Marshal(ourContainer(10))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("raftgram", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := tl.DecodeObject(data, registry); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("gotd", func(b *testing.B) {
		// gotd: container, then each rpc_result, then its result by id (the work gotd's client does).
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			var c proto.MessageContainer
			if err := c.Decode(&bin.Buffer{Buf: data}); err != nil {
				b.Fatal(err)
			}
			for _, m := range c.Messages {
				var r proto.Result
				if err := r.Decode(&bin.Buffer{Buf: m.Body}); err != nil {
					b.Fatal(err)
				}
				buf := &bin.Buffer{Buf: r.Result}
				id, _ := buf.PeekID()
				var err error
				switch id {
				case tg.MessagesMessagesTypeID:
					_, err = tg.DecodeMessagesMessages(buf)
				case gmt.RPCErrorTypeID:
					var e gmt.RPCError
					err = e.Decode(buf)
				default:
					_, err = tg.DecodeBool(buf)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
