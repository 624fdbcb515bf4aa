package users

import (
	"context"

	"github.com/raftgram/raftgram/fsm/account"
	"github.com/raftgram/raftgram/node/handler"
	"github.com/raftgram/raftgram/tl"
	"github.com/raftgram/raftgram/tl/api"
)

// peerSettings is the action bar a client shows atop a chat with a user: a user who is not the viewer's contact
// may be added or blocked (the bar Telegram shows when a stranger writes first); none for oneself, for a
// contact, or for the service account.
func peerSettings(viewer int64, e *Entry) *api.PeerSettings {
	s := &api.PeerSettings{}
	if e == nil || e.User.ID == viewer || e.User.ID == account.ServiceUserID || e.Rel.Contact != nil {
		return s
	}
	s.AddContact = true
	s.BlockContact = !e.Rel.Blocked
	return s
}

// lookupOne is the entry of user id as viewer sees it, or missing when there is no such user.
func (h *Handlers) lookupOne(ctx context.Context, viewer, id int64, missing error) (*Entry, error) {
	m, err := h.dir.Lookup(ctx, viewer, []int64{id})
	if err != nil {
		return nil, err
	}
	if e := m[id]; e != nil {
		return e, nil
	}
	return nil, missing
}

// getPeerSettings answers messages.getPeerSettings (every chat a client opens) from the viewer's relation to
// the peer.
func (h *Handlers) getPeerSettings(ctx context.Context, c *handler.Call, req *api.MessagesGetPeerSettingsRequest) (tl.Object, error) {
	id, err := h.access.InputPeer(c.UserID, req.Peer)
	if err != nil {
		return nil, err
	}
	out := &api.MessagesPeerSettings{Settings: &api.PeerSettings{}, Chats: []api.ChatClass{}, Users: []api.UserClass{}}
	if id == account.ServiceUserID {
		out.Users = append(out.Users, ServiceUser(h.access, c.UserID))
		return out, nil
	}
	e, err := h.lookupOne(ctx, c.UserID, id, handler.ErrPeerInvalid)
	if err != nil {
		return nil, err
	}
	out.Settings = peerSettings(c.UserID, e)
	out.Users = append(out.Users, h.dir.APIUser(c.UserID, e, h.store.Now()))
	return out, nil
}

// getUserPhotos answers photos.getUserPhotos: profile photos are not supported, so every user has none (the
// user must still be one the viewer may address).
func (h *Handlers) getUserPhotos(_ context.Context, c *handler.Call, req *api.PhotosGetUserPhotosRequest) (tl.Object, error) {
	if _, err := h.access.InputUser(c.UserID, req.UserID); err != nil {
		return nil, err
	}
	return &api.PhotosPhotos{Photos: []api.PhotoClass{}, Users: []api.UserClass{}}, nil
}
