package mt_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/raftgram/raftgram/tl"
	"github.com/raftgram/raftgram/tl/api"
	"github.com/raftgram/raftgram/tl/mt"
)

func samples() []tl.Object {
	return []tl.Object{
		&mt.ReqPqMultiRequest{Nonce: tl.Int128{1, 2, 3}},
		&mt.ResPQ{Nonce: tl.Int128{1}, ServerNonce: tl.Int128{2}, Pq: []byte{0x17, 0xed, 0x48, 0x94, 0x1a, 0x08, 0xf9, 0x81}, ServerPublicKeyFingerprints: []int64{-1}},
		&mt.PQInnerDataDC{Pq: []byte{1}, P: []byte{2}, Q: []byte{3}, DC: 2},
		&mt.ReqDHParamsRequest{P: []byte{1, 2, 3, 4}, Q: []byte{5, 6, 7, 8}, PublicKeyFingerprint: 77, EncryptedData: bytes.Repeat([]byte{9}, 256)},
		&mt.ServerDHParamsOk{EncryptedAnswer: bytes.Repeat([]byte{7}, 300)},
		&mt.ClientDHInnerData{RetryID: 1, GB: bytes.Repeat([]byte{1}, 256)},
		&mt.DhGenOk{NewNonceHash1: tl.Int128{9}},
		&mt.MsgsAck{MsgIDs: []int64{1, 2, 3}},
		&mt.BadServerSalt{BadMsgID: 1, BadMsgSeqno: 2, ErrorCode: 48, NewServerSalt: 99},
		&mt.NewSessionCreated{FirstMsgID: 1, UniqueID: 2, ServerSalt: 3},
		&mt.FutureSalts{ReqMsgID: 1, Now: 2, Salts: []*mt.FutureSalt{{ValidSince: 1, ValidUntil: 2, Salt: 3}}},
		&mt.PingDelayDisconnectRequest{PingID: 5, DisconnectDelay: 75},
		&mt.MsgsStateInfo{ReqMsgID: 5, Info: []byte{1, 4}},
		&mt.HTTPWait{MaxDelay: 0, WaitAfter: 0, MaxWait: 25000},
		&mt.MsgContainer{Messages: []mt.Message{
			{MsgID: 0x60000001, Seqno: 1, Body: &mt.RPCResult{ReqMsgID: 4, Result: &mt.RPCError{ErrorCode: 401, ErrorMessage: "AUTH_KEY_UNREGISTERED"}}},
			{MsgID: 0x60000005, Seqno: 2, Body: &mt.MsgsAck{MsgIDs: []int64{4}}},
			{MsgID: 0x60000009, Seqno: 3, Body: &api.InvokeWithLayerRequest{Layer: 227, Query: &api.HelpGetConfigRequest{}}},
		}},
		&mt.RPCResult{ReqMsgID: 1, Result: &mt.Pong{MsgID: 1, PingID: 2}},
		&mt.MsgCopy{OrigMessage: mt.Message{MsgID: 4, Seqno: 1, Body: &mt.MsgsAck{MsgIDs: []int64{}}}},
	}
}

func TestRoundTrip(t *testing.T) {
	for _, o := range samples() {
		b, err := tl.Marshal(o)
		if err != nil {
			t.Fatalf("%s: %v", tl.Name(o), err)
		}
		back, err := tl.DecodeObject(b, reg)
		if err != nil {
			t.Fatalf("%s: %v", tl.Name(o), err)
		}
		again, err := tl.Marshal(back)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("%s: round trip differs (%v)", tl.Name(o), err)
		}
	}
}

func TestMessageBytesChecked(t *testing.T) {
	b, _ := tl.Marshal(&mt.MsgContainer{Messages: []mt.Message{{MsgID: 1, Seqno: 1, Body: &mt.MsgsAck{MsgIDs: []int64{1}}}}})
	// bytes field at offset 4 (id) + 4 (count) + 8 (msg_id) + 4 (seqno) = 20.
	for _, n := range []byte{0, 4, 200, 0xfe} {
		bad := append([]byte{}, b...)
		bad[20] = n
		if _, err := tl.DecodeObject(bad, reg); err == nil {
			t.Fatalf("bytes=%d accepted", n)
		}
	}
	// A container claiming 2^31 messages.
	bad := append([]byte{}, b...)
	copy(bad[4:], []byte{0xff, 0xff, 0xff, 0x7f})
	if _, err := tl.DecodeObject(bad, reg); !errors.Is(err, tl.ErrTooLong) {
		t.Fatalf("huge container: %v", err)
	}
}

func TestGzipBody(t *testing.T) {
	gz, err := tl.Gzip(&api.InvokeWithLayerRequest{Layer: 227, Query: &api.HelpGetConfigRequest{}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := tl.Marshal(&mt.MsgContainer{Messages: []mt.Message{{MsgID: 1, Seqno: 1, Body: gz}}})
	o, err := tl.DecodeObject(b, reg)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := o.(*mt.MsgContainer).Messages[0].Body.(*api.InvokeWithLayerRequest); !ok {
		t.Fatalf("body %T", o.(*mt.MsgContainer).Messages[0].Body)
	}
}

func TestWalkContainer(t *testing.T) {
	c := samples()[14].(*mt.MsgContainer)
	var names []string
	if err := tl.Walk(c, func(o tl.Object) error { names = append(names, o.TypeName()); return nil }); err != nil {
		t.Fatal(err)
	}
	want := "msg_container message rpc_result rpc_error message msgs_ack message invokeWithLayer help.getConfig"
	if got := strings.Join(names, " "); got != want {
		t.Fatalf("walk: %s", got)
	}
}
