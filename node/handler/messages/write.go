package messages

import (
	"context"
	"encoding/binary"
	"strings"
	"unicode/utf8"

	"github.com/raftgram/raftgram/fsm/box"
	"github.com/raftgram/raftgram/node/handler"
	"github.com/raftgram/raftgram/tl"
	"github.com/raftgram/raftgram/tl/api"
)

func replyID(r api.InputReplyToClass) int32 {
	if m, ok := r.(*api.InputReplyToMessage); ok && m.ReplyToMsgID > 0 {
		return m.ReplyToMsgID
	}
	return 0
}

func checkText(text string) error {
	if strings.TrimSpace(text) == "" {
		return handler.ErrMessageEmpty
	}
	if utf8.RuneCountInString(text) > maxMessageLen {
		return errMessageTooLong
	}
	return nil
}

// sendMessage: one Propose into the sender's shard. The answer is updateShortSentMessage (as Telegram answers
// for private chats); the sender's other sessions and the recipient (same shard now, other shards through the
// relay) get pushes.
func (m *Domain) sendMessage(ctx context.Context, c *handler.Call, req *api.MessagesSendMessageRequest) (tl.Object, error) {
	to, err := m.access.InputPeer(c.UserID, req.Peer)
	if err != nil {
		return nil, err
	}
	if err := checkText(req.Message); err != nil {
		return nil, err
	}
	if req.RandomID == 0 {
		return nil, handler.BadRequest("RANDOM_ID_INVALID")
	}
	ents, err := encodeEntities(req.Entities)
	if err != nil {
		return nil, err
	}
	reply := replyID(req.ReplyTo)
	s := box.Send{From: c.UserID, To: to, RandomID: req.RandomID, Silent: req.Silent, ClearDraft: req.ClearDraft,
		ReplyTo: reply, Text: req.Message, Entities: ents, Fingerprint: box.Fingerprint(to, req.Message, ents, reply)}
	res, msg, err := m.sendOne(ctx, c, &s)
	if err != nil {
		return nil, err
	}
	return &api.UpdateShortSentMessage{Out: true, ID: msg.ID, Pts: res.Pts, PtsCount: 1, Date: res.Date,
		Entities: req.Entities}, nil
}

// maxCaptionLen is Telegram's limit on a media caption (characters).
const maxCaptionLen = 1024

// sendMedia: a message with media (a document or photo: handler.Media makes it from an upload, or gives back
// one the client was given) and an optional caption, one Propose like sendMessage. The answer is updates
// (updateMessageID, updateNewMessage with the message), as Telegram answers sendMedia.
func (m *Domain) sendMedia(ctx context.Context, c *handler.Call, req *api.MessagesSendMediaRequest) (tl.Object, error) {
	to, err := m.access.InputPeer(c.UserID, req.Peer)
	if err != nil {
		return nil, err
	}
	one := &api.InputSingleMedia{Media: req.Media, RandomID: req.RandomID, Message: req.Message, Entities: req.Entities}
	res, msg, err := m.sendOneMedia(ctx, c, to, one, req.Silent, req.ClearDraft, replyID(req.ReplyTo), 0)
	if err != nil {
		return nil, err
	}
	return &api.Updates{
		Updates: []api.UpdateClass{&api.UpdateMessageID{ID: msg.ID, RandomID: req.RandomID},
			&api.UpdateNewMessage{Message: apiMessage(msg), Pts: res.Pts, PtsCount: 1}},
		Users: m.users(ctx, c.UserID, []int64{c.UserID, to}), Chats: []api.ChatClass{}, Date: res.Date}, nil
}

// maxMultiMedia is Telegram's limit on the items of an album.
const maxMultiMedia = 10

// sendMultiMedia: an album, each item sent as sendMedia sends one (in order; a retry with the same random ids
// sends none twice), all with one grouped_id so that clients show them together.
func (m *Domain) sendMultiMedia(ctx context.Context, c *handler.Call, req *api.MessagesSendMultiMediaRequest) (tl.Object, error) {
	to, err := m.access.InputPeer(c.UserID, req.Peer)
	if err != nil {
		return nil, err
	}
	if len(req.MultiMedia) == 0 || len(req.MultiMedia) > maxMultiMedia {
		return nil, handler.BadRequest("MULTI_MEDIA_TOO_LONG")
	}
	out := &api.Updates{Chats: []api.ChatClass{}, Users: m.users(ctx, c.UserID, []int64{c.UserID, to})}
	var news []api.UpdateClass
	// The album's id comes from its first random id, so that a retry puts its items in the same album.
	grouped := int64(uint64(req.MultiMedia[0].RandomID)*0x9e3779b97f4a7c15>>1) | 1
	for i, one := range req.MultiMedia {
		if one == nil {
			return nil, handler.ErrInputInvalid
		}
		reply := int32(0)
		if i == 0 {
			reply = replyID(req.ReplyTo)
		}
		res, msg, err := m.sendOneMedia(ctx, c, to, one, req.Silent, req.ClearDraft, reply, grouped)
		if err != nil {
			return nil, err
		}
		out.Updates = append(out.Updates, &api.UpdateMessageID{ID: msg.ID, RandomID: one.RandomID})
		news = append(news, &api.UpdateNewMessage{Message: apiMessage(msg), Pts: res.Pts, PtsCount: 1})
		out.Date = res.Date
	}
	out.Updates = append(out.Updates, news...)
	return out, nil
}

// sendOneMedia sends one message with media to user to.
func (m *Domain) sendOneMedia(ctx context.Context, c *handler.Call, to int64, one *api.InputSingleMedia, silent,
	clearDraft bool, reply int32, grouped int64) (*box.Result, *box.Message, error) {
	if one.RandomID == 0 {
		return nil, nil, handler.BadRequest("RANDOM_ID_INVALID")
	}
	if utf8.RuneCountInString(one.Message) > maxCaptionLen {
		return nil, nil, handler.BadRequest("MEDIA_CAPTION_TOO_LONG")
	}
	if m.svc.Media == nil {
		return nil, nil, handler.BadRequest("MEDIA_INVALID")
	}
	ents, err := encodeEntities(one.Entities)
	if err != nil {
		return nil, nil, err
	}
	media, err := m.svc.Media.MessageMedia(ctx, c, one.Media)
	if err != nil {
		return nil, nil, err
	}
	mb, err := encodeMedia(media)
	if err != nil {
		return nil, nil, err
	}
	// A retry makes a new document or photo id from the same upload: the fingerprint covers what the client
	// sent (the upload, or the media it resends), not what was made of it, so that the retry is recognized. Its
	// answer shows this call's media, which names the same uploaded parts as the stored one.
	s := box.Send{From: c.UserID, To: to, RandomID: one.RandomID, Silent: silent, ClearDraft: clearDraft,
		ReplyTo: reply, Text: one.Message, Entities: ents, Media: mb, GroupedID: grouped,
		Fingerprint: box.MediaFingerprint(to, one.Message, ents, reply, inputMediaKey(one.Media))}
	return m.sendOne(ctx, c, &s)
}

// inputMediaKey is what identifies the media of a send across retries: the kind, and the uploaded file (id,
// parts) or the media resent (id).
func inputMediaKey(in api.InputMediaClass) []byte {
	var kind byte
	var id int64
	var parts int32
	file := func(f api.InputFileClass) {
		switch f := f.(type) {
		case *api.InputFile:
			id, parts = f.ID, f.Parts
		case *api.InputFileBig:
			id, parts = f.ID, -f.Parts
		}
	}
	switch x := in.(type) {
	case *api.InputMediaUploadedDocument:
		kind = 'D'
		file(x.File)
	case *api.InputMediaUploadedPhoto:
		kind = 'P'
		file(x.File)
	case *api.InputMediaDocument:
		kind = 'd'
		if d, ok := x.ID.(*api.InputDocument); ok {
			id = d.ID
		}
	case *api.InputMediaPhoto:
		kind = 'p'
		if p, ok := x.ID.(*api.InputPhoto); ok {
			id = p.ID
		}
	}
	b := binary.BigEndian.AppendUint64([]byte{kind}, uint64(id))
	return binary.BigEndian.AppendUint32(b, uint32(parts))
}

// sendOne proposes one Send and pushes it (to the sender's other sessions, and the recipient's sessions when
// its box took it in the same apply) unless it was a retry. The result leaves the content out (the box keeps
// results small): the message and the applied copies get it back from s.
func (m *Domain) sendOne(ctx context.Context, c *handler.Call, s *box.Send) (*box.Result, *box.Message, error) {
	res, err := m.propose(ctx, c.UserID, s.Command())
	if err != nil {
		return nil, nil, err
	}
	if len(res.Msgs) != 1 {
		return nil, nil, handler.ErrInternal
	}
	msg := &res.Msgs[0]
	msg.Text, msg.Entities, msg.Media, msg.GroupedID = s.Text, s.Entities, s.Media, s.GroupedID
	if !res.Dup {
		m.pushNew(ctx, c.UserID, c.SessionID, msg, res.Pts)
		for i := range res.Applied {
			a := &res.Applied[i]
			if a.Msg != nil && a.Update.Kind == box.UpdNewMessage {
				a.Msg.Text, a.Msg.Entities, a.Msg.Media, a.Msg.GroupedID = s.Text, s.Entities, s.Media, s.GroupedID
			}
			m.pushApplied(ctx, a)
		}
	}
	return res, msg, nil
}

func (m *Domain) forwardMessages(ctx context.Context, c *handler.Call, req *api.MessagesForwardMessagesRequest) (tl.Object, error) {
	from, err := m.access.InputPeer(c.UserID, req.FromPeer)
	if err != nil {
		return nil, err
	}
	to, err := m.access.InputPeer(c.UserID, req.ToPeer)
	if err != nil {
		return nil, err
	}
	if len(req.ID) == 0 || len(req.ID) != len(req.RandomID) {
		return nil, handler.BadRequest("RANDOM_ID_INVALID")
	}
	if len(req.ID) > 100 {
		return nil, handler.BadRequest("MESSAGE_IDS_TOO_MUCH")
	}
	res, err := m.propose(ctx, c.UserID, (&box.Forward{From: c.UserID, FromPeer: from, To: to, IDs: req.ID,
		RandomIDs: req.RandomID, Silent: req.Silent}).Command())
	if err != nil {
		return nil, err
	}
	out := &api.Updates{Chats: []api.ChatClass{}, Date: res.Date}
	var peers []int64
	byID := map[int32]*box.Message{}
	for i := range res.Msgs {
		msg := &res.Msgs[i]
		byID[msg.ID] = msg
		peers = append(peers, msg.Peer, msg.FwdFrom)
		// The random ids of the forwarded messages, in order (skipped ids are absent from both lists).
		if i < len(req.RandomID) {
			out.Updates = append(out.Updates, &api.UpdateMessageID{ID: msg.ID, RandomID: req.RandomID[i]})
		}
	}
	for i := range res.Msgs {
		msg := &res.Msgs[i]
		pts := res.Pts - int32(len(res.Msgs)-1-i)
		if i < len(res.Updates) {
			pts = res.Updates[i].Pts
		}
		up := &api.UpdateNewMessage{Message: apiMessage(msg), Pts: pts, PtsCount: 1}
		out.Updates = append(out.Updates, up)
		if !res.Dup {
			m.push(ctx, c.UserID, c.SessionID, shortMessage(msg, pts))
		}
	}
	out.Users = m.users(ctx, c.UserID, append(peers, c.UserID))
	if !res.Dup {
		for i := range res.Applied {
			a := &res.Applied[i]
			if a.Msg != nil {
				if src := byID[a.Msg.PeerMsgID]; src != nil {
					a.Msg.Text, a.Msg.Entities = src.Text, src.Entities
				}
			}
			m.pushApplied(ctx, a)
		}
	}
	return out, nil
}

func (m *Domain) editMessage(ctx context.Context, c *handler.Call, req *api.MessagesEditMessageRequest) (tl.Object, error) {
	peer, err := m.access.InputPeer(c.UserID, req.Peer)
	if err != nil {
		return nil, err
	}
	if req.Message == nil {
		return nil, handler.ErrMessageEmpty // replacing the media is not supported
	}
	// An empty text removes a media message's caption; the box refuses it for a message without media.
	if utf8.RuneCountInString(*req.Message) > maxMessageLen {
		return nil, errMessageTooLong
	}
	ents, err := encodeEntities(req.Entities)
	if err != nil {
		return nil, err
	}
	res, err := m.propose(ctx, c.UserID, (&box.Edit{User: c.UserID, Peer: peer, ID: req.ID, Text: *req.Message,
		Entities: ents}).Command())
	if err != nil {
		return nil, err
	}
	if len(res.Msgs) != 1 || len(res.Updates) != 1 {
		return nil, handler.ErrInternal
	}
	msg := &res.Msgs[0]
	up := logUpdate(&res.Updates[0], map[int32]*box.Message{msg.ID: msg})
	out := &api.Updates{Updates: []api.UpdateClass{up}, Users: m.users(ctx, c.UserID, []int64{peer, c.UserID}),
		Chats: []api.ChatClass{}, Date: res.Date}
	m.push(ctx, c.UserID, c.SessionID, out)
	for i := range res.Applied {
		m.pushApplied(ctx, &res.Applied[i])
	}
	return out, nil
}

// pushOwn pushes the caller's own log entries of a command to its other sessions.
func (m *Domain) pushOwn(ctx context.Context, c *handler.Call, res *box.Result) {
	for i := range res.Updates {
		m.pushUpdate(ctx, c.UserID, c.SessionID, &res.Updates[i], nil)
	}
	for i := range res.Applied {
		m.pushApplied(ctx, &res.Applied[i])
	}
}

func (m *Domain) deleteMessages(ctx context.Context, c *handler.Call, req *api.MessagesDeleteMessagesRequest) (tl.Object, error) {
	if len(req.ID) > 100 {
		return nil, handler.BadRequest("MESSAGE_IDS_TOO_MUCH")
	}
	res, err := m.propose(ctx, c.UserID, (&box.Delete{User: c.UserID, IDs: req.ID, Revoke: req.Revoke}).Command())
	if err != nil {
		return nil, err
	}
	m.pushOwn(ctx, c, res)
	return &api.MessagesAffectedMessages{Pts: res.Pts, PtsCount: res.PtsCount}, nil
}

func (m *Domain) deleteHistory(ctx context.Context, c *handler.Call, req *api.MessagesDeleteHistoryRequest) (tl.Object, error) {
	peer, err := m.access.InputPeer(c.UserID, req.Peer)
	if err != nil {
		return nil, err
	}
	res, err := m.propose(ctx, c.UserID, (&box.DeleteHistory{User: c.UserID, Peer: peer, MaxID: req.MaxID,
		Revoke: req.Revoke, JustClear: req.JustClear}).Command())
	if err != nil {
		return nil, err
	}
	m.pushOwn(ctx, c, res)
	return &api.MessagesAffectedHistory{Pts: res.Pts, PtsCount: res.PtsCount, Offset: res.Offset}, nil
}

func (m *Domain) readHistory(ctx context.Context, c *handler.Call, req *api.MessagesReadHistoryRequest) (tl.Object, error) {
	peer, err := m.access.InputPeer(c.UserID, req.Peer)
	if err != nil {
		return nil, err
	}
	res, err := m.propose(ctx, c.UserID, (&box.ReadHistory{User: c.UserID, Peer: peer, MaxID: req.MaxID}).Command())
	if err != nil {
		return nil, err
	}
	m.pushOwn(ctx, c, res)
	return &api.MessagesAffectedMessages{Pts: res.Pts, PtsCount: res.PtsCount}, nil
}

// setTyping is pushed only (no pts), to the peer's sessions.
func (m *Domain) setTyping(ctx context.Context, c *handler.Call, req *api.MessagesSetTypingRequest) (tl.Object, error) {
	peer, err := m.access.InputPeer(c.UserID, req.Peer)
	if err != nil {
		return nil, err
	}
	if req.Action == nil {
		return nil, handler.ErrInputInvalid
	}
	if peer != c.UserID {
		m.push(ctx, peer, 0, &api.UpdateShort{Update: &api.UpdateUserTyping{UserID: c.UserID, Action: req.Action},
			Date: m.now()})
	}
	return api.BoolOf(true), nil
}

func (m *Domain) dialogPeer(c *handler.Call, p api.InputDialogPeerClass) (int64, error) {
	dp, ok := p.(*api.InputDialogPeer)
	if !ok {
		return 0, handler.ErrPeerInvalid
	}
	return m.access.InputPeer(c.UserID, dp.Peer)
}

func (m *Domain) dialogOp(ctx context.Context, c *handler.Call, op *box.DialogOp, pushed api.UpdateClass) (tl.Object, error) {
	if _, err := m.propose(ctx, c.UserID, op.Command()); err != nil {
		return nil, err
	}
	m.push(ctx, c.UserID, c.SessionID, &api.UpdateShort{Update: pushed, Date: m.now()})
	return api.BoolOf(true), nil
}

func (m *Domain) saveDraft(ctx context.Context, c *handler.Call, req *api.MessagesSaveDraftRequest) (tl.Object, error) {
	peer, err := m.access.InputPeer(c.UserID, req.Peer)
	if err != nil {
		return nil, err
	}
	if utf8.RuneCountInString(req.Message) > maxMessageLen {
		return nil, errMessageTooLong
	}
	ents, err := encodeEntities(req.Entities)
	if err != nil {
		return nil, err
	}
	op := &box.DialogOp{User: c.UserID, Peer: peer, Op: box.OpDraft}
	var d api.DraftMessageClass = &api.DraftMessageEmpty{Date: tl.Ptr(m.now())}
	if req.Message != "" {
		op.Draft = &box.Draft{ReplyTo: replyID(req.ReplyTo), NoWebpage: req.NoWebpage, Text: req.Message, Entities: ents}
		d = &api.DraftMessage{Message: req.Message, Entities: req.Entities, Date: m.now(), NoWebpage: req.NoWebpage,
			ReplyTo: req.ReplyTo}
	}
	return m.dialogOp(ctx, c, op, &api.UpdateDraftMessage{Peer: peerUser(peer), Draft: d})
}

func (m *Domain) toggleDialogPin(ctx context.Context, c *handler.Call, req *api.MessagesToggleDialogPinRequest) (tl.Object, error) {
	peer, err := m.dialogPeer(c, req.Peer)
	if err != nil {
		return nil, err
	}
	return m.dialogOp(ctx, c, &box.DialogOp{User: c.UserID, Peer: peer, Op: box.OpPin, Flag: req.Pinned},
		&api.UpdateDialogPinned{Pinned: req.Pinned, Peer: &api.DialogPeer{Peer: peerUser(peer)}})
}

func (m *Domain) markDialogUnread(ctx context.Context, c *handler.Call, req *api.MessagesMarkDialogUnreadRequest) (tl.Object, error) {
	peer, err := m.dialogPeer(c, req.Peer)
	if err != nil {
		return nil, err
	}
	return m.dialogOp(ctx, c, &box.DialogOp{User: c.UserID, Peer: peer, Op: box.OpMarkUnread, Flag: req.Unread},
		&api.UpdateDialogUnreadMark{Unread: req.Unread, Peer: &api.DialogPeer{Peer: peerUser(peer)}})
}
