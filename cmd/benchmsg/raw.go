package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/raftgram/raftgram/internal/testclient"
	"github.com/raftgram/raftgram/tl"
	"github.com/raftgram/raftgram/tl/api"
	"github.com/raftgram/raftgram/tl/mt"
)

// rawClient is the lean client (-client raw): the project's own small MTProto client (internal/testclient) on one
// encrypted session over the intermediate transport. It does on the wire what gotd does for these calls (key
// exchange, invokeWithLayer + initConnection, encrypted messages, acks of the server's content messages) without
// gotd's machinery, so that on a machine shared with the cluster the benchmark's own CPU takes less from it.
// Calls are serialized; after listen, only the reader goroutine uses the session (a receiver never calls).
type rawClient struct {
	mu     sync.Mutex
	s      *testclient.Session
	inited bool
	tr     *tracker
	done   chan struct{}
}

func dialRaw(ctx context.Context, addr string, pub *rsa.PublicKey, tr *tracker) (*rawClient, error) {
	c, err := testclient.Dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	kctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	res, err := testclient.CreateKey(kctx, c.PlainRoundTrip(), pub, testclient.KeyOptions{DC: 1, Rand: rand.Reader})
	if err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("key exchange with %s: %w", addr, err)
	}
	_ = c.SetDeadline(time.Time{})
	return &rawClient{s: testclient.NewSession(c, res.Key, res.Salt), tr: tr, done: make(chan struct{})}, nil
}

// call sends one request and waits for its result; the first call carries the layer and initConnection.
func (c *rawClient) call(ctx context.Context, q tl.Object) (tl.Object, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.inited {
		q = &api.InvokeWithLayerRequest{Layer: int32(api.LayerNumbers[0]), Query: &api.InitConnectionRequest{APIID: 1,
			DeviceModel: "benchmsg", SystemVersion: "linux", AppVersion: "1", SystemLangCode: "en", LangCode: "en",
			Query: q}}
	}
	res, err := c.s.Call(ctx, q)
	_ = c.s.Conn.SetDeadline(time.Time{})
	c.s.Seen = c.s.Seen[:0]
	if err == nil {
		c.inited = true
	}
	return res, err
}

// login signs the user up (or in) with the cluster's code and returns its id.
func (c *rawClient) login(ctx context.Context, phone, code, first, last string) (int64, error) {
	obj, err := c.call(ctx, &api.AuthSendCodeRequest{PhoneNumber: phone, APIID: 1, APIHash: "benchmsg",
		Settings: &api.CodeSettings{}})
	if err != nil {
		return 0, fmt.Errorf("auth.sendCode: %w", err)
	}
	sent, ok := obj.(*api.AuthSentCode)
	if !ok {
		return 0, fmt.Errorf("auth.sendCode: got %s", tl.Name(obj))
	}
	obj, err = c.call(ctx, &api.AuthSignInRequest{PhoneNumber: phone, PhoneCodeHash: sent.PhoneCodeHash,
		PhoneCode: &code})
	if err != nil {
		return 0, fmt.Errorf("auth.signIn: %w", err)
	}
	if _, ok := obj.(*api.AuthAuthorizationSignUpRequired); ok {
		if obj, err = c.call(ctx, &api.AuthSignUpRequest{PhoneNumber: phone, PhoneCodeHash: sent.PhoneCodeHash,
			FirstName: first, LastName: last}); err != nil {
			return 0, fmt.Errorf("auth.signUp: %w", err)
		}
	}
	a, ok := obj.(*api.AuthAuthorization)
	if !ok {
		return 0, fmt.Errorf("sign-in: got %s", tl.Name(obj))
	}
	u, ok := a.User.(*api.User)
	if !ok {
		return 0, fmt.Errorf("sign-in: user is %s", tl.Name(a.User))
	}
	return u.ID, nil
}

func (c *rawClient) importPeer(ctx context.Context, phone string, i int) (id, accessHash int64, err error) {
	obj, err := c.call(ctx, &api.ContactsImportContactsRequest{Contacts: []*api.InputPhoneContact{{
		ClientID: int64(i), Phone: phone, FirstName: "Bench", LastName: fmt.Sprint(i)}}})
	if err != nil {
		return 0, 0, fmt.Errorf("contacts.importContacts: %w", err)
	}
	res, ok := obj.(*api.ContactsImportedContacts)
	if !ok || len(res.Imported) != 1 {
		return 0, 0, fmt.Errorf("contacts.importContacts: got %s", tl.Name(obj))
	}
	for _, u := range res.Users {
		if u, ok := u.(*api.User); ok && u.ID == res.Imported[0].UserID && u.AccessHash != nil {
			return u.ID, *u.AccessHash, nil
		}
	}
	return 0, 0, errors.New("contacts.importContacts: the imported user is not in the answer")
}

func (c *rawClient) sendText(ctx context.Context, to peerRef, text string, randomID int64) error {
	_, err := c.call(ctx, &api.MessagesSendMessageRequest{Peer: &api.InputPeerUser{UserID: to.id,
		AccessHash: to.accessHash}, Message: text, RandomID: randomID})
	var rpc testclient.ErrRPC
	if errors.As(err, &rpc) {
		return &rpcError{code: int(rpc.ErrorCode), err: err}
	}
	return err
}

// listen starts reading the session's pushes: incoming message texts go to the tracker, content messages are
// acknowledged as a client must (or the server keeps resending them).
func (c *rawClient) listen() {
	go func() {
		defer close(c.done)
		for {
			msgs, err := c.s.Recv()
			if err != nil {
				return
			}
			c.s.Seen = c.s.Seen[:0]
			var acks []int64
			for _, r := range msgs {
				if r.SeqNo&1 == 1 {
					acks = append(acks, r.MsgID)
				}
				c.tr.received(rawTexts(nil, r.Obj)...)
			}
			if len(acks) > 0 {
				if _, err := c.s.Send(&mt.MsgsAck{MsgIDs: acks}, false); err != nil {
					return
				}
			}
		}
	}()
}

// rawTexts appends the texts of the incoming messages in a push.
func rawTexts(out []string, obj tl.Object) []string {
	switch u := obj.(type) {
	case *api.UpdateShortMessage:
		if !u.Out {
			out = append(out, u.Message)
		}
	case *api.UpdateShort:
		out = rawUpdateText(out, u.Update)
	case *api.Updates:
		for _, x := range u.Updates {
			out = rawUpdateText(out, x)
		}
	case *api.UpdatesCombined:
		for _, x := range u.Updates {
			out = rawUpdateText(out, x)
		}
	}
	return out
}

func rawUpdateText(out []string, u api.UpdateClass) []string {
	if n, ok := u.(*api.UpdateNewMessage); ok {
		if m, ok := n.Message.(*api.Message); ok && !m.Out {
			out = append(out, m.Message)
		}
	}
	return out
}

func (c *rawClient) close() {
	_ = c.s.Conn.Close()
}
