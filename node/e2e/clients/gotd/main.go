// Command gotd-scenario drives one gotd/td client through the scenario of node/e2e/clients against a raftgram
// node and prints one JSON line per step on stdout. The same source builds against several gotd versions: go.mod
// (v0.160.0, layer 227), go142.mod (v0.142.0, layer 223) and go93.mod (v0.93.0, layer 170), chosen with
// `go build -modfile=...`; so it uses only API that all three share.
package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/gotd/td/session"
	"github.com/gotd/td/telegram"
	"github.com/gotd/td/telegram/auth"
	"github.com/gotd/td/telegram/dcs"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/transport"
)

// config is what the Go test passes as the only argument (JSON); the node scripts read the same object.
type config struct {
	Host      string   `json:"host"`
	Port      int      `json:"port"`
	DC        int      `json:"dc"`
	PEM       string   `json:"pem"`
	Phone     string   `json:"phone"`
	Code      string   `json:"code"`
	FirstName string   `json:"firstName"`
	LastName  string   `json:"lastName"`
	PeerPhone string   `json:"peerPhone"`
	Texts     []string `json:"texts"`
	PushText  string   `json:"pushText"`
	TimeoutMs int      `json:"timeoutMs"`
}

// msg is a message as the steps report it.
type msg struct {
	ID     int    `json:"id"`
	Out    bool   `json:"out"`
	Text   string `json:"text"`
	FromID int64  `json:"fromId,omitempty"`
	PeerID int64  `json:"peerId,omitempty"`
}

var outMu sync.Mutex

// emit prints one step line: {"step": name, "ok": err == nil, "error": ..., fields...}.
func emit(step string, err error, fields map[string]any) {
	line := map[string]any{"step": step, "ok": err == nil}
	for k, v := range fields {
		line[k] = v
	}
	if err != nil {
		line["error"] = err.Error()
	}
	b, _ := json.Marshal(line)
	outMu.Lock()
	defer outMu.Unlock()
	fmt.Println(string(b))
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gotd-scenario CONFIG_JSON")
		os.Exit(2)
	}
	var cfg config
	if err := json.Unmarshal([]byte(os.Args[1]), &cfg); err != nil {
		emit("config", err, nil)
		os.Exit(2)
	}
	if cfg.TimeoutMs == 0 {
		cfg.TimeoutMs = 60_000
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(cfg.TimeoutMs)*time.Millisecond)
	defer cancel()
	if err := run(ctx, cfg); err != nil {
		os.Exit(1)
	}
	emit("done", nil, nil)
}

// run connects and runs the steps; a failed step is emitted and ends the run.
func run(ctx context.Context, cfg config) error {
	block, _ := pem.Decode([]byte(cfg.PEM))
	if block == nil {
		err := errors.New("no PEM block in the server key")
		emit("connect", err, nil)
		return err
	}
	pub, err := x509.ParsePKCS1PublicKey(block.Bytes)
	if err != nil {
		emit("connect", err, nil)
		return err
	}
	pushes := make(chan msg, 16)
	client := telegram.NewClient(17349, "raftgram-e2e-clients", telegram.Options{
		DC:             cfg.DC,
		DCList:         dcs.List{Options: []tg.DCOption{{ID: cfg.DC, IPAddress: cfg.Host, Port: cfg.Port, Static: true}}},
		PublicKeys:     []telegram.PublicKey{{RSA: pub}},
		Resolver:       dcs.Plain(dcs.PlainOptions{Protocol: transport.Intermediate}),
		SessionStorage: &session.StorageMemory{},
		DialTimeout:    10 * time.Second,
		UpdateHandler: telegram.UpdateHandlerFunc(func(_ context.Context, u tg.UpdatesClass) error {
			for _, m := range incoming(u) {
				select {
				case pushes <- m:
				default:
				}
			}
			return nil
		}),
	})
	var stepErr error
	err = client.Run(ctx, func(ctx context.Context) error {
		emit("connect", nil, nil)
		stepErr = steps(ctx, cfg, client, pushes)
		return stepErr
	})
	if err != nil && stepErr == nil {
		// Run failed before or outside the steps (handshake, connection).
		emit("connect", err, nil)
	}
	return err
}

func steps(ctx context.Context, cfg config, client *telegram.Client, pushes <-chan msg) error {
	api := client.API()

	c, err := api.HelpGetConfig(ctx)
	if err != nil {
		emit("getConfig", err, nil)
		return err
	}
	var addrs []string
	for _, o := range c.DCOptions {
		if o.ID == cfg.DC {
			addrs = append(addrs, fmt.Sprintf("%s:%d", o.IPAddress, o.Port))
		}
	}
	emit("getConfig", nil, map[string]any{"thisDc": c.ThisDC, "dcOptions": addrs})

	me, signUp, err := login(ctx, cfg, client)
	if err != nil {
		emit("signUp", err, nil)
		return err
	}
	emit("signUp", nil, map[string]any{"userId": me.ID, "self": me.Self, "signUpRequired": signUp,
		"firstName": me.FirstName})

	users, err := api.UsersGetUsers(ctx, []tg.InputUserClass{&tg.InputUserSelf{}})
	if err != nil {
		emit("getSelf", err, nil)
		return err
	}
	if len(users) != 1 {
		err = fmt.Errorf("users.getUsers([self]) answered %d users", len(users))
		emit("getSelf", err, nil)
		return err
	}
	self, ok := users[0].(*tg.User)
	if !ok {
		err = fmt.Errorf("users.getUsers([self]) answered %T", users[0])
		emit("getSelf", err, nil)
		return err
	}
	emit("getSelf", nil, map[string]any{"userId": self.ID, "self": self.Self})

	imported, err := api.ContactsImportContacts(ctx, []tg.InputPhoneContact{{ClientID: 1, Phone: cfg.PeerPhone,
		FirstName: "Peer", LastName: "Gotd"}})
	if err != nil {
		emit("resolve", err, nil)
		return err
	}
	var peer *tg.InputPeerUser
	for _, iu := range imported.Imported {
		for _, u := range imported.Users {
			if u, ok := u.(*tg.User); ok && u.ID == iu.UserID {
				if hash, ok := u.GetAccessHash(); ok {
					peer = &tg.InputPeerUser{UserID: u.ID, AccessHash: hash}
				}
			}
		}
	}
	if peer == nil {
		err = fmt.Errorf("contacts.importContacts: no imported user with an access hash in %d users, %d imported",
			len(imported.Users), len(imported.Imported))
		emit("resolve", err, nil)
		return err
	}
	emit("resolve", nil, map[string]any{"userId": peer.UserID, "accessHash": peer.AccessHash != 0})

	for i, text := range cfg.Texts {
		res, err := api.MessagesSendMessage(ctx, &tg.MessagesSendMessageRequest{Peer: peer, Message: text,
			RandomID: time.Now().UnixNano() + int64(i)})
		if err != nil {
			emit("send", err, map[string]any{"i": i})
			return err
		}
		id, err := sentID(res)
		if err != nil {
			emit("send", err, map[string]any{"i": i})
			return err
		}
		emit("send", nil, map[string]any{"i": i, "id": id, "text": text})
	}

	emit("ready", nil, nil)
	select {
	case m := <-pushes:
		if m.Text != cfg.PushText {
			err = fmt.Errorf("pushed message %q, want %q", m.Text, cfg.PushText)
			emit("push", err, map[string]any{"id": m.ID, "text": m.Text, "fromId": m.FromID})
			return err
		}
		emit("push", nil, map[string]any{"id": m.ID, "text": m.Text, "fromId": m.FromID})
	case <-ctx.Done():
		err = fmt.Errorf("no push: %w", ctx.Err())
		emit("push", err, nil)
		return err
	}

	dialogs, err := api.MessagesGetDialogs(ctx, &tg.MessagesGetDialogsRequest{OffsetPeer: &tg.InputPeerEmpty{},
		Limit: 50})
	if err != nil {
		emit("getDialogs", err, nil)
		return err
	}
	mod, ok := dialogs.AsModified()
	if !ok {
		err = fmt.Errorf("messages.getDialogs answered %T", dialogs)
		emit("getDialogs", err, nil)
		return err
	}
	var ds []map[string]any
	for _, d := range mod.GetDialogs() {
		d, ok := d.(*tg.Dialog)
		if !ok {
			continue
		}
		var peerID int64
		if p, ok := d.Peer.(*tg.PeerUser); ok {
			peerID = p.UserID
		}
		ds = append(ds, map[string]any{"peerId": peerID, "topMessage": d.TopMessage})
	}
	emit("getDialogs", nil, map[string]any{"dialogs": ds})

	hist, err := api.MessagesGetHistory(ctx, &tg.MessagesGetHistoryRequest{Peer: peer, Limit: 50})
	if err != nil {
		emit("getHistory", err, nil)
		return err
	}
	hmod, ok := hist.AsModified()
	if !ok {
		err = fmt.Errorf("messages.getHistory answered %T", hist)
		emit("getHistory", err, nil)
		return err
	}
	var ms []msg
	for _, m := range hmod.GetMessages() {
		if m, ok := m.(*tg.Message); ok {
			ms = append(ms, msgOf(m))
		}
	}
	emit("getHistory", nil, map[string]any{"messages": ms})
	return nil
}

// login signs in with the dev code, signing up when the number is new (as gotd's auth flow does).
func login(ctx context.Context, cfg config, client *telegram.Client) (*tg.User, bool, error) {
	a := client.Auth()
	sent, err := a.SendCode(ctx, cfg.Phone, auth.SendCodeOptions{})
	if err != nil {
		return nil, false, fmt.Errorf("auth.sendCode: %w", err)
	}
	s, ok := sent.(*tg.AuthSentCode)
	if !ok {
		return nil, false, fmt.Errorf("auth.sendCode answered %T", sent)
	}
	res, err := a.SignIn(ctx, cfg.Phone, cfg.Code, s.PhoneCodeHash)
	signUp := false
	var required *auth.SignUpRequired
	if errors.As(err, &required) {
		signUp = true
		res, err = a.SignUp(ctx, auth.SignUp{PhoneNumber: cfg.Phone, PhoneCodeHash: s.PhoneCodeHash,
			FirstName: cfg.FirstName, LastName: cfg.LastName})
		if err != nil {
			return nil, signUp, fmt.Errorf("auth.signUp: %w", err)
		}
	} else if err != nil {
		return nil, signUp, fmt.Errorf("auth.signIn: %w", err)
	}
	u, ok := res.User.(*tg.User)
	if !ok {
		return nil, signUp, fmt.Errorf("authorization holds %T", res.User)
	}
	return u, signUp, nil
}

// sentID is the id of the message a messages.sendMessage answer names.
func sentID(u tg.UpdatesClass) (int, error) {
	switch u := u.(type) {
	case *tg.UpdateShortSentMessage:
		return u.ID, nil
	case *tg.Updates:
		for _, x := range u.Updates {
			switch x := x.(type) {
			case *tg.UpdateMessageID:
				return x.ID, nil
			case *tg.UpdateNewMessage:
				return x.Message.GetID(), nil
			}
		}
	}
	return 0, fmt.Errorf("messages.sendMessage answered %T without a message id", u)
}

// incoming lists the new messages an updates container carries.
func incoming(u tg.UpdatesClass) []msg {
	var out []msg
	switch u := u.(type) {
	case *tg.UpdateShortMessage:
		out = append(out, msg{ID: u.ID, Out: u.Out, Text: u.Message, FromID: u.UserID, PeerID: u.UserID})
	case *tg.UpdateShort:
		out = newMessages(out, u.Update)
	case *tg.Updates:
		for _, x := range u.Updates {
			out = newMessages(out, x)
		}
	case *tg.UpdatesCombined:
		for _, x := range u.Updates {
			out = newMessages(out, x)
		}
	}
	return slices.DeleteFunc(out, func(m msg) bool { return m.Out })
}

func newMessages(out []msg, u tg.UpdateClass) []msg {
	if x, ok := u.(*tg.UpdateNewMessage); ok {
		if m, ok := x.Message.(*tg.Message); ok {
			out = append(out, msgOf(m))
		}
	}
	return out
}

func msgOf(m *tg.Message) msg {
	x := msg{ID: m.ID, Out: m.Out, Text: m.Message}
	if p, ok := m.PeerID.(*tg.PeerUser); ok {
		x.PeerID = p.UserID
	}
	// In a private chat from_id is optional: an incoming message is from the peer.
	if p, ok := m.FromID.(*tg.PeerUser); ok {
		x.FromID = p.UserID
	} else if !m.Out {
		x.FromID = x.PeerID
	}
	return x
}
