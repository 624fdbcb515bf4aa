package account

import (
	"fmt"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/raftgram/raftgram/fsm"
	"github.com/raftgram/raftgram/shard"
)

type testShard struct {
	t     *testing.T
	st    *fsm.State
	sm    *fsm.ShardFSM
	id    uint32
	index uint64
}

func openShard(t *testing.T, n int, id uint32) *testShard {
	t.Helper()
	st, err := fsm.Open(t.TempDir(), fsm.Options{OnFatal: func(err error) { t.Errorf("fatal: %v", err) }})
	if err != nil {
		t.Fatal(err)
	}
	for typ, a := range Appliers(n) {
		st.Register(typ, a)
	}
	t.Cleanup(func() { _ = st.Close() })
	return &testShard{t: t, st: st, sm: st.Shard(id), id: id}
}

func (s *testShard) apply(now int64, o Op) fsm.Result {
	s.t.Helper()
	s.index++
	data := fsm.EncodeCommand(fsm.Command{Type: TypeV1, Time: now, Payload: Payload(o)})
	er := s.sm.ApplyBatch([]*raft.Log{{Index: s.index, Term: 1, Type: raft.LogCommand, Data: data}})[0].(*fsm.EntryResult)
	if er.Err != nil {
		s.t.Fatalf("apply: %v", er.Err)
	}
	return er.Results[0]
}

func (s *testShard) outcome(now int64, o Op) Outcome {
	s.t.Helper()
	r := s.apply(now, o)
	if r.Err != nil {
		s.t.Fatalf("%T: %v", o, r.Err)
	}
	out, err := DecodeOutcome(r.Value)
	if err != nil {
		s.t.Fatal(err)
	}
	return out
}

func (s *testShard) query(q uint16, p []byte) []byte {
	s.t.Helper()
	var out []byte
	if err := s.st.View(s.id, func(r fsm.Reader) error {
		var err error
		out, err = Queries()[q](r, p)
		return err
	}); err != nil {
		s.t.Fatal(err)
	}
	return out
}

const ttl = 300_000

func TestSignUpFlow(t *testing.T) {
	const n = 3
	phone := "15550001"
	s := openShard(t, n, PhoneShard(phone, n))
	if o := s.outcome(1000, SendCode{Phone: phone, Hash: "h1", Code: "12345", TTL: ttl, MaxSends: 5, Window: 600_000}); o.Status != StatusOK || o.UserID != 0 {
		t.Fatalf("send: %+v", o)
	}
	if o := s.outcome(1001, SignUp{Phone: phone, Hash: "h1", FirstName: "A"}); o.Status != StatusNotVerified {
		t.Fatalf("signup before signin: %+v", o)
	}
	if o := s.outcome(1002, SignIn{Phone: phone, Hash: "h1", Code: "11111", MaxAttempts: 5, Lockout: 60_000}); o.Status != StatusCodeInvalid {
		t.Fatalf("wrong code: %+v", o)
	}
	if o := s.outcome(1003, SignIn{Phone: phone, Hash: "h1", Code: "12345", MaxAttempts: 5, Lockout: 60_000}); o.Status != StatusSignUpRequired {
		t.Fatalf("right code: %+v", o)
	}
	o := s.outcome(1004, SignUp{Phone: phone, Hash: "h1", FirstName: "A"})
	if o.Status != StatusOK || o.UserID <= FirstUserID || shard.Of(o.UserID, n) != s.id {
		t.Fatalf("signup: %+v (shard %d, want %d)", o, shard.Of(o.UserID, n), s.id)
	}
	uid := o.UserID
	// A retry of the same sign-up answers the same user.
	if o := s.outcome(1005, SignUp{Phone: phone, Hash: "h1", FirstName: "A"}); o.Status != StatusOK || o.UserID != uid {
		t.Fatalf("retry: %+v", o)
	}
	// A second verified code of the same phone cannot make a second user.
	s.outcome(1006, SendCode{Phone: phone, Hash: "h2", Code: "22222", TTL: ttl, MaxSends: 5, Window: 600_000})
	if o := s.outcome(1007, SignIn{Phone: phone, Hash: "h2", Code: "22222", MaxAttempts: 5, Lockout: 60_000}); o.Status != StatusOK || o.UserID != uid {
		t.Fatalf("sign in existing: %+v", o)
	}
	// Expiry.
	s.outcome(2000, SendCode{Phone: phone, Hash: "h3", Code: "33333", TTL: ttl, MaxSends: 5, Window: 600_000})
	if o := s.outcome(2000+ttl, SignIn{Phone: phone, Hash: "h3", Code: "33333", MaxAttempts: 5, Lockout: 60_000}); o.Status != StatusCodeExpired {
		t.Fatalf("expired: %+v", o)
	}
	ids, _ := DecodeIDs(s.query(QPhones, EncodeStrings([]string{phone, "999"})))
	if fmt.Sprint(ids) != fmt.Sprint([]int64{uid, 0}) {
		t.Fatalf("phones: %v", ids)
	}
}

func TestAttemptCapLocks(t *testing.T) {
	phone := "15550002"
	s := openShard(t, 1, 0)
	s.outcome(0, SendCode{Phone: phone, Hash: "h", Code: "1", TTL: ttl, MaxSends: 10, Window: 600_000})
	for i := 0; i < 3; i++ {
		if o := s.outcome(int64(i), SignIn{Phone: phone, Hash: "h", Code: "2", MaxAttempts: 3, Lockout: 60_000}); o.Status != StatusCodeInvalid {
			t.Fatalf("attempt %d: %+v", i, o)
		}
	}
	o := s.outcome(10, SignIn{Phone: phone, Hash: "h", Code: "1", MaxAttempts: 3, Lockout: 60_000})
	if o.Status != StatusFlood || o.Wait != 60 {
		t.Fatalf("after cap: %+v", o)
	}
	if o := s.outcome(20, SendCode{Phone: phone, Hash: "h2", Code: "1", TTL: ttl, MaxSends: 10, Window: 600_000}); o.Status != StatusFlood {
		t.Fatalf("send while locked: %+v", o)
	}
	// After the lock the old code is gone.
	if o := s.outcome(60_003, SignIn{Phone: phone, Hash: "h", Code: "1", MaxAttempts: 3, Lockout: 60_000}); o.Status != StatusCodeExpired {
		t.Fatalf("after lock: %+v", o)
	}
}

func TestUsernameProtocol(t *testing.T) {
	s := openShard(t, 1, 0)
	mk := func(phone string) int64 {
		s.outcome(0, SendCode{Phone: phone, Hash: "h", Code: "1", TTL: ttl, MaxSends: 10, Window: 600_000})
		s.outcome(0, SignIn{Phone: phone, Hash: "h", Code: "1", MaxAttempts: 3, Lockout: 60_000})
		return s.outcome(0, SignUp{Phone: phone, Hash: "h", FirstName: "x"}).UserID
	}
	a, b := mk("1"), mk("2")
	if r := s.apply(1, NamePending{UserID: a, Name: "Alice", Nonce: 1}); r.Err != nil {
		t.Fatal(r.Err)
	}
	if r := s.apply(1, NameClaim{Name: "alice", UserID: a, Nonce: 1}); r.Err != nil {
		t.Fatal(r.Err)
	}
	if r := s.apply(1, NameClaim{Name: "alice", UserID: b, Nonce: 9}); r.Err == nil {
		t.Fatal("second claim won")
	}
	// An abandoned attempt of a is reported by its next attempt, whose release frees the name.
	r := s.apply(2, NamePending{UserID: a, Name: "alice2", Nonce: 2})
	prev, _ := DecodeNameRef(r.Value)
	if prev != (NameRef{Name: "Alice", Nonce: 1}) {
		t.Fatalf("prev %+v", prev)
	}
	// The old attempt can no longer be confirmed.
	if r := s.apply(2, NameSet{UserID: a, Name: "Alice", Nonce: 1}); r.Err == nil {
		t.Fatal("stale NameSet applied")
	}
	s.apply(2, NameRelease{Name: "alice", UserID: a, Nonce: 1})
	if r := s.apply(3, NameClaim{Name: "alice", UserID: b, Nonce: 9}); r.Err != nil {
		t.Fatalf("after release: %v", r.Err)
	}
	id, _ := DecodeID(s.query(QName, []byte("alice")))
	if id != b {
		t.Fatalf("alice -> %d", id)
	}
}

// TestNameSetRollForwardIsIdempotent: an attempt cut after its claim is confirmed by someone else's NameSet (the
// roll-forward of node/handler/users settleClaim); the owner's own late NameSet then succeeds without reporting
// an old name to release, and the claim query names the owner and the attempt's nonce.
func TestNameSetRollForwardIsIdempotent(t *testing.T) {
	s := openShard(t, 1, 0)
	s.outcome(0, SendCode{Phone: "5", Hash: "h", Code: "1", TTL: ttl, MaxSends: 10, Window: 600_000})
	s.outcome(0, SignIn{Phone: "5", Hash: "h", Code: "1", MaxAttempts: 3, Lockout: 60_000})
	a := s.outcome(0, SignUp{Phone: "5", Hash: "h", FirstName: "x"}).UserID
	s.apply(1, NamePending{UserID: a, Name: "Bob", Nonce: 7})
	s.apply(1, NameClaim{Name: "bob", UserID: a, Nonce: 7})
	uid, nonce, err := DecodeNameClaim(s.query(QNameClaim, []byte("bob")))
	if err != nil || uid != a || nonce != 7 {
		t.Fatalf("claim = %d %d %v", uid, nonce, err)
	}
	for i := 0; i < 2; i++ { // the roll-forward, then the owner's own late confirmation
		r := s.apply(2, NameSet{UserID: a, Name: "Bob", Nonce: 7})
		if r.Err != nil {
			t.Fatalf("NameSet %d: %v", i, r.Err)
		}
		if old, _ := DecodeNameRef(r.Value); old.Name != "" {
			t.Fatalf("NameSet %d reports old name %+v", i, old)
		}
	}
	if uid, nonce, _ := DecodeNameClaim(s.query(QNameClaim, []byte("nobody"))); uid != 0 || nonce != 0 {
		t.Fatalf("free name claimed by %d", uid)
	}
}
