package messages

import (
	"context"
	"fmt"

	"github.com/raftgram/raftgram/fsm/box"
	"github.com/raftgram/raftgram/node/handler"
	"github.com/raftgram/raftgram/tl"
	"github.com/raftgram/raftgram/tl/api"
)

// Limits clients see as errors.
const (
	maxMessageLen  = 4096
	maxEntitiesLen = 64 << 10
)

var errMessageTooLong = handler.BadRequest("MESSAGE_TOO_LONG")

// encodeEntities stores a request's entities canonically: a layer-227 TL vector (the box keeps it opaque).
func encodeEntities(es []api.MessageEntityClass) ([]byte, error) {
	if len(es) == 0 {
		return nil, nil
	}
	if len(es) > 1000 {
		return nil, handler.BadRequest("ENTITIES_TOO_LONG")
	}
	var e tl.Encoder
	e.PutVectorHeader(len(es))
	for _, x := range es {
		e.PutObject(x)
	}
	if err := e.Err(); err != nil {
		return nil, handler.BadRequest("ENTITY_BOUNDS_INVALID")
	}
	if len(e.Bytes()) > maxEntitiesLen {
		return nil, handler.BadRequest("ENTITIES_TOO_LONG")
	}
	return append([]byte(nil), e.Bytes()...), nil
}

func decodeEntities(b []byte) []api.MessageEntityClass {
	if len(b) == 0 {
		return nil
	}
	d := tl.NewDecoder(b, nil)
	n := d.VectorLen(8)
	out := make([]api.MessageEntityClass, 0, n)
	for range n {
		x := api.DecodeMessageEntityClass(d)
		if d.Err() != nil {
			return nil
		}
		out = append(out, x)
	}
	return out
}

func peerUser(id int64) *api.PeerUser { return &api.PeerUser{UserID: id} }

// encodeMedia stores a message's media canonically: a layer-227 TL object (the box keeps it opaque).
func encodeMedia(x api.MessageMediaClass) ([]byte, error) {
	var e tl.Encoder
	e.PutObject(x)
	if err := e.Err(); err != nil {
		return nil, err
	}
	return append([]byte(nil), e.Bytes()...), nil
}

func decodeMedia(b []byte) api.MessageMediaClass {
	if len(b) == 0 {
		return nil
	}
	d := tl.NewDecoder(b, nil)
	x := api.DecodeMessageMediaClass(d)
	if d.Err() != nil {
		return nil
	}
	return x
}

// apiMessage is m as its box owner sees it.
func apiMessage(m *box.Message) *api.Message {
	am := &api.Message{ID: m.ID, Out: m.Out, Silent: m.Silent, Date: m.Date, Message: m.Text,
		PeerID: peerUser(m.Peer), FromID: peerUser(m.From), Entities: decodeEntities(m.Entities),
		Media: decodeMedia(m.Media)}
	if m.ReplyTo > 0 {
		am.ReplyTo = &api.MessageReplyHeader{ReplyToMsgID: tl.Ptr(m.ReplyTo)}
	}
	if m.FwdFrom != 0 {
		am.FwdFrom = &api.MessageFwdHeader{FromID: peerUser(m.FwdFrom), Date: m.FwdDate}
	}
	if m.EditDate != 0 {
		am.EditDate = tl.Ptr(m.EditDate)
	}
	if m.GroupedID != 0 {
		am.GroupedID = tl.Ptr(m.GroupedID)
	}
	return am
}

func apiDraft(d *box.Draft) api.DraftMessageClass {
	if d == nil {
		return nil
	}
	out := &api.DraftMessage{Message: d.Text, Date: d.Date, NoWebpage: d.NoWebpage, Entities: decodeEntities(d.Entities)}
	if d.ReplyTo > 0 {
		out.ReplyTo = &api.InputReplyToMessage{ReplyToMsgID: d.ReplyTo}
	}
	return out
}

func apiDialog(d *box.Dialog) *api.Dialog {
	return &api.Dialog{Pinned: d.Pinned, UnreadMark: d.UnreadMark, Peer: peerUser(d.Peer), TopMessage: d.Top,
		ReadInboxMaxID: d.ReadIn, ReadOutboxMaxID: d.ReadOut, UnreadCount: d.Unread,
		NotifySettings: &api.PeerNotifySettings{}, Draft: apiDraft(d.Draft)}
}

// shortMessage is how a new private message is pushed (as Telegram does): no users needed.
func shortMessage(m *box.Message, pts int32) *api.UpdateShortMessage {
	u := &api.UpdateShortMessage{Out: m.Out, Silent: m.Silent, ID: m.ID, UserID: m.Peer, Message: m.Text, Pts: pts,
		PtsCount: 1, Date: m.Date, Entities: decodeEntities(m.Entities)}
	if m.ReplyTo > 0 {
		u.ReplyTo = &api.MessageReplyHeader{ReplyToMsgID: tl.Ptr(m.ReplyTo)}
	}
	if m.FwdFrom != 0 {
		u.FwdFrom = &api.MessageFwdHeader{FromID: peerUser(m.FwdFrom), Date: m.FwdDate}
	}
	return u
}

// logUpdate turns a box update log entry into the API update (msgs: the messages it may name, by id).
func logUpdate(u *box.Update, msgs map[int32]*box.Message) api.UpdateClass {
	switch u.Kind {
	case box.UpdNewMessage:
		return &api.UpdateNewMessage{Message: messageOrEmpty(u, msgs), Pts: u.Pts, PtsCount: u.Count}
	case box.UpdEditMessage:
		return &api.UpdateEditMessage{Message: messageOrEmpty(u, msgs), Pts: u.Pts, PtsCount: u.Count}
	case box.UpdDeleteMessages:
		return &api.UpdateDeleteMessages{Messages: nonNil(u.IDs), Pts: u.Pts, PtsCount: u.Count}
	case box.UpdReadInbox:
		return &api.UpdateReadHistoryInbox{Peer: peerUser(u.Peer), MaxID: u.MsgID, StillUnreadCount: u.Still,
			Pts: u.Pts, PtsCount: u.Count}
	case box.UpdReadOutbox:
		return &api.UpdateReadHistoryOutbox{Peer: peerUser(u.Peer), MaxID: u.MsgID, Pts: u.Pts, PtsCount: u.Count}
	}
	return nil
}

// messageOrEmpty is the message an update names, or messageEmpty once it was deleted: the update still
// accounts for its pts, so a client's pts add up.
func messageOrEmpty(u *box.Update, msgs map[int32]*box.Message) api.MessageClass {
	if m := msgs[u.MsgID]; m != nil {
		return apiMessage(m)
	}
	return &api.MessageEmpty{ID: u.MsgID, PeerID: peerUser(u.Peer)}
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// pushUpdate pushes one update of owner's log to owner's sessions except one. A message whose text the
// caller did not fill is pushed as is.
func (m *Domain) pushUpdate(ctx context.Context, owner, except int64, u *box.Update, msg *box.Message) {
	switch u.Kind {
	case box.UpdNone:
		return
	case box.UpdNewMessage:
		if msg != nil {
			m.pushNew(ctx, owner, except, msg, u.Pts)
		}
		return
	case box.UpdEditMessage:
		if msg == nil {
			return
		}
		up := logUpdate(u, map[int32]*box.Message{msg.ID: msg})
		m.push(ctx, owner, except, &api.Updates{Updates: []api.UpdateClass{up},
			Users: m.users(ctx, owner, []int64{msg.Peer, msg.From}), Chats: []api.ChatClass{}, Date: m.now()})
		return
	}
	if up := logUpdate(u, nil); up != nil {
		m.push(ctx, owner, except, &api.UpdateShort{Update: up, Date: m.now()})
	}
}

// pushNew pushes a new message to its box owner's sessions except one: updateShortMessage as Telegram does,
// or, for a message with media (which the short form cannot carry), updates with updateNewMessage.
func (m *Domain) pushNew(ctx context.Context, owner, except int64, msg *box.Message, pts int32) {
	if len(msg.Media) == 0 {
		m.push(ctx, owner, except, shortMessage(msg, pts))
		return
	}
	m.push(ctx, owner, except, &api.Updates{
		Updates: []api.UpdateClass{&api.UpdateNewMessage{Message: apiMessage(msg), Pts: pts, PtsCount: 1}},
		Users:   m.users(ctx, owner, []int64{msg.Peer, msg.From}), Chats: []api.ChatClass{}, Date: m.now()})
}

// pushApplied pushes what an event did to another box (same shard or delivered by the relay).
func (m *Domain) pushApplied(ctx context.Context, a *box.Applied) {
	m.pushUpdate(ctx, a.Owner, 0, &a.Update, a.Msg)
}

// onDelivered is the relay's callback: new messages get their text back from the outbox items.
func (m *Domain) onDelivered(ctx context.Context, items []box.Item, applied []box.Applied) {
	bySeq := make(map[uint64]*box.Event, len(items))
	for i := range items {
		bySeq[items[i].Seq] = &items[i].Event
	}
	for i := range applied {
		a := &applied[i]
		if a.Update.Kind == box.UpdNewMessage && a.Msg != nil {
			if ev := bySeq[a.Seq]; ev != nil {
				a.Msg.Text, a.Msg.Entities, a.Msg.Media, a.Msg.GroupedID = ev.Text, ev.Entities, ev.Media, ev.GroupedID
			}
		}
		m.pushApplied(ctx, a)
	}
}

// SendService implements handler.ServiceMessages: a message from 777000 into userID's box, pushed to every
// session of the user.
func (m *Domain) SendService(ctx context.Context, userID int64, text string) error {
	if userID <= 0 {
		return fmt.Errorf("messages: service message to user %d", userID)
	}
	res, err := m.propose(ctx, userID, (&box.Inject{Owner: userID, From: handler.ServiceUserID, Text: text}).Command())
	if err != nil {
		return err
	}
	if len(res.Msgs) == 1 && len(res.Updates) == 1 {
		m.pushUpdate(ctx, userID, 0, &res.Updates[0], &res.Msgs[0])
	}
	return nil
}
