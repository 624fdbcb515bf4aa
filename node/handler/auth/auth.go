package auth

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"

	"github.com/raftgram/raftgram/fsm"
	"github.com/raftgram/raftgram/fsm/account"
	"github.com/raftgram/raftgram/node/handler"
	"github.com/raftgram/raftgram/node/handler/users"
	"github.com/raftgram/raftgram/tl"
	"github.com/raftgram/raftgram/tl/api"
)

var fsmZero fsm.RequestID

// Errors real clients branch on (one table; the handlers below only pick from it).
var (
	errPhoneInvalid    = handler.BadRequest("PHONE_NUMBER_INVALID")
	errCodeInvalid     = handler.BadRequest("PHONE_CODE_INVALID")
	errCodeExpired     = handler.BadRequest("PHONE_CODE_EXPIRED")
	errCodeEmpty       = handler.BadRequest("PHONE_CODE_EMPTY")
	errCodeHashEmpty   = handler.BadRequest("PHONE_CODE_HASH_EMPTY")
	errPhoneOccupied   = handler.BadRequest("PHONE_NUMBER_OCCUPIED")
	errFirstName       = handler.BadRequest("FIRSTNAME_INVALID")
	errLastName        = handler.BadRequest("LASTNAME_INVALID")
	errHashInvalid     = handler.BadRequest("HASH_INVALID")
	errPhoneUnoccupied = handler.BadRequest("PHONE_NUMBER_UNOCCUPIED")
)

// outcomeErr maps a code command's outcome to the client's answer (nil for OK and sign-up required).
func outcomeErr(o account.Outcome) error {
	switch o.Status {
	case account.StatusCodeInvalid:
		return errCodeInvalid
	case account.StatusCodeExpired:
		return errCodeExpired
	case account.StatusFlood:
		return handler.FloodWait(int(o.Wait))
	case account.StatusOccupied:
		return errPhoneOccupied
	case account.StatusNotVerified:
		return errCodeInvalid
	}
	return nil
}

func (x *Domain) randomCode() (code, hash string, err error) {
	var b [16]byte
	if _, err := io.ReadFull(x.rand, b[:]); err != nil {
		return "", "", fmt.Errorf("auth: random: %w", err)
	}
	hash = hex.EncodeToString(b[:8])
	if x.deps.Options.DevCode != "" {
		return x.deps.Options.DevCode, hash, nil
	}
	n := uint64(0)
	for _, c := range b[8:] {
		n = n<<8 | uint64(c)
	}
	return fmt.Sprintf("%05d", n%100000), hash, nil
}

func (x *Domain) codeOp(ctx context.Context, phone string, op account.Op, reqID fsm.RequestID) (account.Outcome, error) {
	v, err := x.store.Propose(ctx, account.PhoneShard(phone, x.store.Shards()), op, reqID)
	if err != nil {
		return account.Outcome{}, err
	}
	return account.DecodeOutcome(v)
}

func (x *Domain) sendCode(ctx context.Context, c *handler.Call, req *api.AuthSendCodeRequest) (tl.Object, error) {
	phone, ok := users.NormalizePhone(req.PhoneNumber)
	if !ok {
		return nil, errPhoneInvalid
	}
	return x.issueCode(ctx, c, phone, "", false)
}

// issueCode stores a new code for phone (under hash, or a new one) and delivers it.
func (x *Domain) issueCode(ctx context.Context, _ *handler.Call, phone, hash string, resend bool) (tl.Object, error) {
	code, newHash, err := x.randomCode()
	if err != nil {
		return nil, err
	}
	if hash == "" {
		hash = newHash
	}
	o, err := x.codeOp(ctx, phone, account.SendCode{Phone: phone, Hash: hash, Code: code,
		TTL: x.lim.CodeTTL.Milliseconds(), MaxSends: int32(x.lim.MaxSends), Window: x.lim.SendWindow.Milliseconds()},
		fsmZero) // not deduplicated: a retried call draws a new hash, so it must store a new code
	if err != nil {
		return nil, err
	}
	if err := outcomeErr(o); err != nil {
		return nil, err
	}
	viaApp := x.deliver(ctx, phone, code, o, resend)
	sent := &api.AuthSentCode{PhoneCodeHash: hash, Timeout: ptr(int32(60))}
	length := int32(len(code))
	if viaApp {
		sent.Type = &api.AuthSentCodeTypeApp{Length: length}
		sent.NextType = &api.AuthCodeTypeSMS{}
	} else {
		sent.Type = &api.AuthSentCodeTypeSMS{Length: length}
	}
	return sent, nil
}

func ptr[T any](v T) *T { return &v }

func (x *Domain) resendCode(ctx context.Context, c *handler.Call, req *api.AuthResendCodeRequest) (tl.Object, error) {
	phone, ok := users.NormalizePhone(req.PhoneNumber)
	if !ok {
		return nil, errPhoneInvalid
	}
	if req.PhoneCodeHash == "" {
		return nil, errCodeHashEmpty
	}
	return x.issueCode(ctx, c, phone, req.PhoneCodeHash, true)
}

func (x *Domain) cancelCode(ctx context.Context, _ *handler.Call, req *api.AuthCancelCodeRequest) (tl.Object, error) {
	phone, ok := users.NormalizePhone(req.PhoneNumber)
	if !ok {
		return nil, errPhoneInvalid
	}
	if _, err := x.store.Propose(ctx, account.PhoneShard(phone, x.store.Shards()),
		account.CancelCode{Phone: phone, Hash: req.PhoneCodeHash}, fsmZero); err != nil {
		return nil, err
	}
	return api.BoolOf(true), nil
}

func (x *Domain) signIn(ctx context.Context, c *handler.Call, req *api.AuthSignInRequest) (tl.Object, error) {
	phone, ok := users.NormalizePhone(req.PhoneNumber)
	if !ok {
		return nil, errPhoneInvalid
	}
	if req.PhoneCodeHash == "" {
		return nil, errCodeHashEmpty
	}
	if req.PhoneCode == nil || *req.PhoneCode == "" {
		return nil, errCodeEmpty
	}
	o, err := x.codeOp(ctx, phone, account.SignIn{Phone: phone, Hash: req.PhoneCodeHash, Code: *req.PhoneCode,
		MaxAttempts: int32(x.lim.MaxAttempts), Lockout: x.lim.Lockout.Milliseconds()}, users.RequestID(c, 0))
	if err != nil {
		return nil, err
	}
	if err := outcomeErr(o); err != nil {
		return nil, err
	}
	if o.Status == account.StatusSignUpRequired {
		// gotd's auth.Flow (v0.160.0) and current apps expect this object, not PHONE_NUMBER_UNOCCUPIED.
		return &api.AuthAuthorizationSignUpRequired{}, nil
	}
	return x.authorize(ctx, c, o.UserID)
}

// authorize binds the caller's key to uid and answers auth.authorization with the user as themselves.
func (x *Domain) authorize(ctx context.Context, c *handler.Call, uid int64) (tl.Object, error) {
	if uid == 0 {
		return nil, errPhoneUnoccupied
	}
	if c.UserID != 0 && c.UserID != uid {
		// The key was signed in as someone else: that user's list must not keep it.
		if _, err := x.store.Propose(ctx, x.store.UserShard(c.UserID), account.DelAuth{UserID: c.UserID,
			PermKey: c.PermKeyID}, fsmZero); err != nil {
			return nil, err
		}
	}
	if err := x.sessions.signIn(ctx, c.PermKeyID, uid, c.Init); err != nil {
		return nil, err
	}
	us, err := x.dir.Users(ctx, uid, []int64{uid})
	if err != nil {
		return nil, err
	}
	if len(us) == 0 {
		return nil, handler.ErrInternal
	}
	return &api.AuthAuthorization{User: us[0]}, nil
}

func (x *Domain) signUp(ctx context.Context, c *handler.Call, req *api.AuthSignUpRequest) (tl.Object, error) {
	phone, ok := users.NormalizePhone(req.PhoneNumber)
	if !ok {
		return nil, errPhoneInvalid
	}
	if req.PhoneCodeHash == "" {
		return nil, errCodeHashEmpty
	}
	if req.FirstName == "" || !users.ValidName(req.FirstName) {
		return nil, errFirstName
	}
	if !users.ValidName(req.LastName) {
		return nil, errLastName
	}
	o, err := x.codeOp(ctx, phone, account.SignUp{Phone: phone, Hash: req.PhoneCodeHash, FirstName: req.FirstName,
		LastName: req.LastName}, users.RequestID(c, 0))
	if err != nil {
		return nil, err
	}
	if err := outcomeErr(o); err != nil {
		return nil, err
	}
	return x.authorize(ctx, c, o.UserID)
}

func (x *Domain) logOut(ctx context.Context, c *handler.Call, _ *api.AuthLogOutRequest) (tl.Object, error) {
	if err := x.sessions.revoke(ctx, c.UserID, c.PermKeyID); err != nil {
		return nil, err
	}
	return &api.AuthLoggedOut{}, nil
}
