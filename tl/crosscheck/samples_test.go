package crosscheck

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/gotd/td/bin"
	gmt "github.com/gotd/td/mt"
	"github.com/gotd/td/proto"
	"github.com/gotd/td/tg"

	"github.com/raftgram/raftgram/tl"
	"github.com/raftgram/raftgram/tl/api"
	"github.com/raftgram/raftgram/tl/mt"
)

// Representative values, built the same way with gotd and with our types. Message i has text and
// entities; every 10th carries a photo.

func gotdMessage(i int) *tg.Message {
	m := &tg.Message{
		Out:      i%2 == 0,
		ID:       1000 + i,
		FromID:   &tg.PeerUser{UserID: 777},
		PeerID:   &tg.PeerUser{UserID: 778},
		Date:     1_780_000_000 + i,
		Message:  fmt.Sprintf("hello %d, see https://example.com/%d and @friend, some bold text here", i, i),
		Entities: []tg.MessageEntityClass{&tg.MessageEntityBold{Offset: 0, Length: 5}, &tg.MessageEntityURL{Offset: 12, Length: 24}, &tg.MessageEntityMentionName{Offset: 41, Length: 7, UserID: 779}},
		Views:    10 + i,
		Forwards: 1 + i,
	}
	if i%5 == 0 {
		m.ReplyTo = &tg.MessageReplyHeader{ReplyToMsgID: 999 + i}
	}
	if i%10 == 0 {
		m.Media = &tg.MessageMediaPhoto{Photo: &tg.Photo{
			ID: int64(5000 + i), AccessHash: 0x1234567890, FileReference: []byte{1, 2, 3, 4, 5, 6, 7, 8}, Date: 1_780_000_000,
			Sizes: []tg.PhotoSizeClass{
				&tg.PhotoStrippedSize{Type: "i", Bytes: bytes.Repeat([]byte{0xaa}, 40)},
				&tg.PhotoSize{Type: "m", W: 320, H: 240, Size: 20000},
				&tg.PhotoSizeProgressive{Type: "y", W: 1280, H: 960, Sizes: []int{10000, 40000, 90000}},
			},
			DCID: 2,
		}}
	}
	m.SetFlags()
	return m
}

func ourMessage(i int) *api.Message {
	m := &api.Message{
		Out:      i%2 == 0,
		ID:       int32(1000 + i),
		FromID:   &api.PeerUser{UserID: 777},
		PeerID:   &api.PeerUser{UserID: 778},
		Date:     int32(1_780_000_000 + i),
		Message:  fmt.Sprintf("hello %d, see https://example.com/%d and @friend, some bold text here", i, i),
		Entities: []api.MessageEntityClass{&api.MessageEntityBold{Offset: 0, Length: 5}, &api.MessageEntityURL{Offset: 12, Length: 24}, &api.MessageEntityMentionName{Offset: 41, Length: 7, UserID: 779}},
		Views:    tl.Ptr(int32(10 + i)),
		Forwards: tl.Ptr(int32(1 + i)),
	}
	if i%5 == 0 {
		m.ReplyTo = &api.MessageReplyHeader{ReplyToMsgID: tl.Ptr(int32(999 + i))}
	}
	if i%10 == 0 {
		m.Media = &api.MessageMediaPhoto{Photo: &api.Photo{
			ID: int64(5000 + i), AccessHash: 0x1234567890, FileReference: []byte{1, 2, 3, 4, 5, 6, 7, 8}, Date: 1_780_000_000,
			Sizes: []api.PhotoSizeClass{
				&api.PhotoStrippedSize{Type: "i", Bytes: bytes.Repeat([]byte{0xaa}, 40)},
				&api.PhotoSize{Type: "m", W: 320, H: 240, Size: 20000},
				&api.PhotoSizeProgressive{Type: "y", W: 1280, H: 960, Sizes: []int32{10000, 40000, 90000}},
			},
			DCID: 2,
		}}
	}
	return m
}

func gotdUser(id int64) *tg.User {
	u := &tg.User{
		Self: id == 777, Contact: true, ID: id, AccessHash: id * 31, FirstName: "Alice", LastName: "Liddell",
		Username: fmt.Sprintf("alice%d", id), Phone: "15550001234",
		Photo:    &tg.UserProfilePhoto{PhotoID: 42, DCID: 2, StrippedThumb: []byte{1, 2, 3}},
		Status:   &tg.UserStatusOnline{Expires: 1_780_000_300},
		LangCode: "en", EmojiStatus: &tg.EmojiStatus{DocumentID: 99},
	}
	u.SetFlags()
	return u
}

func ourUser(id int64) *api.User {
	return &api.User{
		Self: id == 777, Contact: true, ID: id, AccessHash: tl.Ptr(id * 31), FirstName: tl.Ptr("Alice"), LastName: tl.Ptr("Liddell"),
		Username: tl.Ptr(fmt.Sprintf("alice%d", id)), Phone: tl.Ptr("15550001234"),
		Photo:    &api.UserProfilePhoto{PhotoID: 42, DCID: 2, StrippedThumb: []byte{1, 2, 3}},
		Status:   &api.UserStatusOnline{Expires: 1_780_000_300},
		LangCode: tl.Ptr("en"), EmojiStatus: &api.EmojiStatus{DocumentID: 99},
	}
}

func gotdChannel() *tg.Channel {
	c := &tg.Channel{Broadcast: true, ID: 555, AccessHash: 1, Title: "News", Photo: &tg.ChatPhotoEmpty{}, Date: 1_700_000_000, ParticipantsCount: 1000}
	c.SetFlags()
	return c
}

func gotdMessages(n int) *tg.MessagesMessages {
	r := &tg.MessagesMessages{Topics: []tg.ForumTopicClass{}, Chats: []tg.ChatClass{&tg.Chat{ID: 1, Title: "group", Photo: &tg.ChatPhotoEmpty{}, ParticipantsCount: 3, Date: 1, Version: 1}}}
	for i := range n {
		r.Messages = append(r.Messages, gotdMessage(i))
	}
	r.Users = []tg.UserClass{gotdUser(777), gotdUser(778), gotdUser(779)}
	return r
}

func ourMessages(n int) *api.MessagesMessages {
	r := &api.MessagesMessages{Topics: []api.ForumTopicClass{}, Chats: []api.ChatClass{&api.Chat{ID: 1, Title: "group", Photo: &api.ChatPhotoEmpty{}, ParticipantsCount: 3, Date: 1, Version: 1}}}
	for i := range n {
		r.Messages = append(r.Messages, ourMessage(i))
	}
	r.Users = []api.UserClass{ourUser(777), ourUser(778), ourUser(779)}
	return r
}

func gotdSamples() map[string]bin.Object {
	dialog := &tg.Dialog{Pinned: true, Peer: &tg.PeerUser{UserID: 778}, TopMessage: 1005, ReadInboxMaxID: 1004,
		ReadOutboxMaxID: 1003, UnreadCount: 2, NotifySettings: tg.PeerNotifySettings{ShowPreviews: true, MuteUntil: 5}}
	dialog.NotifySettings.SetFlags()
	dialog.SetFlags()
	cfg := &tg.Config{Date: 1_780_000_000, Expires: 1_780_003_600, ThisDC: 1,
		DCOptions:       []tg.DCOption{{ID: 1, IPAddress: "127.0.0.1", Port: 4430, Static: true}, {ID: 1, IPAddress: "::1", Port: 4430, Ipv6: true}},
		DCTxtDomainName: "raftgram.local", ChatSizeMax: 200, MegagroupSizeMax: 200000, ForwardedCountMax: 100,
		OnlineUpdatePeriodMs: 120000, OfflineBlurTimeoutMs: 5000, OfflineIdleTimeoutMs: 30000, OnlineCloudTimeoutMs: 300000,
		NotifyCloudDelayMs: 30000, NotifyDefaultDelayMs: 1500, PushChatPeriodMs: 60000, PushChatLimit: 2,
		EditTimeLimit: 172800, RevokeTimeLimit: 172800, RevokePmTimeLimit: 172800, RatingEDecay: 2419200,
		StickersRecentLimit: 200, ChannelsReadMediaPeriod: 604800, CallReceiveTimeoutMs: 20000, CallRingTimeoutMs: 90000,
		CallConnectTimeoutMs: 30000, CallPacketTimeoutMs: 10000, MeURLPrefix: "https://t.me/", CaptionLengthMax: 1024,
		MessageLengthMax: 4096, WebfileDCID: 1, TmpSessions: 4, ReactionsDefault: &tg.ReactionEmoji{Emoticon: "👍"}}
	for i := range cfg.DCOptions {
		cfg.DCOptions[i].SetFlags()
	}
	cfg.SetFlags()
	upd := &tg.Updates{
		Updates: []tg.UpdateClass{
			&tg.UpdateNewMessage{Message: gotdMessage(10), Pts: 100, PtsCount: 1},
			&tg.UpdateReadHistoryInbox{Peer: &tg.PeerUser{UserID: 778}, MaxID: 1010, StillUnreadCount: 0, Pts: 101, PtsCount: 1},
			&tg.UpdateNewChannelMessage{Message: gotdMessage(11), Pts: 5, PtsCount: 1},
		},
		Users: []tg.UserClass{gotdUser(777), gotdUser(778)}, Chats: []tg.ChatClass{gotdChannel()}, Date: 1_780_000_010, Seq: 7,
	}
	initConn := &tg.InvokeWithLayerRequest{Layer: 227, Query: &tg.InitConnectionRequest{APIID: 17349, DeviceModel: "gotd",
		SystemVersion: "linux", AppVersion: "0.160.0", SystemLangCode: "en", LangCode: "en", Query: &tg.HelpGetConfigRequest{}}}
	return map[string]bin.Object{
		"message with entities and media": gotdMessage(0),
		"user":                            gotdUser(777),
		"updates with users and chats":    upd,
		"updateShortMessage":              &tg.UpdateShortMessage{Out: true, ID: 5, UserID: 778, Message: "hi", Pts: 9, PtsCount: 1, Date: 1},
		"messages.dialogs": &tg.MessagesDialogs{Dialogs: []tg.DialogClass{dialog}, Messages: []tg.MessageClass{gotdMessage(5)},
			Chats: []tg.ChatClass{gotdChannel()}, Users: []tg.UserClass{gotdUser(778)}},
		"messages.messages (20)": gotdMessages(20),
		"config":                 cfg,
		"rpc_error":              &gmt.RPCError{ErrorCode: 420, ErrorMessage: "FLOOD_WAIT_31"},
		"invokeWithLayer(initConnection(help.getConfig))": initConn,
		"messages.sendMessage": &tg.MessagesSendMessageRequest{Peer: &tg.InputPeerUser{UserID: 778, AccessHash: 5}, Message: "hey",
			RandomID: 123456789, Entities: []tg.MessageEntityClass{&tg.MessageEntityItalic{Offset: 0, Length: 3}}},
	}
}

func TestSamplesAgainstGotd(t *testing.T) {
	for name, o := range gotdSamples() {
		fresh := func() bin.Object {
			if _, ok := o.(*tg.InvokeWithLayerRequest); ok {
				return &tg.InvokeWithLayerRequest{Query: &tg.InitConnectionRequest{Query: &tg.HelpGetConfigRequest{}}}
			}
			c := tg.TypesConstructorMap()[idOf(o)]
			if c == nil {
				c = gmt.TypesConstructorMap()[idOf(o)]
			}
			return c()
		}
		crossCheck(t, name, o, fresh)
	}
}

func idOf(o bin.Object) uint32 {
	var b bin.Buffer
	_ = o.Encode(&b)
	id, _ := b.PeekID()
	return id
}

// TestNativeValuesMatchGotd builds values with our types directly (not by decoding gotd bytes) and checks
// the encoding equals gotd's for the same logical value.
func TestNativeValuesMatchGotd(t *testing.T) {
	cases := []struct {
		name string
		ours tl.Object
		gotd bin.Encoder
	}{
		{"message", ourMessage(0), gotdMessage(0)},
		{"message no media", ourMessage(3), gotdMessage(3)},
		{"user", ourUser(777), gotdUser(777)},
		{"messages.messages (100)", ourMessages(100), gotdMessages(100)},
		{"rpc_error", &mt.RPCError{ErrorCode: 400, ErrorMessage: "PEER_ID_INVALID"}, &gmt.RPCError{ErrorCode: 400, ErrorMessage: "PEER_ID_INVALID"}},
		{"pong", &mt.Pong{MsgID: 5, PingID: 6}, &gmt.Pong{MsgID: 5, PingID: 6}},
		{"new_session_created", &mt.NewSessionCreated{FirstMsgID: 1, UniqueID: 2, ServerSalt: 3}, &gmt.NewSessionCreated{FirstMsgID: 1, UniqueID: 2, ServerSalt: 3}},
		{"resPQ", &mt.ResPQ{Nonce: tl.Int128{1}, ServerNonce: tl.Int128{2}, Pq: []byte{0x17, 0xed, 0x48, 0x94, 0x1a, 0x08, 0xf9, 0x81}, ServerPublicKeyFingerprints: []int64{-4344800451088585951}},
			&gmt.ResPQ{Nonce: bin.Int128{1}, ServerNonce: bin.Int128{2}, Pq: []byte{0x17, 0xed, 0x48, 0x94, 0x1a, 0x08, 0xf9, 0x81}, ServerPublicKeyFingerprints: []int64{-4344800451088585951}}},
		{"future_salts", &mt.FutureSalts{ReqMsgID: 9, Now: 10, Salts: []*mt.FutureSalt{{ValidSince: 1, ValidUntil: 2, Salt: 3}, {ValidSince: 2, ValidUntil: 3, Salt: 4}}},
			&gmt.FutureSalts{ReqMsgID: 9, Now: 10, Salts: []gmt.FutureSalt{{ValidSince: 1, ValidUntil: 2, Salt: 3}, {ValidSince: 2, ValidUntil: 3, Salt: 4}}}},
	}
	for _, c := range cases {
		got, err := tl.Marshal(c.ours)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var b bin.Buffer
		if err := c.gotd.Encode(&b); err != nil {
			t.Fatalf("%s: gotd: %v", c.name, err)
		}
		if !bytes.Equal(got, b.Buf) {
			t.Errorf("%s: bytes differ\n ours % x\n gotd % x", c.name, head(got), head(b.Buf))
		}
	}
}

// ourContainer is a msg_container of n rpc_results (alternating a message, an rpc_error and a Bool) plus an ack.
func ourContainer(n int) *mt.MsgContainer {
	c := &mt.MsgContainer{}
	for i := range n {
		var res tl.Object
		switch i % 3 {
		case 0:
			res = ourMessages(2)
		case 1:
			res = &mt.RPCError{ErrorCode: 400, ErrorMessage: "MESSAGE_ID_INVALID"}
		default:
			res = api.BoolOf(true)
		}
		c.Messages = append(c.Messages, mt.Message{MsgID: int64(0x6000000000000001 + 4*i), Seqno: int32(2*i + 1),
			Body: &mt.RPCResult{ReqMsgID: int64(0x5000000000000000 + 4*i), Result: res}})
	}
	return c
}

// gotdContainer builds the same container with gotd's proto package (results as raw bytes, as gotd does).
func gotdContainer(t testing.TB, n int) *proto.MessageContainer {
	c := &proto.MessageContainer{}
	for i := range n {
		var b bin.Buffer
		var res bin.Encoder
		switch i % 3 {
		case 0:
			res = gotdMessages(2)
		case 1:
			res = &gmt.RPCError{ErrorCode: 400, ErrorMessage: "MESSAGE_ID_INVALID"}
		default:
			res = &tg.BoolTrue{}
		}
		if err := res.Encode(&b); err != nil {
			t.Fatal(err)
		}
		r := proto.Result{RequestMessageID: int64(0x5000000000000000 + 4*i), Result: b.Buf}
		var body bin.Buffer
		if err := r.Encode(&body); err != nil {
			t.Fatal(err)
		}
		c.Messages = append(c.Messages, proto.Message{ID: int64(0x6000000000000001 + 4*i), SeqNo: 2*i + 1, Bytes: body.Len(), Body: body.Buf})
	}
	return c
}

func TestContainerAgainstGotd(t *testing.T) {
	ours, err := tl.Marshal(ourContainer(10))
	if err != nil {
		t.Fatal(err)
	}
	var gb bin.Buffer
	if err := gotdContainer(t, 10).Encode(&gb); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ours, gb.Buf) {
		t.Fatalf("container bytes differ\n ours % x\n gotd % x", head(ours), head(gb.Buf))
	}
	// gotd -> ours: decode through the registry, re-encode.
	o, err := tl.DecodeObject(gb.Buf, registry)
	if err != nil {
		t.Fatal(err)
	}
	c := o.(*mt.MsgContainer)
	if len(c.Messages) != 10 {
		t.Fatalf("%d messages", len(c.Messages))
	}
	if e, ok := c.Messages[1].Body.(*mt.RPCResult).Result.(*mt.RPCError); !ok || e.ErrorCode != 400 {
		t.Fatalf("message 1: %v", c.Messages[1].Body)
	}
	again, _ := tl.Marshal(c)
	if !bytes.Equal(again, gb.Buf) {
		t.Fatal("re-encoding of decoded container differs")
	}
	// ours -> gotd.
	var back proto.MessageContainer
	if err := back.Decode(&bin.Buffer{Buf: ours}); err != nil {
		t.Fatal(err)
	}
	for i, m := range back.Messages {
		var r proto.Result
		if err := r.Decode(&bin.Buffer{Buf: m.Body}); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if i%3 == 0 {
			var mm tg.MessagesMessages
			if err := mm.Decode(&bin.Buffer{Buf: r.Result}); err != nil || len(mm.Messages) != 2 {
				t.Fatalf("message %d result: %v", i, err)
			}
		}
	}
	// gzip_packed result, as a server sends large answers: gotd unpacks our gzip.
	gz, err := tl.Gzip(ourMessages(50))
	if err != nil {
		t.Fatal(err)
	}
	rb, _ := tl.Marshal(&mt.RPCResult{ReqMsgID: 1, Result: gz})
	var r proto.Result
	if err := r.Decode(&bin.Buffer{Buf: rb}); err != nil {
		t.Fatal(err)
	}
	var g proto.GZIP
	if err := g.Decode(&bin.Buffer{Buf: r.Result}); err != nil {
		t.Fatal(err)
	}
	var mm tg.MessagesMessages
	if err := mm.Decode(&bin.Buffer{Buf: g.Data}); err != nil || len(mm.Messages) != 50 {
		t.Fatalf("gzip result: %v", err)
	}
	// gotd's gzip -> our transparent unpack.
	var plain bin.Buffer
	_ = gotdMessages(3).Encode(&plain)
	var packed bin.Buffer
	if err := (proto.GZIP{Data: plain.Buf}).Encode(&packed); err != nil {
		t.Fatal(err)
	}
	o, err = tl.DecodeObject(packed.Buf, registry)
	if err != nil {
		t.Fatal(err)
	}
	if mm, ok := o.(*api.MessagesMessages); !ok || len(mm.Messages) != 3 {
		t.Fatalf("gotd gzip: %v", o)
	}
}
