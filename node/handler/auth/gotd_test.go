package auth_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"

	"github.com/raftgram/raftgram/fsm/account"
	"github.com/raftgram/raftgram/node/handler/auth"
)

// TestSignUpSecondDeviceReset: gotd's auth.Flow signs a new phone up (signIn answers
// auth.authorizationSignUpRequired), a second key signs in to the same user with a code delivered as a
// service message (auth.sentCodeTypeApp), both list two authorizations, and resetting the second one makes
// its next call fail with AUTH_KEY_UNREGISTERED. Three shards on one node: user, phone and key records live in
// different shards.
func TestSignUpSecondDeviceReset(t *testing.T) {
	e := startEnv(t, 3, auth.Limits{}, nil)
	const phone = "15550100"
	a, b := e.client("device A"), e.client("device B")
	e.run(a, func(ctx context.Context, ca *tg.Client) error {
		// Before sign-in, user methods are refused.
		if _, err := ca.UsersGetUsers(ctx, []tg.InputUserClass{&tg.InputUserSelf{}}); !tgerr.Is(err, "AUTH_KEY_UNREGISTERED") {
			t.Errorf("getUsers before sign-in: %v", err)
		}
		me, err := e.login(ctx, a, phone, "Alice", 0)
		if err != nil {
			return err
		}
		if !me.Self || me.FirstName != "Alice" || me.Phone != phone || me.ID < account.FirstUserID {
			t.Errorf("self after sign-up: %+v", me)
		}
		var hashB int64
		e.run(b, func(ctx context.Context, cb *tg.Client) error {
			me2, err := e.login(ctx, b, phone, "", me.ID)
			if err != nil {
				return err
			}
			if me2.ID != me.ID {
				t.Errorf("second device signed in as %d, want %d", me2.ID, me.ID)
			}
			if e.fakes.lastServiceCode(me.ID) == "" {
				t.Errorf("code not delivered through the service account")
			}
			auths, err := cb.AccountGetAuthorizations(ctx)
			if err != nil {
				return err
			}
			if len(auths.Authorizations) != 2 || !auths.Authorizations[0].Current ||
				auths.Authorizations[0].DeviceModel != "device B" || auths.Authorizations[1].Hash == 0 {
				t.Errorf("authorizations seen by B: %+v", auths.Authorizations)
			}
			// A resets B.
			list, err := ca.AccountGetAuthorizations(ctx)
			if err != nil {
				return err
			}
			for _, au := range list.Authorizations {
				if au.DeviceModel == "device B" {
					hashB = au.Hash
				}
			}
			if ok, err := ca.AccountResetAuthorization(ctx, hashB); err != nil || !ok {
				t.Errorf("reset: %v %v", ok, err)
			}
			if _, err := cb.UsersGetUsers(ctx, []tg.InputUserClass{&tg.InputUserSelf{}}); !tgerr.Is(err, "AUTH_KEY_UNREGISTERED") {
				t.Errorf("B after reset: %v", err)
			}
			return nil
		})
		if _, err := ca.AccountResetAuthorization(ctx, hashB); !tgerr.Is(err, "HASH_INVALID") {
			t.Errorf("second reset: %v", err)
		}
		list, err := ca.AccountGetAuthorizations(ctx)
		if err != nil {
			return err
		}
		if len(list.Authorizations) != 1 || list.Authorizations[0].DeviceModel != "device A" {
			t.Errorf("after reset: %+v", list.Authorizations)
		}
		// A is still signed in; logOut ends it.
		if _, err := ca.UsersGetUsers(ctx, []tg.InputUserClass{&tg.InputUserSelf{}}); err != nil {
			t.Errorf("A after resetting B: %v", err)
		}
		if _, err := ca.AuthLogOut(ctx); err != nil {
			return err
		}
		if _, err := ca.UsersGetUsers(ctx, []tg.InputUserClass{&tg.InputUserSelf{}}); !tgerr.Is(err, "AUTH_KEY_UNREGISTERED") {
			t.Errorf("A after logOut: %v", err)
		}
		return nil
	})
}

// TestCodeErrors: what a client is told about bad phones and codes, expiry (the injected clock), the attempt
// cap (FLOOD_WAIT), and the /codes admin endpoint.
func TestCodeErrors(t *testing.T) {
	e := startEnv(t, 3, auth.Limits{MaxAttempts: 3, Lockout: time.Minute}, nil)
	c := e.client("dev")
	e.run(c, func(ctx context.Context, api *tg.Client) error {
		send := func(phone string) (*tg.AuthSentCode, error) {
			s, err := api.AuthSendCode(ctx, &tg.AuthSendCodeRequest{PhoneNumber: phone, APIID: 1, APIHash: "x"})
			if err != nil {
				return nil, err
			}
			return s.(*tg.AuthSentCode), nil
		}
		signIn := func(phone, hash, code string) error {
			_, err := api.AuthSignIn(ctx, &tg.AuthSignInRequest{PhoneNumber: phone, PhoneCodeHash: hash, PhoneCode: code})
			return err
		}
		if _, err := send("12"); !tgerr.Is(err, "PHONE_NUMBER_INVALID") {
			t.Errorf("short phone: %v", err)
		}
		if _, err := send("+1 555 abc"); !tgerr.Is(err, "PHONE_NUMBER_INVALID") {
			t.Errorf("letters: %v", err)
		}
		const phone = "15550200"
		s, err := send("+" + phone)
		if err != nil {
			return err
		}
		if _, ok := s.Type.(*tg.AuthSentCodeTypeSMS); !ok {
			t.Errorf("new phone: code type %T", s.Type)
		}
		body, err := e.getJSON("/codes")
		if err != nil {
			return err
		}
		var listed []auth.PendingCode
		if err := json.Unmarshal(body, &listed); err != nil || len(listed) != 1 || listed[0].Phone != "+"+phone ||
			len(listed[0].Code) != 5 {
			t.Errorf("/codes: %s (%v)", body, err)
		}
		if err := signIn(phone, s.PhoneCodeHash, ""); !tgerr.Is(err, "PHONE_CODE_EMPTY") {
			t.Errorf("empty code: %v", err)
		}
		if err := signIn(phone, "nohash", listed[0].Code); !tgerr.Is(err, "PHONE_CODE_EXPIRED") {
			t.Errorf("unknown hash: %v", err)
		}
		wrong := "00000"
		if listed[0].Code == wrong {
			wrong = "11111"
		}
		if err := signIn(phone, s.PhoneCodeHash, wrong); !tgerr.Is(err, "PHONE_CODE_INVALID") {
			t.Errorf("wrong code: %v", err)
		}
		// Expiry: the clock moves past the code's TTL.
		e.clock.Advance(6 * time.Minute)
		if err := signIn(phone, s.PhoneCodeHash, listed[0].Code); !tgerr.Is(err, "PHONE_CODE_EXPIRED") {
			t.Errorf("expired code: %v", err)
		}
		// Attempt cap: 3 wrong codes (one counted above), then FLOOD_WAIT even with the right code.
		s, err = send(phone)
		if err != nil {
			return err
		}
		code, err := e.codeFor(ctx, phone, s, 0)
		if err != nil {
			return err
		}
		if code == wrong {
			wrong = "22222"
		}
		for i := 0; i < 2; i++ {
			if err := signIn(phone, s.PhoneCodeHash, wrong); !tgerr.Is(err, "PHONE_CODE_INVALID") {
				t.Errorf("wrong code %d: %v", i, err)
			}
		}
		err = signIn(phone, s.PhoneCodeHash, code)
		if d, ok := tgerr.AsFloodWait(err); !ok || d <= 0 || d > time.Minute {
			t.Errorf("after the cap: %v", err)
		}
		if _, err := send(phone); !strings.HasPrefix(errType(err), "FLOOD_WAIT") {
			t.Errorf("sendCode while locked: %v", err)
		}
		// After the lock: a new code works.
		e.clock.Advance(61 * time.Second)
		s, err = send(phone)
		if err != nil {
			return err
		}
		code, err = e.codeFor(ctx, phone, s, 0)
		if err != nil {
			return err
		}
		r, err := api.AuthSignIn(ctx, &tg.AuthSignInRequest{PhoneNumber: phone, PhoneCodeHash: s.PhoneCodeHash, PhoneCode: code})
		if _, ok := r.(*tg.AuthAuthorizationSignUpRequired); err != nil || !ok {
			t.Errorf("sign in after the lock: %T %v", r, err)
		}
		if _, err := api.AuthSignUp(ctx, &tg.AuthSignUpRequest{PhoneNumber: phone, PhoneCodeHash: s.PhoneCodeHash}); !tgerr.Is(err, "FIRSTNAME_INVALID") {
			t.Errorf("empty first name: %v", err)
		}
		// A sign-up whose answer was lost is retried with the same hash: the same user, never a second one.
		var ids []int64
		for i := 0; i < 2; i++ {
			r, err := api.AuthSignUp(ctx, &tg.AuthSignUpRequest{PhoneNumber: phone, PhoneCodeHash: s.PhoneCodeHash, FirstName: "Retry"})
			if err != nil {
				return err
			}
			ids = append(ids, r.(*tg.AuthAuthorization).User.(*tg.User).ID)
		}
		if ids[0] != ids[1] {
			t.Errorf("retried sign-up: users %v", ids)
		}
		return nil
	})
}

func errType(err error) string {
	if e, ok := tgerr.As(err); ok {
		return e.Type
	}
	return ""
}
