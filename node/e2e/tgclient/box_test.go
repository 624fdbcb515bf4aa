package tgclient

import (
	"slices"
	"testing"

	"github.com/gotd/td/tg"
)

func short(id, pts int, text string) *tg.UpdateShortMessage {
	return &tg.UpdateShortMessage{ID: id, UserID: 7, Message: text, Pts: pts, PtsCount: 1}
}

// TestBoxOrdersByPts: events apply in pts order whatever order they arrive in, duplicates are dropped, a gap
// holds later events back, and a message id seen with two texts is a problem.
func TestBoxOrdersByPts(t *testing.T) {
	b := NewBoxAt(10, 0)
	b.Push(short(2, 12, "two")) // gap: 11 missing
	if b.Pts() != 10 || b.Pending() != 1 || len(b.Messages(7)) != 0 {
		t.Fatalf("gap applied: pts %d pending %d", b.Pts(), b.Pending())
	}
	b.Push(&tg.Updates{Updates: []tg.UpdateClass{&tg.UpdateNewMessage{
		Message: &tg.Message{ID: 1, PeerID: &tg.PeerUser{UserID: 7}, Message: "one"}, Pts: 11, PtsCount: 1}}})
	if b.Pts() != 12 || b.Pending() != 0 {
		t.Fatalf("gap not closed: pts %d pending %d", b.Pts(), b.Pending())
	}
	b.Push(short(1, 11, "one")) // duplicate
	var texts []string
	for _, m := range b.Messages(7) {
		texts = append(texts, m.Text)
	}
	if !slices.Equal(texts, []string{"one", "two"}) || len(b.Problems()) != 0 {
		t.Fatalf("messages %v problems %v", texts, b.Problems())
	}
	if !b.Pushed(1) || !b.Pushed(2) || b.Pushes() != 3 {
		t.Fatalf("pushes %d", b.Pushes())
	}
	b.Push(short(1, 11, "other")) // same id and pts, another text: a server bug
	if len(b.Problems()) != 1 {
		t.Fatalf("problems %v", b.Problems())
	}
}

func TestSentEvent(t *testing.T) {
	e, ok := SentEvent(&tg.UpdateShortSentMessage{ID: 5, Pts: 3, PtsCount: 1}, 9, "hi")
	if !ok || e.Msg.ID != 5 || e.Msg.Peer != 9 || e.Msg.Text != "hi" || !e.Msg.Out || e.Pts != 3 {
		t.Fatalf("%+v %+v", e, e.Msg)
	}
	if _, ok := SentEvent(&tg.Updates{}, 9, "hi"); ok {
		t.Fatal("event from an empty result")
	}
	// Events without pts (typing) are left out; other pts updates are kept without a message.
	evs := Events(&tg.Updates{Updates: []tg.UpdateClass{&tg.UpdateUserTyping{UserID: 1, Action: &tg.SendMessageTypingAction{}},
		&tg.UpdateReadHistoryOutbox{Peer: &tg.PeerUser{UserID: 1}, MaxID: 3, Pts: 8, PtsCount: 1}}})
	if len(evs) != 1 || evs[0].Pts != 8 || evs[0].Msg != nil {
		t.Fatalf("%+v", evs)
	}
}
