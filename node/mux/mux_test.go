package mux_test

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/raftgram/raftgram/node/mux"
	"github.com/raftgram/raftgram/node/pki"
)

func identity(t *testing.T, ca *pki.CA, id string) *pki.Identity {
	t.Helper()
	key, keyPEM, err := pki.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Issue(id, key.Public(), time.Now(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ident, err := pki.LoadIdentity(ca, cert, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return ident
}

func newCA(t *testing.T, name string) *pki.CA {
	t.Helper()
	ca, err := pki.NewCA(name, time.Now(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

type fixture struct {
	m       *mux.Mux
	addr    string
	rpcHits atomic.Int32
	joins   atomic.Int32
}

func start(t *testing.T, id *pki.Identity) *fixture {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m, err := mux.New(ln, mux.Options{Server: id.ServerTLS(), Client: id.ClientTLS(), HandshakeTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{m: m, addr: ln.Addr().String()}
	m.HandleRPC(func(c net.Conn, peer *x509.Certificate) {
		defer c.Close()
		f.rpcHits.Add(1)
		_, _ = c.Write([]byte(peer.Subject.CommonName))
	})
	m.HandleJoin(func(c net.Conn, peer *x509.Certificate) {
		defer c.Close()
		f.joins.Add(1)
		if peer == nil {
			_, _ = c.Write([]byte("anonymous"))
		}
	})
	done := make(chan error, 1)
	go func() { done <- m.Serve() }()
	t.Cleanup(func() {
		m.Close()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return f
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

// readAll reads until EOF or error and returns what arrived.
func readAll(c net.Conn) []byte {
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, _ := io.ReadAll(c)
	return b
}

func TestMemberStreams(t *testing.T) {
	ca := newCA(t, "a")
	srv, peer := identity(t, ca, "n1"), identity(t, ca, "n2")
	f := start(t, srv)
	layer := f.m.Layer(7)
	defer layer.Close()

	// RPC: the handler sees the verified peer identity.
	c, err := mux.Dial(ctx(t), f.addr, peer.ClientTLS(), mux.KindRPC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(readAll(c)); got != "n2" {
		t.Fatalf("rpc peer = %q, want n2", got)
	}
	c.Close()

	// Raft: a stream for group 7 reaches that group's StreamLayer, bytes flow both ways.
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := layer.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	rc, err := mux.Dial(ctx(t), f.addr, peer.ClientTLS(), mux.KindRaft, 7)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := rc.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	sc := <-accepted
	defer sc.Close()
	buf := make([]byte, 4)
	if _, err := io.ReadFull(sc, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("raft stream got %q, %v", buf, err)
	}
}

// TestOutsidersCannotReadOrInject: a process without a certificate of the cluster CA gets no Raft or RPC
// stream: not with no certificate, not with a certificate of another CA, not without TLS at all. Only the join
// stream accepts an anonymous peer (its handler checks the token).
func TestOutsidersCannotReadOrInject(t *testing.T) {
	ca := newCA(t, "cluster")
	srv := identity(t, ca, "n1")
	foreign := identity(t, newCA(t, "evil"), "n1") // same node name, wrong CA
	f := start(t, srv)
	layer := f.m.Layer(1)
	defer layer.Close()
	var raftConns atomic.Int32
	go func() {
		for {
			c, err := layer.Accept()
			if err != nil {
				return
			}
			raftConns.Add(1)
			c.Close()
		}
	}()

	anonymous := &tls.Config{MinVersion: tls.VersionTLS13, InsecureSkipVerify: true}
	withForeign := &tls.Config{MinVersion: tls.VersionTLS13, InsecureSkipVerify: true,
		Certificates: []tls.Certificate{foreign.Cert}}
	for _, tc := range []struct {
		name string
		cfg  *tls.Config
		kind byte
	}{
		{"anonymous raft", anonymous, mux.KindRaft},
		{"anonymous rpc", anonymous, mux.KindRPC},
		{"foreign CA raft", withForeign, mux.KindRaft},
		{"foreign CA rpc", withForeign, mux.KindRPC},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := mux.Dial(ctx(t), f.addr, tc.cfg, tc.kind, 1)
			if err != nil {
				return // refused during the handshake: fine
			}
			defer c.Close()
			// Try to inject: bytes shaped like a Raft RPC. The server must close without a byte of reply.
			_, _ = c.Write([]byte{0, 0, 0, 0, 1, 2, 3})
			if got := readAll(c); len(got) != 0 {
				t.Fatalf("server answered an outsider with %q", got)
			}
		})
	}
	// Plain TCP speaking the stream header without TLS.
	raw, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = raw.Write([]byte{'R', mux.KindRaft, 0, 0, 0, 1, 9, 9, 9})
	if got := readAll(raw); len(got) != 0 && got[0] != 0x15 { // a TLS alert record at most
		t.Fatalf("plain TCP got %q", got)
	}
	raw.Close()

	if n := f.rpcHits.Load(); n != 0 {
		t.Fatalf("RPC handler ran %d times for outsiders", n)
	}
	if n := raftConns.Load(); n != 0 {
		t.Fatalf("Raft layer accepted %d outsider connections", n)
	}
	// An outsider's client cannot even trust the cluster: dialing with the cluster CA pinned to a foreign CA
	// fails verification, so it cannot read what a member would send either.
	if _, err := mux.Dial(ctx(t), f.addr, foreign.ClientTLS(), mux.KindRPC, 0); err == nil {
		t.Fatal("dial with a foreign CA pool verified the cluster's certificate")
	}

	// The join stream is the one door open to anonymous peers.
	jc, err := mux.DialJoin(ctx(t), f.addr, pki.JoinTLS(pki.CAHash(ca.Cert.Raw)))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(readAll(jc)); got != "anonymous" {
		t.Fatalf("join handler answered %q", got)
	}
	jc.Close()
	// And a joiner pinning another CA hash refuses to talk to this cluster.
	if _, err := mux.DialJoin(ctx(t), f.addr, pki.JoinTLS(pki.CAHash([]byte("other")))); err == nil {
		t.Fatal("join dial accepted a server whose CA does not match the token")
	}
}

func TestLayerCloseKeepsListener(t *testing.T) {
	ca := newCA(t, "a")
	srv, peer := identity(t, ca, "n1"), identity(t, ca, "n2")
	f := start(t, srv)
	l := f.m.Layer(3)
	l.Close()
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("accept after close: %v", err)
	}
	c, err := mux.Dial(ctx(t), f.addr, peer.ClientTLS(), mux.KindRPC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(readAll(c)); got != "n2" {
		t.Fatalf("rpc after layer close: %q", got)
	}
}
