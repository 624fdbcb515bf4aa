package help

import (
	"context"
	"time"

	"github.com/raftgram/raftgram/node/handler"
	"github.com/raftgram/raftgram/tl"
	"github.com/raftgram/raftgram/tl/api"
)

// appConfig is help.getAppConfig's JSON: the few limits clients read from it, matching what this server
// enforces. Clients fall back to built-in defaults for every key left out.
func appConfig() api.JSONValueClass {
	num := func(k string, v float64) *api.JSONObjectValue {
		return &api.JSONObjectValue{Key: k, Value: &api.JSONNumber{Value: v}}
	}
	return &api.JSONObject{Value: []*api.JSONObjectValue{
		num("reactions_uniq_max", 11),
		num("reactions_user_max_default", 1),
		num("dialogs_pinned_limit_default", 5),
		num("dialogs_folder_pinned_limit_default", 100),
		num("caption_length_limit_default", 1024),
		num("about_length_limit_default", 70),
		num("chat_read_mark_expire_period", 604800),
		num("pm_read_date_expire_period", 604800),
		{Key: "premium_purchase_blocked", Value: &api.JSONBool{Value: true}},
		{Key: "stickers_emoji_suggest_only_api", Value: &api.JSONBool{Value: false}},
		{Key: "emojies_send_dice", Value: &api.JSONArray{Value: []api.JSONValueClass{}}},
	}}
}

// expiresIn is a TL date d from now.
func (h *Domain) expiresIn(d time.Duration) int32 { return int32(h.clock().Add(d).Unix()) }

func (h *Domain) registerHelp(r *handler.Router) {
	public(r, h.getConfig)
	public(r, func(context.Context, *handler.Call, *api.HelpGetNearestDCRequest) (tl.Object, error) {
		// No geography in a private cluster: the nearest DC is the only one.
		return &api.NearestDC{Country: "", ThisDC: ThisDC, NearestDC: ThisDC}, nil
	})
	public(r, func(_ context.Context, _ *handler.Call, req *api.HelpGetAppConfigRequest) (tl.Object, error) {
		if notModified(int64(req.Hash)) {
			return &api.HelpAppConfigNotModified{}, nil
		}
		return &api.HelpAppConfig{Hash: catalogHash, Config: appConfig()}, nil
	})
	public(r, func(_ context.Context, _ *handler.Call, req *api.HelpGetCountriesListRequest) (tl.Object, error) {
		// Empty: clients then accept any international number typed in full.
		if notModified(int64(req.Hash)) {
			return &api.HelpCountriesListNotModified{}, nil
		}
		return &api.HelpCountriesList{Countries: []*api.HelpCountry{}, Hash: catalogHash}, nil
	})
	public(r, func(context.Context, *handler.Call, *api.HelpGetTermsOfServiceUpdateRequest) (tl.Object, error) {
		return &api.HelpTermsOfServiceUpdateEmpty{Expires: h.expiresIn(24 * time.Hour)}, nil
	})
	public(r, func(context.Context, *handler.Call, *api.HelpAcceptTermsOfServiceRequest) (tl.Object, error) {
		return api.BoolOf(true), nil
	})
	public(r, func(context.Context, *handler.Call, *api.HelpGetPromoDataRequest) (tl.Object, error) {
		return &api.HelpPromoDataEmpty{Expires: h.expiresIn(time.Hour)}, nil
	})
	public(r, func(context.Context, *handler.Call, *api.HelpHidePromoDataRequest) (tl.Object, error) {
		return api.BoolOf(true), nil
	})
	public(r, func(context.Context, *handler.Call, *api.HelpDismissSuggestionRequest) (tl.Object, error) {
		return api.BoolOf(true), nil
	})
	public(r, func(context.Context, *handler.Call, *api.HelpGetInviteTextRequest) (tl.Object, error) {
		return &api.HelpInviteText{Message: "Join me on raftgram."}, nil
	})
	public(r, func(context.Context, *handler.Call, *api.HelpGetAppUpdateRequest) (tl.Object, error) {
		return &api.HelpNoAppUpdate{}, nil
	})
	public(r, func(context.Context, *handler.Call, *api.HelpSaveAppLogRequest) (tl.Object, error) {
		return api.BoolOf(true), nil // client telemetry: nowhere to send it on an air-gapped site
	})
	public(r, func(context.Context, *handler.Call, *api.HelpGetCDNConfigRequest) (tl.Object, error) {
		return &api.CDNConfig{PublicKeys: []*api.CDNPublicKey{}}, nil // no CDN DCs
	})
	public(r, func(_ context.Context, _ *handler.Call, req *api.HelpGetPassportConfigRequest) (tl.Object, error) {
		// No Telegram Passport: no country has required documents.
		if notModified(int64(req.Hash)) {
			return &api.HelpPassportConfigNotModified{}, nil
		}
		return &api.HelpPassportConfig{Hash: catalogHash, CountriesLangs: &api.DataJSON{Data: "{}"}}, nil
	})
	public(r, func(context.Context, *handler.Call, *api.HelpGetSupportNameRequest) (tl.Object, error) {
		return &api.HelpSupportName{Name: "Support"}, nil
	})
	public(r, func(_ context.Context, _ *handler.Call, req *api.HelpGetPeerColorsRequest) (tl.Object, error) {
		if notModified(int64(req.Hash)) {
			return &api.HelpPeerColorsNotModified{}, nil
		}
		return &api.HelpPeerColors{Hash: catalogHash, Colors: []*api.HelpPeerColorOption{}}, nil
	})
	public(r, func(_ context.Context, _ *handler.Call, req *api.HelpGetPeerProfileColorsRequest) (tl.Object, error) {
		if notModified(int64(req.Hash)) {
			return &api.HelpPeerColorsNotModified{}, nil
		}
		return &api.HelpPeerColors{Hash: catalogHash, Colors: []*api.HelpPeerColorOption{}}, nil
	})
	public(r, func(_ context.Context, _ *handler.Call, req *api.HelpGetTimezonesListRequest) (tl.Object, error) {
		if notModified(int64(req.Hash)) {
			return &api.HelpTimezonesListNotModified{}, nil
		}
		return &api.HelpTimezonesList{Hash: catalogHash,
			Timezones: []*api.Timezone{{ID: "Etc/UTC", Name: "UTC", UtcOffset: 0}}}, nil
	})
}
