package tgclient

import (
	"github.com/gotd/td/tg"
)

// Msg is a private-chat message as one user's box holds it.
type Msg struct {
	ID   int
	Peer int64 // the other user of the dialog (the user's own id in Saved Messages)
	Out  bool
	Text string
	Date int
}

// Event is one change of a user's box with its pts range (Pts-PtsCount, Pts]; Msg is set for a new message.
type Event struct {
	Pts, PtsCount int
	Name          string
	Msg           *Msg
}

type ptsUpdate interface {
	GetPts() int
	GetPtsCount() int
	TypeName() string
}

// Events flattens an updates container (pushed, or returned by a method) into its pts events, in order.
// Updates without pts (typing, status) are left out. UpdateShortSentMessage has no text or peer: the caller
// fills them in (SentEvent).
func Events(u tg.UpdatesClass) []Event {
	switch u := u.(type) {
	case *tg.UpdateShortMessage:
		return []Event{{Pts: u.Pts, PtsCount: u.PtsCount, Name: "updateShortMessage",
			Msg: &Msg{ID: u.ID, Peer: u.UserID, Out: u.Out, Text: u.Message, Date: u.Date}}}
	case *tg.UpdateShortSentMessage:
		return []Event{{Pts: u.Pts, PtsCount: u.PtsCount, Name: "updateShortSentMessage",
			Msg: &Msg{ID: u.ID, Out: true, Date: u.Date}}}
	case *tg.UpdateShort:
		return updateEvents(nil, u.Update)
	case *tg.Updates:
		var out []Event
		for _, x := range u.Updates {
			out = updateEvents(out, x)
		}
		return out
	case *tg.UpdatesCombined:
		var out []Event
		for _, x := range u.Updates {
			out = updateEvents(out, x)
		}
		return out
	}
	return nil
}

func updateEvents(out []Event, u tg.UpdateClass) []Event {
	switch u := u.(type) {
	case *tg.UpdateNewMessage:
		return append(out, Event{Pts: u.Pts, PtsCount: u.PtsCount, Name: "updateNewMessage", Msg: MsgOf(u.Message)})
	case ptsUpdate:
		if u.GetPts() == 0 {
			return out
		}
		return append(out, Event{Pts: u.GetPts(), PtsCount: u.GetPtsCount(), Name: u.TypeName()})
	}
	return out
}

// MsgOf converts a message of a private chat; nil for anything else.
func MsgOf(m tg.MessageClass) *Msg {
	switch m := m.(type) {
	case *tg.Message:
		return &Msg{ID: m.ID, Peer: peerUser(m.PeerID), Out: m.Out, Text: m.Message, Date: m.Date}
	case *tg.MessageService:
		return &Msg{ID: m.ID, Peer: peerUser(m.PeerID), Out: m.Out, Date: m.Date}
	}
	return nil
}

func peerUser(p tg.PeerClass) int64 {
	if u, ok := p.(*tg.PeerUser); ok {
		return u.UserID
	}
	return 0
}

// SentEvent is the sender's own event from sendMessage's result (any shape), with the text and peer the
// caller sent; ok is false if the result holds no new message.
func SentEvent(res tg.UpdatesClass, peer int64, text string) (Event, bool) {
	for _, e := range Events(res) {
		if e.Msg == nil {
			continue
		}
		m := *e.Msg
		m.Out = true
		if m.Text == "" {
			m.Text = text
		}
		if m.Peer == 0 {
			m.Peer = peer
		}
		e.Msg = &m
		return e, true
	}
	return Event{}, false
}
