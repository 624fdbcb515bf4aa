package session

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"github.com/raftgram/raftgram/gateway/crypto"
	"github.com/raftgram/raftgram/tl"
	"github.com/raftgram/raftgram/tl/api"
	"github.com/raftgram/raftgram/tl/mt"
)

// serverBodies decrypts every frame sent to c and returns the message bodies (containers opened).
func serverBodies(t *testing.T, k *Key, c *fakeConn) [][]byte {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	var out [][]byte
	for _, fr := range c.frames {
		m, _, err := crypto.DecryptMessage(&k.Auth, crypto.ServerToClient, append([]byte(nil), fr...))
		if err != nil {
			t.Fatal(err)
		}
		b := m.Body
		if binary.LittleEndian.Uint32(b) != mt.MsgContainerTypeID {
			out = append(out, b)
			continue
		}
		n := int(binary.LittleEndian.Uint32(b[4:]))
		b = b[8:]
		for range n {
			size := int(binary.LittleEndian.Uint32(b[12:]))
			out = append(out, b[16:16+size])
			b = b[16+size:]
		}
	}
	return out
}

// resultOf returns the result bytes of the rpc_result answering msgID (gzip unpacked).
func resultOf(t *testing.T, bodies [][]byte, msgID int64) []byte {
	t.Helper()
	for _, b := range bodies {
		if binary.LittleEndian.Uint32(b) == mt.RPCResultTypeID && int64(binary.LittleEndian.Uint64(b[4:])) == msgID {
			res := b[rpcResultHeader:]
			if binary.LittleEndian.Uint32(res) == tl.GzipPackedID {
				d := tl.NewDecoder(res[4:], nil)
				plain, err := tl.Gunzip(d.Bytes(), 1<<20)
				if err != nil {
					t.Fatal(err)
				}
				return plain
			}
			return res
		}
	}
	t.Fatalf("no rpc_result for %d", msgID)
	return nil
}

// layerSession opens a session whose client announced layer (invokeWithLayer around help.getConfig) and
// returns the request the dispatcher got.
func layerSession(t *testing.T, layer int32) (*Manager, *Key, *fakeConn, *Session, Request) {
	now := time.Unix(1_800_000_000, 0)
	m, k, d := newTestManager(t, now)
	m.opts.GzipMin = 1 << 20 // results here stay plain; TestLayerResultGzip covers gzip
	c := &fakeConn{id: 1}
	body, err := tl.Marshal(&api.InvokeWithLayerRequest{Layer: layer, Query: &api.HelpGetConfigRequest{}})
	if err != nil {
		t.Fatal(err)
	}
	m.Handle(c, k, crypto.Message{Salt: m.opts.Salts.Current(k.Auth.ID, now), SessionID: 5, MsgID: now.Unix() << 32, SeqNo: 1, Body: body})
	if len(d.reqs) != 1 || d.reqs[0].Layer != int(layer) {
		t.Fatalf("dispatched %v", d.reqs)
	}
	return m, k, c, m.Sessions(k.Auth.ID)[0], d.reqs[0]
}

func sampleUser() *api.User {
	return &api.User{Self: true, ID: 7, AccessHash: tl.Ptr(int64(1)), FirstName: tl.Ptr("Ann"),
		Status: &api.UserStatusRecently{ByMe: true}, StoriesMaxID: &api.RecentStory{MaxID: tl.Ptr(int32(2))}}
}

// TestReplyCanonicalUnchanged: a layer-227 client (and one that announced nothing) gets exactly the
// canonical rpc_result bytes.
func TestReplyCanonicalUnchanged(t *testing.T) {
	for _, layer := range []int32{227, 0} {
		_, k, c, s, req := layerSession(t, layer)
		res := &api.AuthAuthorization{User: sampleUser()}
		s.Reply(req.MsgID, res, nil)
		want, _ := tl.Marshal(&mt.RPCResult{ReqMsgID: req.MsgID, Result: res})
		found := false
		for _, b := range serverBodies(t, k, c) {
			found = found || bytes.Equal(b, want)
		}
		if !found {
			t.Fatalf("layer %d: canonical rpc_result not sent byte for byte", layer)
		}
	}
}

// TestReplyOldLayer: the result is written in the announced layer's forms.
func TestReplyOldLayer(t *testing.T) {
	for _, layer := range []int32{223, 198, 170} {
		m, k, c, s, req := layerSession(t, layer)
		res := &api.AuthAuthorization{User: sampleUser()}
		s.Reply(req.MsgID, res, nil)
		got := resultOf(t, serverBodies(t, k, c), req.MsgID)
		want := tl.NewEncoder(nil)
		if err := api.EncodeLayer(want, res, api.LayerFor(int(layer))); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("layer %d: result % x, want % x", layer, got, want.Bytes())
		}
		ids, _ := api.LayerIDs("user")
		if uid := binary.LittleEndian.Uint32(got[8:]); uid != ids[api.LayerFor(int(layer))] {
			t.Fatalf("layer %d: user written as %08x", layer, uid)
		}
		if m.Metrics().Unprojectable.Load() != 0 {
			t.Fatal("counted as unprojectable")
		}
	}
}

// TestReplyNotInLayer: a result the layer cannot hold becomes rpc_error 500 naming the layer.
func TestReplyNotInLayer(t *testing.T) {
	m, k, c, s, req := layerSession(t, 170)
	// A reply to a story: layer 170's messageReplyStoryHeader needs a user_id the canonical peer does not give.
	res := &api.MessagesMessages{Messages: []api.MessageClass{&api.MessageService{ID: 1, PeerID: &api.PeerUser{UserID: 1},
		Action: &api.MessageActionEmpty{}, ReplyTo: &api.MessageReplyStoryHeader{Peer: &api.PeerUser{UserID: 1}, StoryID: 1}}},
		Topics: []api.ForumTopicClass{}, Chats: []api.ChatClass{}, Users: []api.UserClass{}}
	s.Reply(req.MsgID, res, nil)
	got := resultOf(t, serverBodies(t, k, c), req.MsgID)
	var e mt.RPCError
	if err := tl.Unmarshal(got, &e); err != nil || e.ErrorCode != 500 || e.ErrorMessage != "RESULT_NOT_IN_LAYER_170" {
		t.Fatalf("got %v %v", e, err)
	}
	if m.Metrics().Unprojectable.Load() != 1 {
		t.Fatal("not counted")
	}
}

// TestPushOldLayer: pushes are projected; one that cannot be is dropped (the client catches up through
// getDifference), and new-only updates leave the vector.
func TestPushOldLayer(t *testing.T) {
	m, k, c, s, _ := layerSession(t, 170)
	before := len(serverBodies(t, k, c))
	s.Push(&api.UpdateShort{Update: &api.UpdateBotGuestChatQuery{QueryID: 1, Message: &api.MessageEmpty{ID: 1}}, Date: 1})
	if n := len(serverBodies(t, k, c)); n != before || m.Metrics().Unprojectable.Load() != 1 {
		t.Fatalf("unprojectable push sent (%d bodies, was %d)", n, before)
	}
	ups := &api.Updates{Updates: []api.UpdateClass{
		&api.UpdateUserStatus{UserID: 7, Status: &api.UserStatusRecently{ByMe: true}},
		&api.UpdateBotGuestChatQuery{QueryID: 1, Message: &api.MessageEmpty{ID: 1}},
	}, Users: []api.UserClass{sampleUser()}, Chats: []api.ChatClass{}, Date: 3}
	s.Push(ups)
	bodies := serverBodies(t, k, c)
	if len(bodies) != before+1 {
		t.Fatalf("%d bodies after a push, want %d", len(bodies), before+1)
	}
	want := tl.NewEncoder(nil)
	if err := api.EncodeLayer(want, ups, api.L170); err != nil {
		t.Fatal(err)
	}
	if got := bodies[len(bodies)-1]; !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("push % x, want % x", got, want.Bytes())
	}
	// The update vector holds one element: the new-only update was left out.
	if n := binary.LittleEndian.Uint32(want.Bytes()[8:]); n != 1 {
		t.Fatalf("updates count %d", n)
	}
}

// TestLayerResultGzip: a large projected result is gzip_packed and unpacks to the projected bytes.
func TestLayerResultGzip(t *testing.T) {
	_, k, c, s, req := layerSession(t, 198)
	s.m.opts.GzipMin = 64
	users := make([]api.UserClass, 50)
	for i := range users {
		users[i] = sampleUser()
	}
	res := &api.UserClassVector{Elems: users}
	s.Reply(req.MsgID, res, nil)
	bodies := serverBodies(t, k, c)
	gz := false
	for _, b := range bodies {
		gz = gz || len(b) > 16 && binary.LittleEndian.Uint32(b) == mt.RPCResultTypeID && binary.LittleEndian.Uint32(b[12:]) == tl.GzipPackedID
	}
	if !gz {
		t.Fatal("large result not gzip_packed")
	}
	got := resultOf(t, bodies, req.MsgID)
	want := tl.NewEncoder(nil)
	if err := api.EncodeLayer(want, res, api.L198); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatal("gzip_packed result differs from the projection")
	}
}

// TestReplyChangedResult: messages.getDialogFilters#f19ed96d (layer 170) returned Vector<DialogFilter>; the
// handler's messages.dialogFilters is answered as that vector.
func TestReplyChangedResult(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	m, k, d := newTestManager(t, now)
	c := &fakeConn{id: 1}
	e := tl.NewEncoder(nil)
	e.PutID(api.InvokeWithLayerRequestTypeID)
	e.PutInt(170)
	e.PutID(0xf19ed96d)
	m.Handle(c, k, crypto.Message{Salt: m.opts.Salts.Current(k.Auth.ID, now), SessionID: 5, MsgID: now.Unix() << 32, SeqNo: 1, Body: e.Bytes()})
	if len(d.reqs) != 1 || tl.WireID(d.reqs[0].Query) != 0xf19ed96d {
		t.Fatalf("dispatched %v", d.reqs)
	}
	s := m.Sessions(k.Auth.ID)[0]
	s.Reply(d.reqs[0].MsgID, &api.MessagesDialogFilters{TagsEnabled: true, Filters: []api.DialogFilterClass{&api.DialogFilterDefault{}}}, nil)
	got := resultOf(t, serverBodies(t, k, c), d.reqs[0].MsgID)
	want := []byte{0x15, 0xc4, 0xb5, 0x1c, 1, 0, 0, 0, 0xae, 0x93, 0x32, 0x36} // vector of one dialogFilterDefault#363293ae
	if !bytes.Equal(got, want) {
		t.Fatalf("result % x, want % x", got, want)
	}
}
