package gateway_test

import (
	"errors"
	"testing"

	"github.com/raftgram/raftgram/internal/testclient"
	"github.com/raftgram/raftgram/tl"
	"github.com/raftgram/raftgram/tl/api"
	"github.com/raftgram/raftgram/tl/mt"
)

func initWrap(q tl.Object) *api.InvokeWithLayerRequest {
	return &api.InvokeWithLayerRequest{Layer: 227, Query: &api.InitConnectionRequest{
		APIID: 1, DeviceModel: "test", SystemVersion: "linux", AppVersion: "0.1", SystemLangCode: "en",
		LangCode: "en", Query: q}}
}

func TestRawClientKeyConfigPing(t *testing.T) {
	s := startServer(t, nil)
	cl := newClient(t, s)
	ctx := ctxT(t)

	res, err := cl.Call(ctx, initWrap(&api.HelpGetConfigRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	cfg, ok := res.(*api.Config)
	if !ok || cfg.ThisDC != 1 || len(cfg.DCOptions) != 1 {
		t.Fatalf("config: %v", res)
	}
	call := s.backend.lastCall()
	if call.Layer != 227 || call.Init == nil || call.Init.DeviceModel != "test" || call.AuthKeyID != cl.Key.ID || call.SessionID != cl.ID {
		t.Fatalf("call metadata: %+v", call)
	}
	var sawNew, sawSalt bool
	for _, r := range cl.Seen {
		switch r.Obj.(type) {
		case *mt.NewSessionCreated:
			sawNew = true
		case *mt.BadServerSalt:
			sawSalt = true
		}
	}
	if !sawNew || !sawSalt {
		t.Fatalf("new_session_created %v, bad_server_salt for the initial salt %v", sawNew, sawSalt)
	}

	pong, err := cl.Call(ctx, &mt.PingRequest{PingID: 77})
	if err != nil || pong.(*mt.Pong).PingID != 77 {
		t.Fatalf("ping: %v %v", pong, err)
	}
	_, err = cl.Call(ctx, &api.HelpGetInviteTextRequest{})
	var rpcErr testclient.ErrRPC
	if !errors.As(err, &rpcErr) || rpcErr.ErrorCode != 400 || rpcErr.ErrorMessage != "METHOD_NOT_IMPLEMENTED" {
		t.Fatalf("unimplemented method: %v", err)
	}
	_, err = cl.Call(ctx, &api.UsersGetUsersRequest{ID: []api.InputUserClass{&api.InputUserSelf{}}})
	if !errors.As(err, &rpcErr) || rpcErr.ErrorCode != 401 {
		t.Fatalf("backend rpc error: %v", err)
	}
	fs, err := cl.Call(ctx, &mt.GetFutureSaltsRequest{Num: 3})
	if err != nil || len(fs.(*mt.FutureSalts).Salts) != 3 || fs.(*mt.FutureSalts).Salts[0].Salt != cl.Salt {
		t.Fatalf("future salts: %v %v", fs, err)
	}
}
