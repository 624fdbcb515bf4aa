package box

import "testing"

// FuzzDecoders: every decoder of this package takes hostile bytes without panicking or over-allocating.
func FuzzDecoders(f *testing.F) {
	s := Send{From: 1, To: 2, RandomID: 3, Text: "hi", Entities: []byte{1, 2}}
	f.Add(s.Command().Payload)
	f.Add(EncodeResult(&Result{Pts: 1, Msgs: []Message{{ID: 1, Text: "x"}}, Applied: []Applied{{Seq: 1, Msg: &Message{}}}}, true))
	f.Add((&DeliverBatch{Src: 1, Items: []Item{{Seq: 1, Event: Event{Kind: EvNew, Text: "t"}}}}).Command().Payload)
	// With media (record v2, the event's media bit, Send's trailing fields).
	media := Send{From: 1, To: 2, RandomID: 3, Text: "c", Media: []byte{9, 9}, GroupedID: 4}
	f.Add(media.Command().Payload)
	f.Add(encodeMessage(&Message{ID: 1, Text: "x", Media: []byte{1}, GroupedID: 2}))
	f.Add((&DeliverBatch{Src: 1, Items: []Item{{Seq: 1, Event: Event{Kind: EvNew, Media: []byte{1}, GroupedID: 3}}}}).Command().Payload)
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = DecodeResult(b)
		_, _ = DecodeView(b)
		_, _ = DecodeOutbox(b)
		_, _ = decodeMessage(b)
		var (
			s  Send
			fw Forward
			d  DeliverBatch
			rh ReadHistory
			e  Edit
			dl Delete
			dh DeleteHistory
			ot OutboxTrim
			do DialogOp
			in Inject
		)
		_ = s.decode(b)
		_ = fw.decode(b)
		_ = d.decode(b)
		_ = rh.decode(b)
		_ = e.decode(b)
		_ = dl.decode(b)
		_ = dh.decode(b)
		_ = ot.decode(b)
		_ = do.decode(b)
		_ = in.decode(b)
	})
}
