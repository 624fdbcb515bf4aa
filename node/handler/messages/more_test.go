package messages_test

import (
	"context"
	"testing"
	"time"

	"github.com/gotd/td/tg"

	"github.com/raftgram/raftgram/node/handler"
)

// TestDialogFeatures: forward, search, drafts, pins, unread marks, typing, getMessages, getPeerDialogs,
// deleteHistory, Saved Messages and a service message from 777000, through a real gotd client.
func TestDialogFeatures(t *testing.T) {
	c := startCluster(t, 3)
	a, b := usersOnShards(3)
	a1, b1 := c.device(t, a), c.device(t, b)
	ctx := func() context.Context { return a1.ctx() }

	m1 := a1.send(c, b, 1, "first apple")
	a1.send(c, b, 2, "second banana")
	m3 := a1.send(c, b, 3, "third apple pie")
	saved := a1.send(c, a, 4, "note to self")
	if saved.ID != 4 {
		t.Fatalf("saved message id %d", saved.ID)
	}

	// Search inside the dialog.
	res, err := a1.api.MessagesSearch(ctx(), &tg.MessagesSearchRequest{Peer: c.peer(a, b), Q: "APPLE",
		Filter: &tg.InputMessagesFilterEmpty{}, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if mm, _ := res.AsModified(); len(mm.GetMessages()) != 2 || mm.GetMessages()[0].GetID() != m3.ID {
		t.Fatalf("search: %+v", res)
	}

	// Forward two messages to Saved Messages: new ids, forward headers, updateMessageID per random id.
	fw, err := a1.api.MessagesForwardMessages(ctx(), &tg.MessagesForwardMessagesRequest{FromPeer: c.peer(a, b),
		ID: []int{m1.ID, m3.ID}, RandomID: []int64{41, 42}, ToPeer: &tg.InputPeerSelf{}})
	if err != nil {
		t.Fatal(err)
	}
	ups := fw.(*tg.Updates)
	var ids, fwds int
	for _, u := range ups.Updates {
		switch x := u.(type) {
		case *tg.UpdateMessageID:
			ids++
		case *tg.UpdateNewMessage:
			if m := x.Message.(*tg.Message); m.FwdFrom.FromID.(*tg.PeerUser).UserID == a {
				fwds++
			}
		}
	}
	if ids != 2 || fwds != 2 {
		t.Fatalf("forward: %d ids, %d forwarded messages: %+v", ids, fwds, ups)
	}

	// getMessages: existing and missing ids.
	gm, err := a1.api.MessagesGetMessages(ctx(), []tg.InputMessageClass{&tg.InputMessageID{ID: m1.ID},
		&tg.InputMessageID{ID: 999}})
	if err != nil {
		t.Fatal(err)
	}
	if mm, _ := gm.AsModified(); len(mm.GetMessages()) != 2 {
		t.Fatalf("getMessages: %+v", gm)
	} else if _, ok := mm.GetMessages()[1].(*tg.MessageEmpty); !ok {
		t.Fatalf("missing id: %T", mm.GetMessages()[1])
	}

	// Draft, pin and unread mark show in getPeerDialogs; B sees A typing.
	if _, err := b1.api.MessagesSaveDraft(b1.ctx(), &tg.MessagesSaveDraftRequest{Peer: c.peer(b, a), Message: "draft"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b1.api.MessagesToggleDialogPin(b1.ctx(), &tg.MessagesToggleDialogPinRequest{Pinned: true,
		Peer: &tg.InputDialogPeer{Peer: c.peer(b, a)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := b1.api.MessagesMarkDialogUnread(b1.ctx(), &tg.MessagesMarkDialogUnreadRequest{Unread: true,
		Peer: &tg.InputDialogPeer{Peer: c.peer(b, a)}}); err != nil {
		t.Fatal(err)
	}
	if marks, err := b1.api.MessagesGetDialogUnreadMarks(b1.ctx(), &tg.MessagesGetDialogUnreadMarksRequest{}); err != nil ||
		len(marks) != 1 || marks[0].(*tg.DialogPeer).Peer.(*tg.PeerUser).UserID != a {
		t.Fatalf("getDialogUnreadMarks of B: %+v %v", marks, err)
	}
	if sh, err := b1.api.MessagesGetScheduledHistory(b1.ctx(), &tg.MessagesGetScheduledHistoryRequest{Peer: c.peer(b, a)}); err != nil {
		t.Fatalf("getScheduledHistory: %v", err)
	} else if mm, ok := sh.(*tg.MessagesMessages); !ok || len(mm.Messages) != 0 {
		t.Fatalf("getScheduledHistory: %+v", sh)
	}
	if marks, err := a1.api.MessagesGetDialogUnreadMarks(ctx(), &tg.MessagesGetDialogUnreadMarksRequest{}); err != nil ||
		len(marks) != 0 {
		t.Fatalf("getDialogUnreadMarks of A: %+v %v", marks, err)
	}
	pd, err := b1.api.MessagesGetPeerDialogs(b1.ctx(), []tg.InputDialogPeerClass{&tg.InputDialogPeer{Peer: c.peer(b, a)}})
	if err != nil {
		t.Fatal(err)
	}
	d := pd.Dialogs[0].(*tg.Dialog)
	if dr, ok := d.Draft.(*tg.DraftMessage); !ok || dr.Message != "draft" || !d.Pinned || !d.UnreadMark ||
		d.UnreadCount != 3 || d.TopMessage != 3 || pd.State.Pts != 3 {
		t.Fatalf("peer dialog: %+v state %+v", d, pd.State)
	}
	pinned, err := b1.api.MessagesGetPinnedDialogs(b1.ctx(), 0)
	if err != nil || len(pinned.Dialogs) != 1 || !pinned.Dialogs[0].(*tg.Dialog).Pinned {
		t.Fatalf("pinned dialogs: %+v %v", pinned, err)
	}
	if _, err := b1.api.MessagesMarkDialogUnread(b1.ctx(), &tg.MessagesMarkDialogUnreadRequest{Unread: false,
		Peer: &tg.InputDialogPeer{Peer: c.peer(b, a)}}); err != nil {
		t.Fatal(err)
	}
	if marks, err := b1.api.MessagesGetDialogUnreadMarks(b1.ctx(), &tg.MessagesGetDialogUnreadMarksRequest{}); err != nil ||
		len(marks) != 0 {
		t.Fatalf("getDialogUnreadMarks after unmarking: %+v %v", marks, err)
	}
	if _, err := a1.api.MessagesSetTyping(ctx(), &tg.MessagesSetTypingRequest{Peer: c.peer(a, b),
		Action: &tg.SendMessageTypingAction{}}); err != nil {
		t.Fatal(err)
	}
	b1.waitUpdate(func(u tg.UpdateClass) bool {
		ty, ok := u.(*tg.UpdateUserTyping)
		return ok && ty.UserID == a
	})

	// A service message (login codes) lands in B's box from 777000 and is pushed.
	if err := c.m.Services().ServiceMessages.SendService(ctx(), b, "Login code: 12345"); err != nil {
		t.Fatal(err)
	}
	sm := b1.waitNew(func(m newMsg) bool { return m.Message.Message == "Login code: 12345" })
	if sm.FromID.(*tg.PeerUser).UserID != handler.ServiceUserID || sm.Out {
		t.Fatalf("service message: %+v", sm)
	}

	// deleteHistory with revoke clears both sides; the dialog leaves A's list.
	ah, err := a1.api.MessagesDeleteHistory(ctx(), &tg.MessagesDeleteHistoryRequest{Peer: c.peer(a, b), Revoke: true})
	if err != nil || ah.PtsCount != 3 || ah.Offset != 0 {
		t.Fatalf("deleteHistory: %+v %v", ah, err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(b1.history(c, a)) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("B's copy not revoked")
		}
		time.Sleep(20 * time.Millisecond)
	}
	dl, err := a1.api.MessagesGetDialogs(ctx(), &tg.MessagesGetDialogsRequest{OffsetPeer: &tg.InputPeerEmpty{}, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if ds := dl.(*tg.MessagesDialogs); len(ds.Dialogs) != 1 || ds.Dialogs[0].(*tg.Dialog).Peer.(*tg.PeerUser).UserID != a {
		t.Fatalf("A's dialogs after deleteHistory: %+v", dl)
	}
}
