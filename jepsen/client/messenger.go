package client

import (
	"context"
	"errors"

	"github.com/raftgram/raftgram/jepsen/history"
)

// Messenger is the seam the MTProto driver implements (it comes with the messenger, issue 5): one call per
// operation, through one device of a user (a device is one MTProto session, connected to one node).
type Messenger interface {
	// Send sends text from user to peer through device and returns the message's id in the sender's box and
	// the sender's pts after it.
	Send(ctx context.Context, user, peer int64, device int, text string) (msgID, pts int64, err error)
	// History reads user's dialog with peer through device, oldest first.
	History(ctx context.Context, user, peer int64, device int) ([]history.Msg, error)
	// Node is the index of the node a device talks to.
	Node(user int64, device int) int
}

// definite marks an error after which the operation certainly had no effect.
type definite struct{ err error }

func (d definite) Error() string { return d.err.Error() }
func (d definite) Unwrap() error { return d.err }

// Definite wraps err to say the operation certainly did not take effect (the request never left, or the server
// refused it before doing anything, e.g. an rpc_error such as PEER_ID_INVALID). Drivers return it; anything
// else a Send returns is recorded as indeterminate.
func Definite(err error) error { return definite{err} }

// IsDefinite reports whether err was wrapped by Definite.
func IsDefinite(err error) bool {
	var d definite
	return errors.As(err, &d)
}

// Messages records messenger operations.
type Messages struct {
	rec *history.Recorder
	m   Messenger
}

// NewMessages wraps a driver.
func NewMessages(rec *history.Recorder, m Messenger) *Messages { return &Messages{rec: rec, m: m} }

// Send records a send of text from user to peer.
func (c *Messages) Send(ctx context.Context, process int, user, peer int64, device int, text string) history.Event {
	inv := c.rec.Add(history.Event{Type: history.Invoke, Process: process, Node: c.m.Node(user, device), F: "send",
		User: user, Peer: peer, Device: device, Text: text})
	id, pts, err := c.m.Send(ctx, user, peer, device, text)
	done := inv
	switch {
	case err == nil:
		done.Type, done.MsgID, done.Pts = history.OK, id, pts
	case IsDefinite(err):
		done.Type, done.Error = history.Fail, err.Error()
	default:
		done.Type, done.Error = history.Info, err.Error()
	}
	return c.rec.Add(done)
}

// Read records a read of user's dialog with peer; final marks the reads of the final phase.
func (c *Messages) Read(ctx context.Context, process int, user, peer int64, device int, final bool) history.Event {
	inv := c.rec.Add(history.Event{Type: history.Invoke, Process: process, Node: c.m.Node(user, device), F: "read",
		User: user, Peer: peer, Device: device, Final: final})
	msgs, err := c.m.History(ctx, user, peer, device)
	done := inv
	if err != nil {
		done.Type, done.Error = history.Fail, err.Error() // a read has no effect
	} else {
		done.Type, done.Msgs = history.OK, msgs
	}
	return c.rec.Add(done)
}

// Update records an update a device received (source "push" or "diff") or its getState answer ("state").
func (c *Messages) Update(user int64, device int, source string, pts, ptsCount int64, text string) {
	c.rec.Add(history.Event{Type: history.Observe, Process: -2, Node: c.m.Node(user, device), F: "pts", User: user,
		Device: device, Source: source, Pts: pts, PtsCount: ptsCount, Text: text})
}
