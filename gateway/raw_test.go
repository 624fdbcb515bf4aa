package gateway_test

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/raftgram/raftgram/gateway"
	"github.com/raftgram/raftgram/gateway/crypto"
	"github.com/raftgram/raftgram/internal/testclient"
	"github.com/raftgram/raftgram/tl"
	"github.com/raftgram/raftgram/tl/api"
	"github.com/raftgram/raftgram/tl/mt"
)

// ready returns a client whose session is established (salt known, new_session_created seen).
func ready(t testing.TB, s *testServer) *testclient.Session {
	t.Helper()
	cl := newClient(t, s)
	if _, err := cl.Call(ctxT(t), initWrap(&api.HelpGetConfigRequest{})); err != nil {
		t.Fatal(err)
	}
	return cl
}

// stillServes checks that the server answers a fresh client: misbehaviour of one never affects others.
func stillServes(t *testing.T, s *testServer) {
	t.Helper()
	cl := ready(t, s)
	if _, err := cl.Call(ctxT(t), &mt.PingRequest{PingID: 1}); err != nil {
		t.Fatalf("server stopped serving others: %v", err)
	}
}

func expectBadMsg(t *testing.T, cl *testclient.Session, msgID int64, code int32) {
	t.Helper()
	_ = cl.Conn.SetDeadline(time.Now().Add(10 * time.Second))
	_, err := cl.Expect(5, func(r testclient.Received) bool {
		b, ok := r.Obj.(*mt.BadMsgNotification)
		if ok && b.BadMsgID == msgID {
			if b.ErrorCode != code {
				t.Fatalf("bad_msg_notification code %d, want %d", b.ErrorCode, code)
			}
			return true
		}
		return false
	})
	if err != nil {
		t.Fatalf("no bad_msg_notification %d: %v", code, err)
	}
}

func expectClosed(t *testing.T, c *testclient.Conn) error {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	for {
		_, err := c.ReadFrame()
		var te *testclient.TransportError
		if errors.As(err, &te) {
			return err
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && !isReset(err) {
				t.Fatalf("want the connection closed, got %v", err)
			}
			return nil
		}
	}
}

func isReset(err error) bool {
	var ne interface{ Timeout() bool }
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

func ping(t *testing.T) []byte {
	b, err := tl.Marshal(&mt.PingRequest{PingID: 5})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRawMsgIDChecks(t *testing.T) {
	s := startServer(t, nil)
	cl := ready(t, s)
	now := time.Now()
	old := (now.Add(-301*time.Second).Unix() << 32)
	if err := cl.SendRaw(old, cl.NextSeqNo(true), cl.Salt, ping(t), false); err != nil {
		t.Fatal(err)
	}
	expectBadMsg(t, cl, old, 16)
	future := (now.Add(40*time.Second).Unix() << 32)
	if err := cl.SendRaw(future, cl.NextSeqNo(true), cl.Salt, ping(t), false); err != nil {
		t.Fatal(err)
	}
	expectBadMsg(t, cl, future, 17)
	odd := cl.NextMsgID() | 1
	if err := cl.SendRaw(odd, cl.NextSeqNo(true), cl.Salt, ping(t), false); err != nil {
		t.Fatal(err)
	}
	expectBadMsg(t, cl, odd, 18)
	// A non-content message (http_wait) with an odd seq_no.
	wait, _ := tl.Marshal(&mt.HTTPWait{MaxDelay: 0, WaitAfter: 0, MaxWait: 0})
	id := cl.NextMsgID()
	if err := cl.SendRaw(id, 7, cl.Salt, wait, false); err != nil {
		t.Fatal(err)
	}
	expectBadMsg(t, cl, id, 34)
	// msgs_ack with an odd seq_no is accepted (mtcute numbers its acks as content-related; Telegram accepts
	// them): the ping after it is answered, and no bad_msg 34 is counted for the ack.
	ack, _ := tl.Marshal(&mt.MsgsAck{MsgIDs: []int64{1}})
	if err := cl.SendRaw(cl.NextMsgID(), 9, cl.Salt, ack, false); err != nil {
		t.Fatal(err)
	}
	if err := cl.SendRaw(cl.NextMsgID(), cl.NextSeqNo(true), cl.Salt, ping(t), false); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Expect(5, func(r testclient.Received) bool { _, ok := r.Obj.(*mt.Pong); return ok }); err != nil {
		t.Fatalf("after an odd-seq_no msgs_ack: %v", err)
	}
	m := s.Sessions().Metrics()
	for _, code := range []int{16, 17, 18, 34} {
		if m.BadMsg[code].Load() != 1 {
			t.Fatalf("metric for bad_msg %d: %d", code, m.BadMsg[code].Load())
		}
	}
	stillServes(t, s)
}

func TestRawStrictSeqNo(t *testing.T) {
	s := startServer(t, func(o *gateway.Options) { o.StrictSeqNo = true })
	cl := ready(t, s)
	id := cl.NextMsgID()
	if err := cl.SendRaw(id, 2, cl.Salt, ping(t), false); err != nil {
		t.Fatal(err)
	}
	expectBadMsg(t, cl, id, 35)
}

func TestRawReplayedMsgID(t *testing.T) {
	s := startServer(t, nil)
	cl := ready(t, s)
	before := s.backend.calls.Load()
	body, _ := tl.Marshal(&api.HelpGetConfigRequest{})
	id := cl.NextMsgID()
	frame, err := cl.Encrypt(id, cl.NextSeqNo(true), cl.Salt, body)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := cl.Conn.WriteFrame(frame, false); err != nil {
			t.Fatal(err)
		}
	}
	// One answer, then the replays only get acknowledged (or the same answer resent): never a second call.
	if _, err := cl.Expect(5, func(r testclient.Received) bool {
		rr, ok := r.Obj.(*mt.RPCResult)
		return ok && rr.ReqMsgID == id
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Call(ctxT(t), &mt.PingRequest{PingID: 9}); err != nil {
		t.Fatal(err)
	}
	if got := s.backend.calls.Load() - before; got != 1 {
		t.Fatalf("replayed request ran %d times", got)
	}
}

func TestRawStaleSalt(t *testing.T) {
	s := startServer(t, nil)
	cl := ready(t, s)
	good := cl.Salt
	before := s.backend.calls.Load()
	body, _ := tl.Marshal(&api.HelpGetConfigRequest{})
	id := cl.NextMsgID()
	if err := cl.SendRaw(id, cl.NextSeqNo(true), good^0x5555, body, false); err != nil {
		t.Fatal(err)
	}
	r, err := cl.Expect(5, func(r testclient.Received) bool { _, ok := r.Obj.(*mt.BadServerSalt); return ok })
	if err != nil {
		t.Fatal(err)
	}
	bs := r.Obj.(*mt.BadServerSalt)
	if bs.BadMsgID != id || bs.ErrorCode != 48 || bs.NewServerSalt != good {
		t.Fatalf("bad_server_salt %+v, want salt %x", bs, good)
	}
	if s.backend.calls.Load() != before {
		t.Fatal("a message with a stale salt was processed")
	}
	if _, err := cl.Call(ctxT(t), &mt.PingRequest{PingID: 2}); err != nil {
		t.Fatal(err)
	}
}

func TestRawWrongMsgKeyClosesOnlyThatConnection(t *testing.T) {
	s := startServer(t, nil)
	other := ready(t, s)
	cl := ready(t, s)
	frame, err := cl.Encrypt(cl.NextMsgID(), cl.NextSeqNo(true), cl.Salt, ping(t))
	if err != nil {
		t.Fatal(err)
	}
	frame[30] ^= 0x40 // inside the encrypted data: msg_key no longer matches
	if err := cl.Conn.WriteFrame(frame, false); err != nil {
		t.Fatal(err)
	}
	if te := expectClosed(t, cl.Conn); te != nil {
		t.Fatalf("a corrupt frame must not look like a lost key: %v", te)
	}
	if n := s.Metrics().Undecryptable.Load(); n != 1 {
		t.Fatalf("undecryptable metric %d", n)
	}
	if _, err := other.Call(ctxT(t), &mt.PingRequest{PingID: 3}); err != nil {
		t.Fatalf("other client affected: %v", err)
	}
	stillServes(t, s)
}

func TestRawUnknownAuthKey(t *testing.T) {
	s := startServer(t, nil)
	cl := newClient(t, s)
	cl.Key.ID ^= 1 // a key id the server does not know
	if err := cl.SendRaw(cl.NextMsgID(), 1, 0, ping(t), false); err != nil {
		t.Fatal(err)
	}
	err := expectClosed(t, cl.Conn)
	var te *testclient.TransportError
	if !errors.As(err, &te) || te.Code != -404 {
		t.Fatalf("want transport error -404, got %v", err)
	}
	if s.Metrics().UnknownKey.Load() != 1 {
		t.Fatal("unknown key not counted")
	}
	stillServes(t, s)
}

func TestRawMalformedFrames(t *testing.T) {
	s := startServer(t, nil)
	for name, payload := range map[string][]byte{
		"short":           {1, 2, 3, 4, 5, 6, 7},
		"plain_garbage":   append(make([]byte, 8), 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f),
		"plain_bad_tl":    append(append(make([]byte, 8), make([]byte, 8)...), 4, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef),
		"encrypted_short": {1, 1, 1, 1, 1, 1, 1, 1, 9, 9, 9, 9},
	} {
		t.Run(name, func(t *testing.T) {
			cl := newClient(t, s)
			if err := cl.Conn.WriteFrame(payload, false); err != nil {
				t.Fatal(err)
			}
			_ = expectClosed(t, cl.Conn)
		})
	}
	stillServes(t, s)
	for deadline := time.Now().Add(10 * time.Second); s.PendingBytes() != 0; {
		if time.Now().After(deadline) {
			t.Fatalf("inbox accounting leaked %d bytes", s.PendingBytes())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRawUndecodableAndContainers(t *testing.T) {
	s := startServer(t, nil)
	cl := ready(t, s)
	// An unknown constructor as a request: rpc_error, not silence.
	unknown := binary.LittleEndian.AppendUint32(nil, 0x0badc0de)
	id := cl.NextMsgID()
	if err := cl.SendRaw(id, cl.NextSeqNo(true), cl.Salt, unknown, false); err != nil {
		t.Fatal(err)
	}
	r, err := cl.Expect(5, func(r testclient.Received) bool {
		rr, ok := r.Obj.(*mt.RPCResult)
		return ok && rr.ReqMsgID == id
	})
	if err != nil {
		t.Fatal(err)
	}
	if e, ok := r.Obj.(*mt.RPCResult).Result.(*mt.RPCError); !ok || e.ErrorCode != 400 || e.ErrorMessage != "INPUT_METHOD_INVALID" {
		t.Fatalf("unknown method answer: %v", r.Obj)
	}

	// A container with a broken message and a ping: both answered.
	idBad, idPing := cl.NextMsgID(), cl.NextMsgID()
	seqBad, seqPing := cl.NextSeqNo(true), cl.NextSeqNo(true)
	e := tl.NewEncoder(nil)
	e.PutID(mt.MsgContainerTypeID)
	e.PutInt(2)
	e.PutLong(idBad)
	e.PutInt(seqBad)
	e.PutInt(4)
	e.PutRaw(unknown)
	p := ping(t)
	e.PutLong(idPing)
	e.PutInt(seqPing)
	e.PutInt(int32(len(p)))
	e.PutRaw(p)
	if err := cl.SendRaw(cl.NextMsgID(), cl.NextSeqNo(false), cl.Salt, e.Bytes(), false); err != nil {
		t.Fatal(err)
	}
	gotErr, gotPong := false, false
	if _, err := cl.Expect(6, func(r testclient.Received) bool {
		switch v := r.Obj.(type) {
		case *mt.RPCResult:
			gotErr = gotErr || v.ReqMsgID == idBad
		case *mt.Pong:
			gotPong = gotPong || v.MsgID == idPing
		}
		return gotErr && gotPong
	}); err != nil {
		t.Fatalf("container: error answered %v, pong %v", gotErr, gotPong)
	}

	// gzip_packed in both directions: a packed request, and a large answer that comes back packed.
	gz, err := tl.Gzip(&api.HelpGetNearestDCRequest{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := cl.Call(ctxT(t), gz)
	if err != nil {
		t.Fatal(err)
	}
	if nd, ok := res.(*api.NearestDC); !ok || len(nd.Country) != 9000 {
		t.Fatalf("nearest dc: %v", res)
	}
	if cl.GzipResults == 0 {
		t.Fatal("large result not sent gzip_packed")
	}

	// A panicking backend method answers 500 INTERNAL and the server goes on.
	_, err = cl.Call(ctxT(t), &api.HelpGetSupportRequest{})
	var rpcErr testclient.ErrRPC
	if !errors.As(err, &rpcErr) || rpcErr.ErrorCode != 500 {
		t.Fatalf("panicking backend: %v", err)
	}
	stillServes(t, s)
}

func TestRawServiceMessages(t *testing.T) {
	s := startServer(t, nil)
	cl := ready(t, s)
	ctx := ctxT(t)
	pingID, err := cl.Send(&mt.PingRequest{PingID: 11}, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Expect(5, func(r testclient.Received) bool { p, ok := r.Obj.(*mt.Pong); return ok && p.MsgID == pingID }); err != nil {
		t.Fatal(err)
	}
	st, err := cl.Call(ctx, &mt.MsgsStateReq{MsgIDs: []int64{pingID, (time.Now().Add(-time.Hour).Unix() << 32), cl.NextMsgID() + (100 << 32)}})
	if err != nil {
		t.Fatal(err)
	}
	if info := st.(*mt.MsgsStateInfo).Info; len(info) != 3 || info[0] != 4 || info[1] != 1 || info[2] != 3 {
		t.Fatalf("msgs_state_info %v", info)
	}
	res, err := cl.Call(ctx, &mt.PingDelayDisconnectRequest{PingID: 12, DisconnectDelay: 75})
	if err != nil || res.(*mt.Pong).PingID != 12 {
		t.Fatalf("ping_delay_disconnect: %v %v", res, err)
	}
	ds, err := cl.Call(ctx, &mt.DestroySessionRequest{SessionID: 12345})
	if _, ok := ds.(*mt.DestroySessionNone); err != nil || !ok {
		t.Fatalf("destroy_session of an unknown session: %v %v", ds, err)
	}
	// invokeAfterMsg: runs after the named call, and is answered.
	first, err := cl.Send(&api.HelpGetConfigRequest{}, true)
	if err != nil {
		t.Fatal(err)
	}
	after, err := cl.Send(&api.InvokeAfterMsgRequest{MsgID: first, Query: &api.HelpGetConfigRequest{}}, true)
	if err != nil {
		t.Fatal(err)
	}
	var order []int64
	if _, err := cl.Expect(8, func(r testclient.Received) bool {
		if rr, ok := r.Obj.(*mt.RPCResult); ok && (rr.ReqMsgID == first || rr.ReqMsgID == after) {
			order = append(order, rr.ReqMsgID)
		}
		return len(order) == 2
	}); err != nil {
		t.Fatal(err)
	}
	if order[0] != first {
		t.Fatal("invokeAfterMsg answered before the message it waits for")
	}
}

func TestRawRequireInit(t *testing.T) {
	s := startServer(t, func(o *gateway.Options) { o.RequireInit = true })
	cl := newClient(t, s)
	_, err := cl.Call(ctxT(t), &api.HelpGetConfigRequest{})
	var rpcErr testclient.ErrRPC
	if !errors.As(err, &rpcErr) || rpcErr.ErrorMessage != "CONNECTION_NOT_INITED" {
		t.Fatalf("want CONNECTION_NOT_INITED, got %v", err)
	}
	// mtcute counts any answer as initialised: initConnection is recorded even when the inner query fails.
	_, err = cl.Call(ctxT(t), initWrap(&api.HelpGetInviteTextRequest{}))
	if !errors.As(err, &rpcErr) || rpcErr.ErrorMessage != "METHOD_NOT_IMPLEMENTED" {
		t.Fatalf("inner failure: %v", err)
	}
	if _, err := cl.Call(ctxT(t), &api.HelpGetConfigRequest{}); err != nil {
		t.Fatalf("after a failed initConnection: %v", err)
	}
}

// TestRawSessionMovesAndPush: a session continues on a new connection of the same key, gets what was pushed
// while it had none, and is reachable over two connections at once.
func TestRawSessionMovesAndPush(t *testing.T) {
	s := startServer(t, nil)
	cl := ready(t, s)
	s.BindUser(cl.Key.ID, 42)
	if err := s.Push(42, &api.UpdatesTooLong{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Expect(5, func(r testclient.Received) bool { _, ok := r.Obj.(*api.UpdatesTooLong); return ok }); err != nil {
		t.Fatalf("push to a live session: %v", err)
	}
	_ = cl.Conn.Close()
	time.Sleep(100 * time.Millisecond) // let the server see the close (the push below must queue)
	if err := s.Push(42, &api.UpdatesTooLong{}); err != nil {
		t.Fatal(err)
	}
	c2, err := testclient.Dial(ctxT(t), s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c2.Close() })
	cl2 := &testclient.Session{Conn: c2, Key: cl.Key, ID: cl.ID, Salt: cl.Salt, Now: time.Now}
	if _, err := cl2.Call(ctxT(t), &mt.PingRequest{PingID: 4}); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range cl2.Seen {
		if _, ok := r.Obj.(*api.UpdatesTooLong); ok {
			found = true
		}
		if _, ok := r.Obj.(*mt.NewSessionCreated); ok {
			t.Fatal("new_session_created for a continuing session")
		}
	}
	if !found {
		t.Fatal("update pushed while disconnected was not resent on the new connection")
	}
	if call := s.backend.calls.Load(); call == 0 {
		t.Fatal("no calls")
	}
}

// TestRawTempKeyExpiry: a temporary key works until expires_in has passed, then gets -404.
func TestRawTempKeyExpiry(t *testing.T) {
	var offset atomic.Int64
	s := startServer(t, func(o *gateway.Options) {
		o.Now = func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	})
	c, err := testclient.Dial(ctxT(t), s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	res, err := testclient.CreateKey(ctxT(t), c.PlainRoundTrip(), &serverKey(t).Private.PublicKey,
		testclient.KeyOptions{DC: 1, ExpiresIn: 60, Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	cl := testclient.NewSession(c, res.Key, res.Salt)
	if _, err := cl.Call(ctxT(t), &mt.PingRequest{PingID: 1}); err != nil {
		t.Fatal(err)
	}
	offset.Store(int64(61 * time.Second))
	if err := cl.SendRaw(cl.NextMsgID(), cl.NextSeqNo(true), cl.Salt, ping(t), false); err != nil {
		t.Fatal(err)
	}
	err = expectClosed(t, cl.Conn)
	var te *testclient.TransportError
	if !errors.As(err, &te) || te.Code != -404 {
		t.Fatalf("expired temporary key: want -404, got %v", err)
	}
}

func TestRawQuickAck(t *testing.T) {
	s := startServer(t, nil)
	cl := ready(t, s)
	frame, err := cl.Encrypt(cl.NextMsgID(), cl.NextSeqNo(true), cl.Salt, ping(t))
	if err != nil {
		t.Fatal(err)
	}
	_, want, err := crypto.DecryptMessage(&cl.Key, crypto.ClientToServer, append([]byte(nil), frame...))
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.Conn.WriteFrame(frame, true); err != nil {
		t.Fatal(err)
	}
	_ = cl.Conn.SetDeadline(time.Now().Add(10 * time.Second))
	for {
		_, err := cl.Conn.ReadFrame()
		var qa *testclient.QuickAck
		if errors.As(err, &qa) {
			if qa.Token != want {
				t.Fatalf("quick ack %#x, want %#x", qa.Token, want)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestRawOneSessionTwoConnections: one session used from two connections at once, and destroy_session of a
// sibling session of the same key.
func TestRawOneSessionTwoConnections(t *testing.T) {
	s := startServer(t, nil)
	a := ready(t, s)
	c2, err := testclient.Dial(ctxT(t), s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c2.Close() })
	b := &testclient.Session{Conn: c2, Key: a.Key, ID: a.ID, Salt: a.Salt, Now: time.Now}
	for i := range 3 {
		if _, err := b.Call(ctxT(t), &mt.PingRequest{PingID: int64(i)}); err != nil {
			t.Fatalf("second connection: %v", err)
		}
		if _, err := a.Call(ctxT(t), &mt.PingRequest{PingID: int64(i)}); err != nil {
			t.Fatalf("first connection: %v", err)
		}
	}
	if n := len(s.Sessions().Sessions(a.Key.ID)); n != 1 {
		t.Fatalf("%d sessions for one session id", n)
	}
	// A sibling session on the second connection destroys the first one.
	sib := &testclient.Session{Conn: c2, Key: a.Key, ID: a.ID + 1, Salt: a.Salt, Now: time.Now}
	res, err := sib.Call(ctxT(t), &mt.DestroySessionRequest{SessionID: a.ID})
	if _, ok := res.(*mt.DestroySessionOk); err != nil || !ok {
		t.Fatalf("destroy_session: %v %v", res, err)
	}
	if n := len(s.Sessions().Sessions(a.Key.ID)); n != 1 {
		t.Fatalf("%d sessions after destroy_session, want the sibling only", n)
	}
}

// TestRawResendReq: msg_resend_req gets an unacknowledged server message again.
func TestRawResendReq(t *testing.T) {
	s := startServer(t, nil)
	cl := ready(t, s)
	s.BindUser(cl.Key.ID, 7)
	if err := s.Push(7, &api.UpdatesTooLong{}); err != nil {
		t.Fatal(err)
	}
	r, err := cl.Expect(5, func(r testclient.Received) bool { _, ok := r.Obj.(*api.UpdatesTooLong); return ok })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Send(&mt.MsgResendReq{MsgIDs: []int64{r.MsgID}}, true); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Expect(5, func(x testclient.Received) bool {
		_, ok := x.Obj.(*api.UpdatesTooLong)
		return ok && x.MsgID == r.MsgID
	}); err != nil {
		t.Fatalf("not resent: %v", err)
	}
}

// TestRawMtcuteFirstContainer: a new session whose very first message is a container of two
// invokeWithLayer(initConnection(...)) calls plus get_future_salts and msgs_state_req, as mtcute sends.
func TestRawMtcuteFirstContainer(t *testing.T) {
	s := startServer(t, nil)
	first := ready(t, s)
	cl := testclient.NewSession(first.Conn, first.Key, first.Salt) // a fresh session id on the same key
	type part struct {
		id  int64
		seq int32
		b   []byte
	}
	var parts []part
	for _, obj := range []tl.Object{
		initWrap(&api.HelpGetConfigRequest{}),
		initWrap(&api.HelpGetInviteTextRequest{}),
		&mt.GetFutureSaltsRequest{Num: 2},
		&mt.MsgsStateReq{MsgIDs: []int64{1 << 34}},
	} {
		b, err := tl.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, part{cl.NextMsgID(), cl.NextSeqNo(true), b})
	}
	e := tl.NewEncoder(nil)
	e.PutID(mt.MsgContainerTypeID)
	e.PutInt(int32(len(parts)))
	for _, p := range parts {
		e.PutLong(p.id)
		e.PutInt(p.seq)
		e.PutInt(int32(len(p.b)))
		e.PutRaw(p.b)
	}
	if err := cl.SendRaw(cl.NextMsgID(), cl.NextSeqNo(false), cl.Salt, e.Bytes(), false); err != nil {
		t.Fatal(err)
	}
	answered := map[int64]bool{}
	sawNew := false
	if _, err := cl.Expect(10, func(r testclient.Received) bool {
		switch v := r.Obj.(type) {
		case *mt.NewSessionCreated:
			sawNew = true
		case *mt.RPCResult:
			answered[v.ReqMsgID] = true
		case *mt.FutureSalts:
			answered[v.ReqMsgID] = true
		case *mt.MsgsStateInfo:
			answered[v.ReqMsgID] = true
		}
		return len(answered) == len(parts)
	}); err != nil {
		t.Fatalf("answered %d of %d: %v", len(answered), len(parts), err)
	}
	if !sawNew {
		t.Fatal("no new_session_created for the new session")
	}
	if n := len(s.Sessions().Sessions(cl.Key.ID)); n != 2 {
		t.Fatalf("%d sessions, want 2", n)
	}
	if got := s.Sessions().Sessions(cl.Key.ID); got[0].Layer() != 227 || got[1].Layer() != 227 {
		t.Fatal("layer not recorded per session")
	}
}

// TestRawReplayOnOtherConnection: a captured frame replayed on another connection is not processed again
// and does not divert the session: pushes still reach the real client.
func TestRawReplayOnOtherConnection(t *testing.T) {
	s := startServer(t, nil)
	cl := ready(t, s)
	s.BindUser(cl.Key.ID, 9)
	before := s.backend.calls.Load()
	body, _ := tl.Marshal(&api.HelpGetConfigRequest{})
	id := cl.NextMsgID()
	frame, err := cl.Encrypt(id, cl.NextSeqNo(true), cl.Salt, body)
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.Conn.WriteFrame(frame, false); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Expect(5, func(r testclient.Received) bool {
		rr, ok := r.Obj.(*mt.RPCResult)
		return ok && rr.ReqMsgID == id
	}); err != nil {
		t.Fatal(err)
	}
	attacker, err := testclient.Dial(ctxT(t), s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = attacker.Close() })
	if err := attacker.WriteFrame(frame, false); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // let the replay be processed before the push
	if err := s.Push(9, &api.UpdatesTooLong{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Expect(5, func(r testclient.Received) bool { _, ok := r.Obj.(*api.UpdatesTooLong); return ok }); err != nil {
		t.Fatalf("push diverted by a replay: %v", err)
	}
	if n := s.backend.calls.Load() - before; n != 1 {
		t.Fatalf("replayed call ran %d times", n)
	}
}
