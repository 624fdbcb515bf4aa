package api

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/raftgram/raftgram/tl"
)

var reg = tl.NewRegistry(New).WithLegacy(IsLegacy)

func sampleMessage() *Message {
	return &Message{Out: true, ID: 7, PeerID: &PeerUser{UserID: 5}, Date: 1, Message: "hi",
		Entities: []MessageEntityClass{&MessageEntityBold{Offset: 0, Length: 2}}, Views: tl.Ptr(int32(3)), Forwards: tl.Ptr(int32(0))}
}

func TestWrapperNesting(t *testing.T) {
	req := &InvokeWithLayerRequest{Layer: 227, Query: &InitConnectionRequest{APIID: 1, DeviceModel: "d", SystemVersion: "s",
		AppVersion: "a", SystemLangCode: "en", LangCode: "en", Query: &HelpGetConfigRequest{}}}
	b, err := tl.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	o, err := tl.DecodeObject(b, reg)
	if err != nil {
		t.Fatal(err)
	}
	inner := o.(*InvokeWithLayerRequest).Query.(*InitConnectionRequest)
	if _, ok := inner.Query.(*HelpGetConfigRequest); !ok {
		t.Fatalf("inner query %T", inner.Query)
	}
	// The wrapper's result is the inner query's result: a config.
	cb, _ := tl.Marshal(&Config{ThisDC: 1, DCOptions: []*DCOption{{ID: 1, IPAddress: "127.0.0.1", Port: 443}}})
	res, err := o.(tl.Method).DecodeResult(tl.NewDecoder(cb, reg))
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := res.(*Config); !ok || c.ThisDC != 1 {
		t.Fatalf("result %v", res)
	}
	if s := o.(interface{ String() string }).String(); !strings.Contains(s, "help.getConfig") {
		t.Fatalf("String: %s", s)
	}
}

func TestVectorResult(t *testing.T) {
	v := &UserClassVector{Elems: []UserClass{&UserEmpty{ID: 1}, &UserEmpty{ID: 2}}}
	b, err := tl.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	res, err := (&UsersGetUsersRequest{}).DecodeResult(tl.NewDecoder(b, reg))
	if err != nil {
		t.Fatal(err)
	}
	if got := res.(*UserClassVector); len(got.Elems) != 2 {
		t.Fatalf("%v", got)
	}
	b, _ = tl.Marshal(BoolOf(true))
	if res, err := (&AccountUpdateStatusRequest{}).DecodeResult(tl.NewDecoder(b, reg)); err != nil || res.TypeID() != BoolTrueTypeID {
		t.Fatalf("bool result %v %v", res, err)
	}
}

func TestFlags(t *testing.T) {
	m := sampleMessage()
	b, err := tl.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var got Message
	if err := tl.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.Views == nil || *got.Views != 3 || got.Forwards == nil || *got.Forwards != 0 || got.Media != nil || !got.Out {
		t.Fatalf("decoded %v", &got)
	}
	// Shared bit (views and forwards on flags.10): both or neither.
	m.Forwards = nil
	if _, err := tl.Marshal(m); !errors.Is(err, tl.ErrPartialFlagGroup) {
		t.Fatalf("partial group: %v", err)
	}
	// A present empty optional vector stays present; nil stays absent.
	s := &MessagesSendMessageRequest{Peer: &InputPeerSelf{}, Message: "x", RandomID: 1, Entities: []MessageEntityClass{}}
	b1, _ := tl.Marshal(s)
	s.Entities = nil
	b2, _ := tl.Marshal(s)
	if bytes.Equal(b1, b2) {
		t.Fatal("empty and nil vectors encode the same")
	}
	var back MessagesSendMessageRequest
	if err := tl.Unmarshal(b1, &back); err != nil || back.Entities == nil {
		t.Fatalf("present empty vector lost: %v", err)
	}
	// Unknown flag bits survive a round trip.
	b, _ = tl.Marshal(&PeerNotifySettings{})
	b[7] |= 0x80 // bit 31 of flags, not defined by the schema
	var pns PeerNotifySettings
	if err := tl.Unmarshal(b, &pns); err != nil {
		t.Fatal(err)
	}
	again, _ := tl.Marshal(&pns)
	if !bytes.Equal(again, b) {
		t.Fatalf("unknown bits lost: % x vs % x", again, b)
	}
}

func TestRequiredNil(t *testing.T) {
	if _, err := tl.Marshal(&MessagesGetHistoryRequest{}); !errors.Is(err, tl.ErrNilObject) {
		t.Fatalf("nil peer: %v", err)
	}
	if _, err := tl.Marshal(&Message{PeerID: (*PeerUser)(nil)}); !errors.Is(err, tl.ErrNilObject) {
		t.Fatalf("typed nil peer: %v", err)
	}
}

func TestHostileNesting(t *testing.T) {
	// textBold{textBold{...}} 100k deep: must fail on depth, not recurse 100k times.
	var e tl.Encoder
	for range 100000 {
		e.PutID(TextBoldTypeID)
	}
	e.PutID(TextEmptyTypeID)
	_, err := tl.DecodeObject(e.Bytes(), reg)
	if !errors.Is(err, tl.ErrTooDeep) {
		t.Fatalf("got %v", err)
	}
}

func TestHostileCountsAndTruncation(t *testing.T) {
	good, _ := tl.Marshal(&MessagesMessages{Messages: []MessageClass{sampleMessage(), sampleMessage()}, Topics: []ForumTopicClass{},
		Chats: []ChatClass{}, Users: []UserClass{&UserEmpty{ID: 1}}})
	// Every strict prefix is an error, never a panic.
	for i := range good {
		if _, err := tl.DecodeObject(good[:i], reg); err == nil {
			t.Fatalf("prefix %d decoded", i)
		}
	}
	// Trailing bytes.
	if _, err := tl.DecodeObject(append(append([]byte{}, good...), 0, 0, 0, 0), reg); err == nil {
		t.Fatal("trailing bytes accepted")
	}
	// Vector count patched to 2^31-1.
	bad := append([]byte{}, good...)
	copy(bad[8:], []byte{0xff, 0xff, 0xff, 0x7f})
	if _, err := tl.DecodeObject(bad, reg); !errors.Is(err, tl.ErrTooLong) {
		t.Fatalf("huge count: %v", err)
	}
	// Unknown constructor inside.
	bad = append([]byte{}, good...)
	copy(bad[12:], []byte{0xef, 0xbe, 0xad, 0xde})
	var uc *tl.UnknownConstructorError
	if _, err := tl.DecodeObject(bad, reg); !errors.As(err, &uc) || uc.ID != 0xdeadbeef || uc.Type != "Message" {
		t.Fatalf("unknown id: %v", err)
	}
}

// TestAllocationBound feeds every constructor and method id followed by hostile bytes (all 0xff, random,
// and a "vector of 2^31 elements" pattern) and checks the decoder allocates a bounded multiple of the input.
func TestAllocationBound(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	var ids []uint32
	for _, r := range LayerRows() {
		if r.IDs[L227] != 0 {
			ids = append(ids, r.IDs[L227])
		}
	}
	var worst float64
	var worstID uint32
	for _, id := range ids {
		for k := range 3 {
			in := make([]byte, 4, 260)
			in[0], in[1], in[2], in[3] = byte(id), byte(id>>8), byte(id>>16), byte(id>>24)
			for range 64 {
				switch k {
				case 0:
					in = append(in, 0xff, 0xff, 0xff, 0x7f)
				case 1:
					in = append(in, byte(rnd.Uint32()), byte(rnd.Uint32()), byte(rnd.Uint32()), byte(rnd.Uint32()))
				case 2:
					in = append(in, 0x15, 0xc4, 0xb5, 0x1c) // vector id everywhere
				}
			}
			var a, b runtime.MemStats
			runtime.ReadMemStats(&a)
			_, _ = tl.DecodeObject(in, reg)
			runtime.ReadMemStats(&b)
			if r := float64(b.TotalAlloc-a.TotalAlloc) / float64(len(in)); r > worst {
				worst, worstID = r, id
			}
		}
	}
	t.Logf("worst allocation: %.1f bytes per input byte (id %08x), over %d ids", worst, worstID, len(ids))
	if worst > 64 {
		t.Fatalf("decoder allocated %.1f bytes per input byte for id %08x", worst, worstID)
	}
}
