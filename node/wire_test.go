package node

import (
	"bytes"
	"testing"

	"github.com/raftgram/raftgram/fsm"
)

func TestWireRoundTrip(t *testing.T) {
	cmd := fsm.Command{Type: 77, RequestID: fsm.RequestID{1, 2, 3}, Time: -5, Payload: []byte("payload")}
	b, _ := encodeProposeReq(9, cmd)
	s, got, err := decodeProposeReq(b)
	if err != nil || s != 9 || got.Type != cmd.Type || got.RequestID != cmd.RequestID || got.Time != cmd.Time ||
		!bytes.Equal(got.Payload, cmd.Payload) {
		t.Fatalf("propose round trip: %d %+v %v", s, got, err)
	}
	for _, r := range []fsm.Result{
		{},
		{Value: []byte("v"), Duplicate: true},
		{Err: &fsm.ApplyError{Code: "CAS_MISMATCH", Msg: "x"}},
	} {
		b, _ := encodeResult(r)
		got, err := decodeResult(b)
		if err != nil || !bytes.Equal(got.Value, r.Value) || got.Duplicate != r.Duplicate || (got.Err == nil) != (r.Err == nil) {
			t.Fatalf("result round trip %+v: %+v %v", r, got, err)
		}
	}
}

// FuzzWire: the decoders of forwarded proposals and results never panic, and what they accept re-encodes to
// the same bytes.
func FuzzWire(f *testing.F) {
	b, _ := encodeProposeReq(3, fsm.Command{Type: 1, Time: 1, Payload: []byte("k")})
	f.Add(b)
	r, _ := encodeResult(fsm.Result{Err: &fsm.ApplyError{Code: "C", Msg: "m"}, Value: []byte("v")})
	f.Add(r)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		if s, cmd, err := decodeProposeReq(data); err == nil {
			again, _ := encodeProposeReq(s, cmd)
			if s2, cmd2, err := decodeProposeReq(again); err != nil || s2 != s || cmd2.Type != cmd.Type ||
				cmd2.Time != cmd.Time || !bytes.Equal(cmd2.Payload, cmd.Payload) {
				t.Fatalf("propose request does not round trip: %x", data)
			}
		}
		if res, err := decodeResult(data); err == nil {
			again, _ := encodeResult(res)
			res2, err := decodeResult(again)
			if err != nil || !bytes.Equal(res2.Value, res.Value) || res2.Duplicate != res.Duplicate {
				t.Fatalf("result does not round trip: %x", data)
			}
		}
	})
}
