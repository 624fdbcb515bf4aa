package help

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/raftgram/raftgram/gateway"
	"github.com/raftgram/raftgram/node"
	"github.com/raftgram/raftgram/node/handler"
	"github.com/raftgram/raftgram/node/messenger"
	"github.com/raftgram/raftgram/tl"
	"github.com/raftgram/raftgram/tl/api"
)

// requests are one of every method the domain serves, with the fields clients send.
func requests() []tl.Object {
	return []tl.Object{
		&api.HelpGetConfigRequest{}, &api.HelpGetNearestDCRequest{}, &api.HelpGetAppConfigRequest{},
		&api.HelpGetCountriesListRequest{LangCode: "en"}, &api.HelpGetTermsOfServiceUpdateRequest{},
		&api.HelpAcceptTermsOfServiceRequest{ID: &api.DataJSON{Data: "{}"}}, &api.HelpGetPromoDataRequest{},
		&api.HelpHidePromoDataRequest{Peer: &api.InputPeerEmpty{}}, &api.HelpDismissSuggestionRequest{Peer: &api.InputPeerEmpty{}},
		&api.HelpGetInviteTextRequest{}, &api.HelpGetAppUpdateRequest{}, &api.HelpSaveAppLogRequest{},
		&api.HelpGetCDNConfigRequest{}, &api.HelpGetPassportConfigRequest{}, &api.HelpGetSupportNameRequest{},
		&api.HelpGetPeerColorsRequest{}, &api.HelpGetPeerProfileColorsRequest{}, &api.HelpGetTimezonesListRequest{},
		&api.LangpackGetLangPackRequest{LangCode: "en"}, &api.LangpackGetDifferenceRequest{LangCode: "en"},
		&api.LangpackGetStringsRequest{LangCode: "en"}, &api.LangpackGetLanguagesRequest{},
		&api.LangpackGetLanguageRequest{LangCode: "en"},
		&api.AccountGetNotifySettingsRequest{Peer: &api.InputNotifyUsers{}},
		&api.AccountUpdateNotifySettingsRequest{Peer: &api.InputNotifyUsers{}, Settings: &api.InputPeerNotifySettings{}},
		&api.AccountRegisterDeviceRequest{}, &api.AccountUnregisterDeviceRequest{},
		&api.AccountGetPrivacyRequest{Key: &api.InputPrivacyKeyStatusTimestamp{}}, &api.AccountGetContentSettingsRequest{},
		&api.AccountGetGlobalPrivacySettingsRequest{}, &api.AccountGetAutoDownloadSettingsRequest{},
		&api.AccountGetThemesRequest{}, &api.AccountGetWallPapersRequest{}, &api.AccountGetContactSignUpNotificationRequest{},
		&api.ContactsGetTopPeersRequest{}, &api.AccountGetDefaultEmojiStatusesRequest{},
		&api.AccountGetRecentEmojiStatusesRequest{}, &api.AccountGetChannelDefaultEmojiStatusesRequest{},
		&api.MessagesGetAvailableReactionsRequest{}, &api.MessagesGetStickersRequest{}, &api.MessagesGetAllStickersRequest{},
		&api.MessagesGetMaskStickersRequest{}, &api.MessagesGetEmojiStickersRequest{}, &api.MessagesGetFeaturedStickersRequest{},
		&api.MessagesGetFeaturedEmojiStickersRequest{}, &api.MessagesGetArchivedStickersRequest{},
		&api.MessagesGetRecentStickersRequest{}, &api.MessagesGetFavedStickersRequest{}, &api.MessagesGetSavedGifsRequest{},
		&api.MessagesGetEmojiKeywordsRequest{LangCode: "en"}, &api.MessagesGetEmojiKeywordsDifferenceRequest{LangCode: "en"},
		&api.MessagesGetEmojiKeywordsLanguagesRequest{}, &api.MessagesGetDefaultTagReactionsRequest{},
		&api.MessagesGetTopReactionsRequest{}, &api.MessagesGetRecentReactionsRequest{}, &api.MessagesGetEmojiGroupsRequest{},
		&api.MessagesGetEmojiStatusGroupsRequest{}, &api.MessagesGetEmojiProfilePhotoGroupsRequest{},
		&api.MessagesGetEmojiStickerGroupsRequest{}, &api.MessagesGetAvailableEffectsRequest{},
		&api.MessagesGetAttachMenuBotsRequest{}, &api.MessagesGetSavedReactionTagsRequest{},
		&api.MessagesGetQuickRepliesRequest{}, &api.MessagesGetDefaultHistoryTTLRequest{},
		&api.MessagesGetDialogFiltersRequest{}, &api.MessagesGetSuggestedDialogFiltersRequest{},
	}
}

// TestEveryAnswerEncodes calls every method with the hash 0 and with the server's own hash: each answer encodes
// as layer 227, and the test lists which answers an older-layer client could not decode until the gateway
// projects them (tl/DESIGN.md).
func TestEveryAnswerEncodes(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	d, err := New(messenger.Deps{Options: messenger.Options{ClientAddr: "127.0.0.1:2443"}, Clock: func() time.Time { return now },
		Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	h := d.(*Domain)
	h.dcsLoad = func(context.Context) ([]node.ClientAddrs, int, error) {
		return []node.ClientAddrs{{NodeID: "n1", TCP: "127.0.0.1:2443", WS: "127.0.0.1:2443"}}, 1, nil
	}
	r := handler.NewRouter(nil)
	h.Register(r)
	older := map[string][]string{}
	for _, req := range requests() {
		if !r.Has(req) {
			t.Errorf("%s not registered", tl.Name(req))
			continue
		}
		res, err := r.Invoke(context.Background(), gateway.Call{UserID: 1, Layer: 227, Request: req})
		if err != nil {
			t.Errorf("%s: %v", tl.Name(req), err)
			continue
		}
		e := tl.NewEncoder(nil)
		if err := res.Encode(e); err != nil || e.Err() != nil {
			t.Errorf("%s: encode %T: %v %v", tl.Name(req), res, err, e.Err())
		}
		for _, l := range []api.Layer{api.L223, api.L198, api.L170} {
			var nl *api.NotInLayerError
			if err := api.CheckLayer(res, l); errors.As(err, &nl) {
				older[tl.Name(req)] = append(older[tl.Name(req)], nl.Error())
			}
		}
	}
	for m, errs := range older {
		t.Logf("%s: %s", m, strings.Join(errs, "; "))
	}
	// Before sign-in only help.* and langpack.* answer.
	res, err := r.Invoke(context.Background(), gateway.Call{Request: &api.AccountGetNotifySettingsRequest{Peer: &api.InputNotifyUsers{}}})
	if err != handler.ErrUnregistered || res != nil {
		t.Errorf("account.getNotifySettings signed out: %v %v", res, err)
	}
	if _, err := r.Invoke(context.Background(), gateway.Call{Request: &api.HelpGetConfigRequest{}}); err != nil {
		t.Errorf("help.getConfig signed out: %v", err)
	}
}
