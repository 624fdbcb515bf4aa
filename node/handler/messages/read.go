package messages

import (
	"context"

	"github.com/raftgram/raftgram/fsm/box"
	"github.com/raftgram/raftgram/node/handler"
	"github.com/raftgram/raftgram/tl"
	"github.com/raftgram/raftgram/tl/api"
)

// messagesPage is messages.messages, or messages.messagesSlice when count says more exist.
func (m *Domain) messagesPage(ctx context.Context, viewer int64, v *box.View, count int32, slice bool) tl.Object {
	msgs := make([]api.MessageClass, 0, len(v.Msgs))
	ids := []int64{viewer}
	for i := range v.Msgs {
		msgs = append(msgs, apiMessage(&v.Msgs[i]))
		ids = append(ids, v.Msgs[i].Peer, v.Msgs[i].FwdFrom)
	}
	users := m.users(ctx, viewer, ids)
	if slice && count > int32(len(msgs)) {
		return &api.MessagesMessagesSlice{Count: count, Messages: msgs, Topics: []api.ForumTopicClass{},
			Chats: []api.ChatClass{}, Users: users}
	}
	return &api.MessagesMessages{Messages: msgs, Topics: []api.ForumTopicClass{}, Chats: []api.ChatClass{}, Users: users}
}

func (m *Domain) getHistory(ctx context.Context, c *handler.Call, req *api.MessagesGetHistoryRequest) (tl.Object, error) {
	peer, err := m.access.InputPeer(c.UserID, req.Peer)
	if err != nil {
		return nil, err
	}
	if req.Limit < 0 {
		return nil, handler.ErrLimitInvalid
	}
	v, err := m.view(ctx, c.UserID, QueryHistory, box.HistoryReq{User: c.UserID, Peer: peer, OffsetID: req.OffsetID,
		OffsetDate: req.OffsetDate, AddOffset: req.AddOffset, Limit: req.Limit, MaxID: req.MaxID, MinID: req.MinID}.Encode())
	if err != nil {
		return nil, err
	}
	return m.messagesPage(ctx, c.UserID, v, v.Count, true), nil
}

// search is messages.search inside one dialog, by text (other filters find nothing: there is no media).
func (m *Domain) search(ctx context.Context, c *handler.Call, req *api.MessagesSearchRequest) (tl.Object, error) {
	empty := &api.MessagesMessages{Messages: []api.MessageClass{}, Topics: []api.ForumTopicClass{},
		Chats: []api.ChatClass{}, Users: []api.UserClass{}}
	if _, ok := req.Peer.(*api.InputPeerEmpty); ok {
		return empty, nil // global search is messages.searchGlobal
	}
	peer, err := m.access.InputPeer(c.UserID, req.Peer)
	if err != nil {
		return nil, err
	}
	if _, ok := req.Filter.(*api.InputMessagesFilterEmpty); !ok && req.Filter != nil {
		return empty, nil
	}
	v, err := m.view(ctx, c.UserID, QueryHistory, box.HistoryReq{User: c.UserID, Peer: peer, OffsetID: req.OffsetID,
		AddOffset: req.AddOffset, Limit: req.Limit, MaxID: req.MaxID, MinID: req.MinID, MinDate: req.MinDate,
		MaxDate: req.MaxDate, Query: req.Q, Search: true}.Encode())
	if err != nil {
		return nil, err
	}
	return m.messagesPage(ctx, c.UserID, v, v.Count, true), nil
}

func (m *Domain) getMessages(ctx context.Context, c *handler.Call, req *api.MessagesGetMessagesRequest) (tl.Object, error) {
	if len(req.ID) > 200 {
		return nil, handler.ErrLimitInvalid
	}
	ids := make([]int32, 0, len(req.ID))
	for _, in := range req.ID {
		if x, ok := in.(*api.InputMessageID); ok {
			ids = append(ids, x.ID)
		} else {
			ids = append(ids, 0)
		}
	}
	v, err := m.view(ctx, c.UserID, QueryMessages, box.MessagesReq{User: c.UserID, IDs: ids}.Encode())
	if err != nil {
		return nil, err
	}
	byID := map[int32]*box.Message{}
	peers := []int64{c.UserID}
	for i := range v.Msgs {
		byID[v.Msgs[i].ID] = &v.Msgs[i]
		peers = append(peers, v.Msgs[i].Peer, v.Msgs[i].FwdFrom)
	}
	msgs := make([]api.MessageClass, 0, len(ids))
	for _, id := range ids {
		if msg := byID[id]; msg != nil {
			msgs = append(msgs, apiMessage(msg))
		} else {
			msgs = append(msgs, &api.MessageEmpty{ID: id})
		}
	}
	return &api.MessagesMessages{Messages: msgs, Topics: []api.ForumTopicClass{}, Chats: []api.ChatClass{},
		Users: m.users(ctx, c.UserID, peers)}, nil
}

func (m *Domain) dialogsOf(ctx context.Context, viewer int64, v *box.View) ([]api.DialogClass, []api.MessageClass, []api.UserClass) {
	ds := make([]api.DialogClass, 0, len(v.Dialogs))
	ids := []int64{viewer}
	for i := range v.Dialogs {
		ds = append(ds, apiDialog(&v.Dialogs[i]))
		ids = append(ids, v.Dialogs[i].Peer)
	}
	msgs := make([]api.MessageClass, 0, len(v.Msgs))
	for i := range v.Msgs {
		msgs = append(msgs, apiMessage(&v.Msgs[i]))
		ids = append(ids, v.Msgs[i].FwdFrom)
	}
	return ds, msgs, m.users(ctx, viewer, ids)
}

func (m *Domain) getDialogs(ctx context.Context, c *handler.Call, req *api.MessagesGetDialogsRequest) (tl.Object, error) {
	if req.FolderID != nil && *req.FolderID != 0 {
		return &api.MessagesDialogs{Dialogs: []api.DialogClass{}, Messages: []api.MessageClass{},
			Chats: []api.ChatClass{}, Users: []api.UserClass{}}, nil // no archive folder
	}
	v, err := m.view(ctx, c.UserID, QueryDialogs, box.DialogsReq{User: c.UserID, ExcludePinned: req.ExcludePinned,
		OffsetID: req.OffsetID, OffsetDate: req.OffsetDate, Limit: req.Limit}.Encode())
	if err != nil {
		return nil, err
	}
	ds, msgs, users := m.dialogsOf(ctx, c.UserID, v)
	first := req.OffsetID == 0 && req.OffsetDate == 0
	if !first || int32(len(ds)) < v.Count {
		return &api.MessagesDialogsSlice{Count: v.Count, Dialogs: ds, Messages: msgs, Chats: []api.ChatClass{},
			Users: users}, nil
	}
	return &api.MessagesDialogs{Dialogs: ds, Messages: msgs, Chats: []api.ChatClass{}, Users: users}, nil
}

func (m *Domain) getPeerDialogs(ctx context.Context, c *handler.Call, req *api.MessagesGetPeerDialogsRequest) (tl.Object, error) {
	if len(req.Peers) > box.MaxPage {
		return nil, handler.ErrLimitInvalid
	}
	peers := make([]int64, 0, len(req.Peers))
	for _, p := range req.Peers {
		id, err := m.dialogPeer(c, p)
		if err != nil {
			return nil, err
		}
		peers = append(peers, id)
	}
	v, err := m.view(ctx, c.UserID, QueryDialogs, box.DialogsReq{User: c.UserID, Peers: peers}.Encode())
	if err != nil {
		return nil, err
	}
	ds, msgs, users := m.dialogsOf(ctx, c.UserID, v)
	return &api.MessagesPeerDialogs{Dialogs: ds, Messages: msgs, Chats: []api.ChatClass{}, Users: users,
		State: m.state(&v.Meta)}, nil
}

// getPinnedDialogs lists the pinned dialogs (only folder 0 exists).
func (m *Domain) getPinnedDialogs(ctx context.Context, c *handler.Call, req *api.MessagesGetPinnedDialogsRequest) (tl.Object, error) {
	q := box.DialogsReq{User: c.UserID, PinnedOnly: true}
	if req.FolderID != 0 {
		q.ExcludePinned = true // nothing is pinned in other folders
	}
	v, err := m.view(ctx, c.UserID, QueryDialogs, q.Encode())
	if err != nil {
		return nil, err
	}
	ds, msgs, users := m.dialogsOf(ctx, c.UserID, v)
	return &api.MessagesPeerDialogs{Dialogs: ds, Messages: msgs, Chats: []api.ChatClass{}, Users: users,
		State: m.state(&v.Meta)}, nil
}

// getDialogUnreadMarks lists the dialogs marked unread (messages.markDialogUnread). Forum topics (parent_peer)
// do not exist here: none of them is marked.
func (m *Domain) getDialogUnreadMarks(ctx context.Context, c *handler.Call, req *api.MessagesGetDialogUnreadMarksRequest) (tl.Object, error) {
	out := &api.DialogPeerClassVector{Elems: []api.DialogPeerClass{}}
	if req.ParentPeer != nil {
		return out, nil
	}
	v, err := m.view(ctx, c.UserID, QueryUnreadMarks, box.UnreadMarksReq{User: c.UserID}.Encode())
	if err != nil {
		return nil, err
	}
	for _, d := range v.Dialogs {
		out.Elems = append(out.Elems, &api.DialogPeer{Peer: peerUser(d.Peer)})
	}
	return out, nil
}

// getScheduledHistory answers messages.getScheduledHistory (clients ask when they open a chat): scheduled
// messages are not supported, so no chat has any.
func (m *Domain) getScheduledHistory(_ context.Context, c *handler.Call, req *api.MessagesGetScheduledHistoryRequest) (tl.Object, error) {
	if _, err := m.access.InputPeer(c.UserID, req.Peer); err != nil {
		return nil, err
	}
	return &api.MessagesMessages{Messages: []api.MessageClass{}, Chats: []api.ChatClass{}, Users: []api.UserClass{},
		Topics: []api.ForumTopicClass{}}, nil
}

func (m *Domain) state(meta *box.Meta) *api.UpdatesState {
	return &api.UpdatesState{Pts: meta.Pts, Date: m.now(), Seq: 0}
}

func (m *Domain) getState(ctx context.Context, c *handler.Call, _ *api.UpdatesGetStateRequest) (tl.Object, error) {
	v, err := m.view(ctx, c.UserID, QueryState, box.StateReq{User: c.UserID}.Encode())
	if err != nil {
		return nil, err
	}
	return m.state(&v.Meta), nil
}

// getDifference reads the user's update log after pts: new messages, every other pts-carrying update, the
// users they name; a slice when more than the limit follows, differenceTooLong once the log was trimmed.
func (m *Domain) getDifference(ctx context.Context, c *handler.Call, req *api.UpdatesGetDifferenceRequest) (tl.Object, error) {
	limit := int32(box.MaxDifference)
	if req.PtsTotalLimit != nil && *req.PtsTotalLimit > 0 && *req.PtsTotalLimit < limit {
		limit = *req.PtsTotalLimit
	}
	v, err := m.view(ctx, c.UserID, QueryDifference, box.DifferenceReq{User: c.UserID, Pts: req.Pts, Limit: limit}.Encode())
	if err != nil {
		return nil, err
	}
	if v.TooLong {
		return &api.UpdatesDifferenceTooLong{Pts: v.Meta.Pts}, nil
	}
	if len(v.Updates) == 0 {
		return &api.UpdatesDifferenceEmpty{Date: m.now(), Seq: 0}, nil
	}
	msgs := map[int32]*box.Message{}
	ids := []int64{c.UserID}
	for i := range v.Msgs {
		msgs[v.Msgs[i].ID] = &v.Msgs[i]
		ids = append(ids, v.Msgs[i].Peer, v.Msgs[i].FwdFrom)
	}
	newMsgs := []api.MessageClass{}
	other := []api.UpdateClass{}
	for i := range v.Updates {
		u := &v.Updates[i]
		if u.Peer != 0 {
			ids = append(ids, u.Peer)
		}
		if u.Kind == box.UpdNewMessage {
			newMsgs = append(newMsgs, messageOrEmpty(u, msgs))
			continue
		}
		if up := logUpdate(u, msgs); up != nil {
			other = append(other, up)
		}
	}
	users := m.users(ctx, c.UserID, ids)
	if v.More {
		last := v.Updates[len(v.Updates)-1].Pts
		return &api.UpdatesDifferenceSlice{NewMessages: newMsgs, NewEncryptedMessages: []api.EncryptedMessageClass{},
			OtherUpdates: other, Chats: []api.ChatClass{}, Users: users,
			IntermediateState: &api.UpdatesState{Pts: last, Date: m.now()}}, nil
	}
	return &api.UpdatesDifference{NewMessages: newMsgs, NewEncryptedMessages: []api.EncryptedMessageClass{},
		OtherUpdates: other, Chats: []api.ChatClass{}, Users: users, State: m.state(&v.Meta)}, nil
}
