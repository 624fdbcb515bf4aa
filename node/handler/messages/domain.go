package messages

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/raftgram/raftgram/fsm"
	"github.com/raftgram/raftgram/fsm/box"
	"github.com/raftgram/raftgram/node"
	"github.com/raftgram/raftgram/node/access"
	"github.com/raftgram/raftgram/node/handler"
	"github.com/raftgram/raftgram/node/messenger"
	"github.com/raftgram/raftgram/node/push"
	"github.com/raftgram/raftgram/node/relay"
	"github.com/raftgram/raftgram/node/rpc"
	"github.com/raftgram/raftgram/shard"
	"github.com/raftgram/raftgram/tl/api"
)

// Node query types (100..199 belong to this domain).
const (
	QueryState       node.QueryType = 100
	QueryDifference  node.QueryType = 101
	QueryHistory     node.QueryType = 102
	QueryMessages    node.QueryType = 103
	QueryDialogs     node.QueryType = 104
	QueryOutbox      node.QueryType = 105
	QueryUnreadMarks node.QueryType = 106
)

// RPCPush is the internal RPC method of the Pusher (70..79 belong to this domain).
const RPCPush byte = 70

// RPCPresence is the internal RPC method by which nodes tell each other which users have sessions where.
const RPCPresence byte = 71

// Domain is the messages API domain.
type Domain struct {
	n      *node.Node
	svc    *handler.Services
	access access.Hasher
	clock  func() time.Time
	log    *slog.Logger
	box    *box.Applier
	relay  *relay.Relay
	pusher *push.Pusher
}

var _ messenger.Domain = (*Domain)(nil)

// New is the domain's messenger.Builder: it also provides Services.Pusher and Services.ServiceMessages.
func New(d messenger.Deps) (messenger.Domain, error) {
	if d.Node == nil || d.Services == nil {
		return nil, errors.New("messages: no node or services")
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	m := &Domain{n: d.Node, svc: d.Services, access: d.Access, clock: d.Clock, log: d.Log.With("domain", "messages")}
	if m.clock == nil {
		m.clock = time.Now
	}
	m.relay = relay.New(relay.Options{Cluster: d.Node, OutboxQuery: QueryOutbox, OnDelivered: m.onDelivered,
		Log: m.log.With("part", "relay")})
	m.box = box.New(box.Config{Shards: d.Node.Shards(), OnOutbox: m.relay.Offer})
	m.pusher = push.New(push.Options{Cluster: d.Node, Method: RPCPush, PresenceMethod: RPCPresence,
		Log: m.log.With("part", "push"),
		Edge: func() handler.Edge {
			if d.Services.Edge == nil {
				return nil
			}
			return d.Services.Edge()
		}})
	d.Services.Pusher = m.pusher
	d.Services.ServiceMessages = m
	return m, nil
}

// Extension implements messenger.Domain.
func (m *Domain) Extension() node.Extension {
	q := func(f func(fsm.Reader, []byte) ([]byte, error)) node.QueryFunc { return node.QueryFunc(f) }
	return node.Extension{
		Appliers: m.box.Appliers(),
		Queries: map[node.QueryType]node.QueryFunc{
			QueryState: q(box.QueryState), QueryDifference: q(box.QueryDifference), QueryHistory: q(box.QueryHistory),
			QueryMessages: q(box.QueryMessages), QueryDialogs: q(box.QueryDialogs), QueryOutbox: q(box.QueryOutbox),
			QueryUnreadMarks: q(box.QueryUnreadMarks),
		},
		RPC: map[byte]rpc.HandlerFunc{RPCPush: m.pusher.Handle, RPCPresence: m.pusher.HandlePresence},
	}
}

// Register implements messenger.Domain.
func (m *Domain) Register(r *handler.Router) {
	handler.Handle(r, m.sendMessage)
	handler.Handle(r, m.sendMedia)
	handler.Handle(r, m.sendMultiMedia)
	handler.Handle(r, m.forwardMessages)
	handler.Handle(r, m.editMessage)
	handler.Handle(r, m.deleteMessages)
	handler.Handle(r, m.deleteHistory)
	handler.Handle(r, m.readHistory)
	handler.Handle(r, m.setTyping)
	handler.Handle(r, m.saveDraft)
	handler.Handle(r, m.toggleDialogPin)
	handler.Handle(r, m.markDialogUnread)
	handler.Handle(r, m.getHistory)
	handler.Handle(r, m.search)
	handler.Handle(r, m.getMessages)
	handler.Handle(r, m.getDialogs)
	handler.Handle(r, m.getPeerDialogs)
	handler.Handle(r, m.getPinnedDialogs)
	handler.Handle(r, m.getDialogUnreadMarks)
	handler.Handle(r, m.getScheduledHistory)
	handler.Handle(r, m.getState)
	handler.Handle(r, m.getDifference)
}

// Start implements messenger.Domain: the pusher's senders and the relay run until Close.
func (m *Domain) Start(context.Context) error {
	m.pusher.Start()
	m.relay.Start()
	return nil
}

// Close implements messenger.Domain.
func (m *Domain) Close() error {
	return errors.Join(m.relay.Close(), m.pusher.Close())
}

func (m *Domain) shardOf(u int64) uint32 { return shard.Of(u, m.n.Shards()) }

// apiCodes are the box rejections clients see as they are.
var apiCodes = map[string]bool{
	box.CodeRandomIDDuplicate: true, box.CodeMessageIDInvalid: true, box.CodeNotModified: true, box.CodeMessageEmpty: true,
	box.CodeAuthorRequired: true, box.CodePinnedTooMuch: true,
}

// propose commits cmd in user u's shard and decodes its box result.
func (m *Domain) propose(ctx context.Context, u int64, cmd fsm.Command) (*box.Result, error) {
	res, err := m.n.Propose(ctx, m.shardOf(u), cmd)
	if err != nil {
		return nil, fmt.Errorf("messages: propose %d: %w", cmd.Type, err)
	}
	if res.Err != nil {
		var ae *fsm.ApplyError
		if errors.As(res.Err, &ae) && apiCodes[ae.Code] {
			return nil, handler.BadRequest(ae.Code)
		}
		return nil, fmt.Errorf("messages: apply %d: %w", cmd.Type, res.Err)
	}
	if len(res.Value) == 0 {
		return &box.Result{}, nil
	}
	out, err := box.DecodeResult(res.Value)
	if err != nil {
		return nil, fmt.Errorf("messages: result %d: %w", cmd.Type, err)
	}
	return out, nil
}

// view runs a box read in user u's shard.
func (m *Domain) view(ctx context.Context, u int64, t node.QueryType, payload []byte) (*box.View, error) {
	b, err := m.n.Query(ctx, m.shardOf(u), t, payload)
	if err != nil {
		return nil, fmt.Errorf("messages: query %d: %w", t, err)
	}
	v, err := box.DecodeView(b)
	if err != nil {
		return nil, fmt.Errorf("messages: query %d: %w", t, err)
	}
	return v, nil
}

// users returns the users viewer sees among ids (Directory; nothing if no domain provides it).
func (m *Domain) users(ctx context.Context, viewer int64, ids []int64) []api.UserClass {
	if m.svc.Directory == nil || len(ids) == 0 {
		return []api.UserClass{}
	}
	seen := map[int64]bool{}
	var uniq []int64
	for _, id := range ids {
		if id > 0 && !seen[id] {
			seen[id] = true
			uniq = append(uniq, id)
		}
	}
	us, err := m.svc.Directory.Users(ctx, viewer, uniq)
	if err != nil {
		m.log.Warn("directory", "err", err)
		return []api.UserClass{}
	}
	if us == nil {
		us = []api.UserClass{}
	}
	return us
}

func (m *Domain) now() int32 { return int32(m.clock().Unix()) }

func (m *Domain) push(ctx context.Context, user, except int64, u api.UpdatesClass) {
	if m.svc.Pusher != nil {
		m.svc.Pusher.Push(ctx, user, except, u)
	}
}
