package auth_test

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/raftgram/raftgram/gateway"
	"github.com/raftgram/raftgram/gateway/handshake"
	"github.com/raftgram/raftgram/node/access"
	"github.com/raftgram/raftgram/node/authkeys"
	"github.com/raftgram/raftgram/node/handler/auth"
	"github.com/raftgram/raftgram/node/messenger"
	"github.com/raftgram/raftgram/tl/api"
)

// newKey stores a fresh permanent auth key (what the handshake would have done) and returns its id.
func newKey(b testing.TB, e *env) int64 {
	var k handshake.AuthKey
	_, _ = rand.Read(k.Key[:])
	k.ID = int64(binary.LittleEndian.Uint64(k.Key[:8]) >> 1)
	k.CreatedAt = time.Now()
	if err := authkeys.NewStore(e.n).Put(context.Background(), k); err != nil {
		b.Fatal(err)
	}
	return k.ID
}

// BenchmarkSignUp: one full sign-up through the API router on a one-node, three-shard cluster (sendCode,
// signIn -> sign-up required, signUp, key binding: six Raft commands and a query), sequentially.
//
//	go test -run '^$' -bench SignUp -benchtime 200x ./node/handler/auth/
func BenchmarkSignUp(b *testing.B) {
	e := startEnv(b, 3, auth.Limits{MaxSends: 1 << 20}, func(o *messenger.Options) { o.DevCode = "11111" })
	r := e.m.Router()
	ctx := context.Background()
	keys := make([]int64, b.N)
	for i := range keys {
		keys[i] = newKey(b, e)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		phone := fmt.Sprintf("1777%07d", i)
		call := gateway.Call{AuthKeyID: keys[i], PermKeyID: keys[i], MsgID: int64(i*4 + 1)}
		call.Request = &api.AuthSendCodeRequest{PhoneNumber: phone}
		res, err := r.Invoke(ctx, call)
		if err != nil {
			b.Fatal(err)
		}
		hash := res.(*api.AuthSentCode).PhoneCodeHash
		call.MsgID += 4
		code := "11111"
		call.Request = &api.AuthSignInRequest{PhoneNumber: phone, PhoneCodeHash: hash, PhoneCode: &code}
		if _, err := r.Invoke(ctx, call); err != nil {
			b.Fatal(err)
		}
		call.MsgID += 4
		call.Request = &api.AuthSignUpRequest{PhoneNumber: phone, PhoneCodeHash: hash, FirstName: "U"}
		if res, err := r.Invoke(ctx, call); err != nil {
			b.Fatal(err)
		} else if _, ok := res.(*api.AuthAuthorization); !ok {
			b.Fatalf("signUp: %T", res)
		}
	}
}

// BenchmarkGetUsers: users.getUsers of three users on three shards (one query per shard, in parallel).
//
//	go test -run '^$' -bench GetUsers -benchtime 2000x ./node/handler/auth/
func BenchmarkGetUsers(b *testing.B) {
	e := startEnv(b, 3, auth.Limits{}, func(o *messenger.Options) { o.DevCode = "11111" })
	r := e.m.Router()
	ctx := context.Background()
	var ids []int64
	var viewer gateway.Call
	for i, phone := range phonesOnShards(3, 900) {
		k := newKey(b, e)
		call := gateway.Call{AuthKeyID: k, PermKeyID: k, MsgID: int64(i*16 + 1), Request: &api.AuthSendCodeRequest{PhoneNumber: phone}}
		res, err := r.Invoke(ctx, call)
		if err != nil {
			b.Fatal(err)
		}
		hash, code := res.(*api.AuthSentCode).PhoneCodeHash, "11111"
		call.MsgID += 4
		call.Request = &api.AuthSignInRequest{PhoneNumber: phone, PhoneCodeHash: hash, PhoneCode: &code}
		if _, err := r.Invoke(ctx, call); err != nil {
			b.Fatal(err)
		}
		call.MsgID += 4
		call.Request = &api.AuthSignUpRequest{PhoneNumber: phone, PhoneCodeHash: hash, FirstName: "U"}
		res, err = r.Invoke(ctx, call)
		if err != nil {
			b.Fatal(err)
		}
		u := res.(*api.AuthAuthorization).User.(*api.User)
		ids = append(ids, u.ID)
		viewer = call
		viewer.UserID = u.ID
	}
	h := access.New(e.n.DataDir().Secret)
	in := []api.InputUserClass{&api.InputUserSelf{}}
	for _, id := range ids[:2] {
		in = append(in, &api.InputUser{UserID: id, AccessHash: h.User(viewer.UserID, id)})
	}
	viewer.Request = &api.UsersGetUsersRequest{ID: in}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := r.Invoke(ctx, viewer)
		if err != nil {
			b.Fatal(err)
		}
		if n := len(res.(*api.UserClassVector).Elems); n != 3 {
			b.Fatalf("%d users", n)
		}
	}
}
