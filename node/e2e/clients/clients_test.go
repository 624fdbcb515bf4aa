package clients_test

import (
	"bytes"
	"context"
	"crypto/rsa"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gotd/td/tg"

	gwcrypto "github.com/raftgram/raftgram/gateway/crypto"
	"github.com/raftgram/raftgram/node/e2e/tgclient"
	"github.com/raftgram/raftgram/node/testcluster"
)

const (
	devCode   = "22222"
	peerPhone = "15553000001"
	// oldLayersEnv=1 enables the clients whose layer the gateway does not project yet.
	oldLayersEnv = "RAFTGRAM_OLD_LAYERS"
	// clientsEnv names clients to run despite their blocker ("mtcute,gramjs"), or "all".
	clientsEnv = "RAFTGRAM_CLIENTS"
)

// client is one library under test.
type client struct {
	name  string
	layer int
	// optIn says why the client is not in make test (it passes, but costs too much there); such a client runs
	// only when clientsEnv names it (make test-clients: all), or, for a layer other than 227, with oldLayersEnv=1.
	optIn string
	// transport is passed to the program: "" is the library's default, "obfuscated" its obfuscated2 transport.
	transport string
	// file: the program also runs the "file" step (a document uploaded, sent to Saved Messages, downloaded).
	file bool
	// command prepares (installs, builds) what the client needs and returns the command line to which the config
	// JSON is appended, and the directory to run it in.
	command func(t *testing.T, ctx context.Context, tmp string) (argv []string, dir string)
}

// coldBuild: an old gotd version is a separate tree of generated code; its first build takes 3-4 CPU-minutes
// (measured on the 2-core CI machine), too much for make test's budget. make test-clients runs it.
const coldBuild = "its first build compiles another gotd version (3-4 CPU-minutes cold); make test-clients runs it"

// allClients: gotd uses intermediate, mtcute intermediate (obfuscated: obfuscated2 over padded intermediate),
// GramJS full (obfuscated: obfuscated2 over abridged).
var allClients = []client{
	{name: "mtcute", layer: 227, file: true, command: nodeScript("mtcute.mjs")},
	{name: "mtcute-obfuscated", layer: 227, transport: "obfuscated", file: true, command: nodeScript("mtcute.mjs")},
	{name: "gotd160", layer: 227, command: gotdBinary("go.mod")},
	{name: "gramjs", layer: 198, file: true, command: nodeScript("gramjs.mjs")},
	{name: "gramjs-obfuscated", layer: 198, transport: "obfuscated", file: true, command: nodeScript("gramjs.mjs")},
	{name: "gotd142", layer: 223, optIn: coldBuild, command: gotdBinary("go142.mod")},
	{name: "gotd93", layer: 170, optIn: coldBuild, command: gotdBinary("go93.mod")},
}

// enabled reports whether a client runs: always, unless it is opt-in and was not asked for.
func (cl client) enabled() bool {
	if cl.optIn == "" {
		return true
	}
	if cl.layer != 227 && os.Getenv(oldLayersEnv) == "1" {
		return true
	}
	for _, n := range strings.Split(os.Getenv(clientsEnv), ",") {
		if n == "all" || n == cl.name {
			return true
		}
	}
	return false
}

// env is what every scenario shares: the cluster, its key, and the peer user (gotd v0.160).
type env struct {
	c    *testcluster.Cluster
	pem  []byte
	pub  *rsa.PublicKey
	peer *tgclient.Device
	// peerID is the peer user's id.
	peerID int64
	tmp    string
}

// TestClients runs each client library's scenario (doc.go) against one 3-node cluster.
func TestClients(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 3 processes and client subprocesses")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute) // builds of old gotd are slow cold
	defer cancel()

	dir := t.TempDir()
	start := time.Now()
	c, err := testcluster.Start(ctx, testcluster.Options{Client: true, DevCode: devCode, Dir: dir})
	if err != nil {
		testcluster.LogTails(t, dir, 8000)
		t.Fatalf("start cluster: %v", err)
	}
	e := &env{c: c, tmp: t.TempDir()}
	t.Cleanup(func() {
		if e.peer != nil {
			_ = e.peer.Close()
		}
		c.LogUnimplemented(t)
		c.Close()
		if t.Failed() {
			testcluster.LogTails(t, dir, 8000)
		}
	})
	t.Logf("cluster of %d nodes up in %v", len(c.Nodes), time.Since(start).Round(time.Millisecond))
	if e.pem, err = c.PublicKeyPEM(); err != nil {
		t.Fatalf("public key: %v", err)
	}
	if e.pub, err = gwcrypto.ParsePublicPEM(e.pem); err != nil {
		t.Fatalf("public key: %v", err)
	}
	e.peer, err = tgclient.Start(ctx, tgclient.Options{Addr: c.Nodes[0].Client, PublicKey: e.pub})
	if err != nil {
		t.Fatalf("peer (gotd v0.160): %v", err)
	}
	me, err := e.peer.Login(ctx, peerPhone, devCode, "Peer", "Gotd")
	if err != nil {
		t.Fatalf("peer (gotd v0.160) login: %v", err)
	}
	e.peerID = me.ID

	for i, cl := range allClients {
		t.Run(cl.name, func(t *testing.T) {
			if !cl.enabled() {
				also := ""
				if cl.layer != 227 {
					also = fmt.Sprintf(" or %s=1", oldLayersEnv)
				}
				t.Skipf("opt-in (layer %d): %s; run it with %s=%s%s", cl.layer, cl.optIn, clientsEnv, cl.name, also)
			}
			e.scenario(t, ctx, cl, i)
		})
	}
}

// scenario prepares and runs one client against node i%3 and checks what it printed.
func (e *env) scenario(t *testing.T, ctx context.Context, cl client, i int) {
	argv, dir := cl.command(t, ctx, e.tmp)
	n := e.c.Nodes[i%len(e.c.Nodes)]
	host, portStr, err := net.SplitHostPort(n.Client)
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(portStr)
	s := expect{
		node:     n.Client,
		peerID:   e.peerID,
		texts:    []string{cl.name + " says 1", cl.name + " says 2", cl.name + " says 3"},
		pushText: "gotd v0.160 to " + cl.name,
		file:     cl.file,
		photo:    image.Pt(96, 64),
	}
	photo := testJPEG(t, s.photo)
	phone := fmt.Sprintf("1555400%04d", i)
	cfg := config{Host: host, Port: port, DC: 1, PEM: string(e.pem), Fingerprint: strconv.FormatInt(
		gwcrypto.Fingerprint(e.pub), 10), N: e.pub.N.String(), E: e.pub.E, Phone: phone, Code: devCode,
		FirstName: "Client", LastName: cl.name, PeerPhone: peerPhone, Texts: s.texts, PushText: s.pushText,
		Transport: cl.transport, TimeoutMs: 60_000, Photo: photo}

	// The peer answers "ready" by sending the push: it imports the client's phone for the access hash first.
	var clientPeer *tg.InputPeerUser
	onReady := func() error {
		res, err := e.peer.API.ContactsImportContacts(ctx, []tg.InputPhoneContact{{ClientID: int64(i + 1),
			Phone: phone, FirstName: "Client", LastName: cl.name}})
		if err != nil {
			return fmt.Errorf("peer imports %s: %w", phone, err)
		}
		for _, u := range res.Users {
			if u, ok := u.(*tg.User); ok && u.Phone == phone {
				hash, _ := u.GetAccessHash()
				clientPeer = &tg.InputPeerUser{UserID: u.ID, AccessHash: hash}
			}
		}
		if clientPeer == nil {
			return fmt.Errorf("peer imported %s: user not in the answer", phone)
		}
		_, err = e.peer.API.MessagesSendMessage(ctx, &tg.MessagesSendMessageRequest{Peer: clientPeer,
			Message: s.pushText, RandomID: time.Now().UnixNano()})
		if err != nil {
			return fmt.Errorf("peer sends %q: %w", s.pushText, err)
		}
		return nil
	}

	start := time.Now()
	lines, stderr, err := runScenario(ctx, argv, dir, cfg, onReady, t.Logf)
	t.Logf("%s (layer %d) on %s: scenario ran %v", cl.name, cl.layer, n.ID, time.Since(start).Round(time.Millisecond))
	if err != nil {
		t.Logf("%s exited: %v; stderr (tail):\n%s", cl.name, err, tail(stderr, 6000))
	}
	s.check(t, lines)

	// The peer's side of the dialog: the client's texts arrived, in order.
	if clientPeer != nil {
		got := e.peerHistory(t, ctx, clientPeer)
		var in []string
		for _, m := range got {
			if !m.Out {
				in = append(in, m.Text)
			}
		}
		if strings.Join(in, "|") != strings.Join(s.texts, "|") {
			t.Errorf("peer's getHistory with %s: incoming %q, want %q", cl.name, in, s.texts)
		}
	}
}

// peerHistory is the peer's messages.getHistory with u, oldest first.
func (e *env) peerHistory(t *testing.T, ctx context.Context, u *tg.InputPeerUser) []tgclient.Msg {
	deadline := time.Now().Add(15 * time.Second) // the client's sends reach the peer's box through the relay
	for {
		res, err := e.peer.API.MessagesGetHistory(ctx, &tg.MessagesGetHistoryRequest{Peer: u, Limit: 50})
		if err != nil {
			t.Errorf("peer getHistory: %v", err)
			return nil
		}
		mod, ok := res.AsModified()
		if !ok {
			t.Errorf("peer getHistory answered %T", res)
			return nil
		}
		var out []tgclient.Msg
		for _, m := range mod.GetMessages() {
			if x := tgclient.MsgOf(m); x != nil {
				out = append([]tgclient.Msg{*x}, out...)
			}
		}
		if len(out) >= 4 || time.Now().After(deadline) {
			return out
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// testJPEG is a JPEG of size with a gradient (the "photo" step sends it).
func testJPEG(t *testing.T, size image.Point) []byte {
	img := image.NewRGBA(image.Rectangle{Max: size})
	for y := range size.Y {
		for x := range size.X {
			img.Set(x, y, color.RGBA{R: uint8(x * 2), G: uint8(y * 3), B: 128, A: 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
