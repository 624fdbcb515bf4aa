package auth

import (
	"context"

	"github.com/raftgram/raftgram/node/handler"
	"github.com/raftgram/raftgram/tl"
	"github.com/raftgram/raftgram/tl/api"
)

// authorizationTTLDays is what account.getAuthorizations reports (no automatic expiry is enforced).
const authorizationTTLDays = 180

func (x *Domain) getAuthorizations(ctx context.Context, c *handler.Call, _ *api.AccountGetAuthorizationsRequest) (tl.Object, error) {
	auths, err := x.store.Auths(ctx, c.UserID)
	if err != nil {
		return nil, err
	}
	out := &api.AccountAuthorizations{AuthorizationTTLDays: authorizationTTLDays, Authorizations: []*api.Authorization{}}
	for _, a := range auths {
		current := a.PermKey == c.PermKeyID
		hash := a.Hash
		if current {
			hash = 0 // as Telegram: the current authorization is ended by auth.logOut, not by its hash
		}
		app := a.Platform
		if app == "" {
			app = "Unknown"
		}
		out.Authorizations = append(out.Authorizations, &api.Authorization{Current: current, Hash: hash,
			DeviceModel: a.DeviceModel, Platform: a.Platform, SystemVersion: a.SystemVersion, APIID: a.APIID,
			AppName: app, AppVersion: a.AppVersion, DateCreated: int32(a.Created / 1000),
			DateActive: int32(a.Active / 1000), IP: a.IP, Country: "", Region: ""})
	}
	// The current one first, as clients show it.
	for i, a := range out.Authorizations {
		if a.Current && i > 0 {
			copy(out.Authorizations[1:i+1], out.Authorizations[:i])
			out.Authorizations[0] = a
			break
		}
	}
	return out, nil
}

func (x *Domain) resetAuthorization(ctx context.Context, c *handler.Call, req *api.AccountResetAuthorizationRequest) (tl.Object, error) {
	if req.Hash == 0 {
		return nil, errHashInvalid
	}
	auths, err := x.store.Auths(ctx, c.UserID)
	if err != nil {
		return nil, err
	}
	for _, a := range auths {
		if a.Hash == req.Hash && a.PermKey != c.PermKeyID {
			if err := x.sessions.revoke(ctx, c.UserID, a.PermKey); err != nil {
				return nil, err
			}
			return api.BoolOf(true), nil
		}
	}
	return nil, errHashInvalid
}

func (x *Domain) resetAuthorizations(ctx context.Context, c *handler.Call, _ *api.AuthResetAuthorizationsRequest) (tl.Object, error) {
	auths, err := x.store.Auths(ctx, c.UserID)
	if err != nil {
		return nil, err
	}
	for _, a := range auths {
		if a.PermKey == c.PermKeyID {
			continue
		}
		if err := x.sessions.revoke(ctx, c.UserID, a.PermKey); err != nil {
			return nil, err
		}
	}
	return api.BoolOf(true), nil
}
