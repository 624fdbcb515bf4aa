package handler

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/raftgram/raftgram/tl"
	"github.com/raftgram/raftgram/tl/api"
)

// ServiceUserID is Telegram's service account (login codes and notices come from it).
const ServiceUserID int64 = 777000

// Directory is the users domain as other domains see it.
type Directory interface {
	// Users returns the users as viewer sees them (the access hash given to viewer, self/contact/mutual
	// flags, status, name as viewer saved it); ids that name no user are left out. Order follows ids.
	Users(ctx context.Context, viewer int64, ids []int64) ([]api.UserClass, error)
}

// Pusher delivers updates to every live session of a user on every node of the cluster, except the session
// exceptSession (0: none), which got them in its call's result. Delivery is best effort: a session that misses a
// push catches up through updates.getDifference, so Push never fails the caller's request.
type Pusher interface {
	Push(ctx context.Context, userID, exceptSession int64, u api.UpdatesClass)
}

// PresenceSink is implemented by a Pusher that pushes only to the nodes that hold a user's sessions: this
// node's gateway reports to it which users have signed-in keys here (gateway.Options.Presence).
type PresenceSink interface {
	Presence(userID int64, present bool) (wait func())
}

// ServiceMessages posts a message from the service account (ServiceUserID) into a user's message box, with its
// updates pushed to the user's sessions (auth.sentCodeTypeApp delivers login codes this way).
type ServiceMessages interface {
	SendService(ctx context.Context, userID int64, text string) error
}

// Sessions controls the signed-in state of auth keys on every node's gateway.
type Sessions interface {
	// SignIn records (in Raft) and announces (to every node) that permanent key permKeyID is signed in as userID.
	SignIn(ctx context.Context, permKeyID, userID int64) error
	// SignOut does the same for signing out: every node stops serving the key as the user at once
	// (AUTH_KEY_UNREGISTERED on its next call).
	SignOut(ctx context.Context, permKeyID int64) error
}

// Edge is this node's MTProto gateway as handlers see it (*gateway.Server implements it).
type Edge interface {
	// BindUser marks a key's sessions on this node as signed in as userID (0: signed out).
	BindUser(authKeyID, userID int64)
	// PushExcept pushes updates to the user's live sessions on this node, except one session (0: none).
	PushExcept(userID, exceptSession int64, updates tl.Object) error
}

// Media turns what a client sends as a message's media into the media the message carries (the upload domain
// provides it: an uploaded file becomes a document).
type Media interface {
	MessageMedia(ctx context.Context, c *Call, in api.InputMediaClass) (api.MessageMediaClass, error)
}

// Services connects the API domains. The wiring (node/messenger) fills every field before the node starts;
// domains read them at call time, so two domains may depend on each other.
type Services struct {
	Directory       Directory
	Pusher          Pusher
	ServiceMessages ServiceMessages
	Sessions        Sessions
	// Media is nil on a node built without the upload domain (messages.sendMedia then answers MEDIA_INVALID).
	Media Media
	// Edge is this node's gateway, nil on a node that serves no clients (or before its gateway started).
	Edge func() Edge
}

// RandomID reads a random positive int64 from r (nonces, ids the proposer stamps into a command).
func RandomID(r io.Reader) (int64, error) {
	var b [8]byte
	for {
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return 0, fmt.Errorf("random id: %w", err)
		}
		if v := int64(binary.BigEndian.Uint64(b[:]) >> 1); v != 0 {
			return v, nil
		}
	}
}
