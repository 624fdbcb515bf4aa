package help_test

import (
	"bytes"
	"context"
	"crypto/rsa"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/gotd/td/session"
	"github.com/gotd/td/telegram"
	"github.com/gotd/td/telegram/dcs"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"

	gwcrypto "github.com/raftgram/raftgram/gateway/crypto"
	"github.com/raftgram/raftgram/node"
	"github.com/raftgram/raftgram/node/handler"
	"github.com/raftgram/raftgram/node/handler/help"
	"github.com/raftgram/raftgram/node/messenger"
	"github.com/raftgram/raftgram/node/nodetest"
	"github.com/raftgram/raftgram/tl"
	"github.com/raftgram/raftgram/tl/api"
)

const testUser = 1000

// fakeAuth signs the calling key in as testUser on auth.signIn (this node's gateway only): enough to reach the
// methods that need a user without the account domain.
type fakeAuth struct{ d messenger.Deps }

func (f *fakeAuth) Extension() node.Extension   { return node.Extension{} }
func (f *fakeAuth) Start(context.Context) error { return nil }
func (f *fakeAuth) Close() error                { return nil }
func (f *fakeAuth) Register(r *handler.Router) {
	handler.HandlePublic(r, func(_ context.Context, c *handler.Call, _ *api.AuthSignInRequest) (tl.Object, error) {
		e := f.d.Services.Edge()
		if e == nil {
			return nil, errors.New("no gateway")
		}
		e.BindUser(c.PermKeyID, testUser)
		name := "Test"
		return &api.AuthAuthorization{User: &api.User{Self: true, ID: testUser, FirstName: &name}}, nil
	})
	// A method the help domain also offers: registered first, it must win (help yields).
	handler.HandlePublic(r, func(context.Context, *handler.Call, *api.HelpGetInviteTextRequest) (tl.Object, error) {
		return &api.HelpInviteText{Message: "from another domain"}, nil
	})
}

// startNode runs a one-node cluster with a gateway serving the help domain (after fakeAuth).
func startNode(t *testing.T) (addr string, pub *rsa.PublicKey) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "n1")
	if _, err := node.Init(node.InitOptions{Dir: dir, NodeID: "n1", Shards: 1, Listen: nodetest.FreeAddr(t)}); err != nil {
		t.Fatal(err)
	}
	n, err := node.New(node.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	fake := func(d messenger.Deps) (messenger.Domain, error) { return &fakeAuth{d: d}, nil }
	m, err := messenger.New(n, messenger.Options{ClientAddr: "127.0.0.1:0", Log: testLog()}, fake, help.New)
	if err != nil {
		t.Fatal(err)
	}
	nodetest.Start(t, n)
	t.Cleanup(func() { n.Close() })
	pub = nodetest.PublicKey(t, n)
	addr = m.Host().Addr()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The address is published asynchronously; wait so help.getConfig lists it (not only a fallback).
	for {
		as, err := n.AllClientAddrs(ctx)
		if err == nil && len(as) == 1 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("client address never published: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return addr, pub
}

func testLog() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.DiscardHandler)
}

// TestStartupMethodsDecodeInGotd: a real gotd v0.160.0 client starts (initConnection + help.getConfig) and
// calls every start-up method this domain serves; each answer must decode into gotd's types. Methods that
// need a user answer 401 before sign-in.
func TestStartupMethodsDecodeInGotd(t *testing.T) {
	addr, pub := startNode(t)
	host, portStr, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portStr)
	client := telegram.NewClient(1, "test", telegram.Options{
		DC:             1,
		DCList:         dcs.List{Options: []tg.DCOption{{ID: 1, IPAddress: host, Port: port, Static: true}}},
		PublicKeys:     []telegram.PublicKey{{RSA: pub}},
		SessionStorage: &session.StorageMemory{},
		NoUpdates:      true,
		DialTimeout:    10 * time.Second,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	err := client.Run(ctx, func(ctx context.Context) error {
		c := client.API()
		publicCalls(ctx, t, c, host, port)

		// Before sign-in a user's settings are not served.
		if _, err := c.AccountGetNotifySettings(ctx, &tg.InputNotifyUsers{}); !tgerr.Is(err, "AUTH_KEY_UNREGISTERED") {
			t.Errorf("account.getNotifySettings before sign-in: %v", err)
		}
		if _, err := c.AuthSignIn(ctx, &tg.AuthSignInRequest{PhoneNumber: "1", PhoneCodeHash: "x"}); err != nil {
			return err
		}
		userCalls(ctx, t, c)
		return nil
	})
	if err != nil {
		t.Fatalf("gotd: %v", err)
	}
}

// must fails the test on a call's error and returns its answer.
func must[T any](t *testing.T, name string) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
		return v
	}
}

func publicCalls(ctx context.Context, t *testing.T, c *tg.Client, host string, port int) {
	cfg := must[*tg.Config](t, "help.getConfig")(c.HelpGetConfig(ctx))
	if cfg != nil {
		var tcp, ws bool
		for _, o := range cfg.DCOptions {
			if o.ID == 1 && o.IPAddress == host && o.Port == port && !o.TCPObfuscatedOnly && !o.MediaOnly {
				tcp = tcp || !o.ThisPortOnly
				ws = ws || o.ThisPortOnly
			}
		}
		if cfg.ThisDC != 1 || !tcp || !ws || cfg.Expires <= cfg.Date || cfg.MessageLengthMax == 0 {
			t.Errorf("help.getConfig: %+v", cfg)
		}
	}
	if nd := must[*tg.NearestDC](t, "help.getNearestDc")(c.HelpGetNearestDC(ctx)); nd != nil && nd.ThisDC != 1 {
		t.Errorf("nearest dc: %+v", nd)
	}
	ac := must[tg.HelpAppConfigClass](t, "help.getAppConfig")(c.HelpGetAppConfig(ctx, 0))
	// Called from gotd's goroutine: failures are Errorf, never Fatalf.
	if full, ok := ac.(*tg.HelpAppConfig); !ok {
		t.Errorf("help.getAppConfig(0) = %T", ac)
	} else {
		if _, ok := full.Config.(*tg.JSONObject); !ok {
			t.Errorf("app config is %T", full.Config)
		}
		if ac := must[tg.HelpAppConfigClass](t, "help.getAppConfig")(c.HelpGetAppConfig(ctx, full.Hash)); ac != nil {
			if _, ok := ac.(*tg.HelpAppConfigNotModified); !ok {
				t.Errorf("help.getAppConfig(its own hash) = %T, want not modified", ac)
			}
		}
	}
	must[tg.HelpCountriesListClass](t, "help.getCountriesList")(c.HelpGetCountriesList(ctx,
		&tg.HelpGetCountriesListRequest{LangCode: "en"}))
	must[tg.HelpTermsOfServiceUpdateClass](t, "help.getTermsOfServiceUpdate")(c.HelpGetTermsOfServiceUpdate(ctx))
	must[tg.HelpPromoDataClass](t, "help.getPromoData")(c.HelpGetPromoData(ctx))
	if it := must[*tg.HelpInviteText](t, "help.getInviteText")(c.HelpGetInviteText(ctx)); it != nil &&
		it.Message != "from another domain" {
		t.Errorf("help.getInviteText served by help although another domain registered it first: %q", it.Message)
	}
	must[tg.HelpAppUpdateClass](t, "help.getAppUpdate")(c.HelpGetAppUpdate(ctx, ""))
	must[*tg.CDNConfig](t, "help.getCdnConfig")(c.HelpGetCDNConfig(ctx))
	must[bool](t, "help.saveAppLog")(c.HelpSaveAppLog(ctx, nil))
	must[tg.HelpPassportConfigClass](t, "help.getPassportConfig")(c.HelpGetPassportConfig(ctx, 0))
	must[*tg.HelpSupportName](t, "help.getSupportName")(c.HelpGetSupportName(ctx))
	must[tg.HelpPeerColorsClass](t, "help.getPeerColors")(c.HelpGetPeerColors(ctx, 0))
	must[tg.HelpPeerColorsClass](t, "help.getPeerProfileColors")(c.HelpGetPeerProfileColors(ctx, 0))
	must[tg.HelpTimezonesListClass](t, "help.getTimezonesList")(c.HelpGetTimezonesList(ctx, 0))

	must[*tg.LangPackDifference](t, "langpack.getLangPack")(c.LangpackGetLangPack(ctx,
		&tg.LangpackGetLangPackRequest{LangPack: "tdesktop", LangCode: "en"}))
	must[[]tg.LangPackStringClass](t, "langpack.getStrings")(c.LangpackGetStrings(ctx,
		&tg.LangpackGetStringsRequest{LangPack: "tdesktop", LangCode: "en", Keys: []string{"lng_start"}}))
	if d := must[*tg.LangPackDifference](t, "langpack.getDifference")(c.LangpackGetDifference(ctx,
		&tg.LangpackGetDifferenceRequest{LangPack: "tdesktop", LangCode: "en", FromVersion: 1})); d != nil &&
		d.Version < d.FromVersion {
		t.Errorf("langpack.getDifference: %+v", d)
	}
	if ls := must[[]tg.LangPackLanguage](t, "langpack.getLanguages")(c.LangpackGetLanguages(ctx, "tdesktop")); len(ls) == 0 {
		t.Error("no language offered")
	}
	must[*tg.LangPackLanguage](t, "langpack.getLanguage")(c.LangpackGetLanguage(ctx,
		&tg.LangpackGetLanguageRequest{LangPack: "tdesktop", LangCode: "en"}))
	if _, err := c.LangpackGetLanguage(ctx, &tg.LangpackGetLanguageRequest{LangPack: "tdesktop", LangCode: "xx"}); !tgerr.Is(err, "LANG_CODE_NOT_SUPPORTED") {
		t.Errorf("langpack.getLanguage(xx): %v", err)
	}
}

func userCalls(ctx context.Context, t *testing.T, c *tg.Client) {
	if s := must[*tg.PeerNotifySettings](t, "account.getNotifySettings")(c.AccountGetNotifySettings(ctx,
		&tg.InputNotifyUsers{})); s != nil && s.ShowPreviews != true {
		t.Errorf("notify settings: %+v", s)
	}
	must[bool](t, "account.updateNotifySettings")(c.AccountUpdateNotifySettings(ctx,
		&tg.AccountUpdateNotifySettingsRequest{Peer: &tg.InputNotifyUsers{}, Settings: tg.InputPeerNotifySettings{}}))
	must[bool](t, "account.registerDevice")(c.AccountRegisterDevice(ctx,
		&tg.AccountRegisterDeviceRequest{TokenType: 2, Token: "t", OtherUIDs: []int64{}}))
	if p := must[*tg.AccountPrivacyRules](t, "account.getPrivacy")(c.AccountGetPrivacy(ctx,
		&tg.InputPrivacyKeyStatusTimestamp{})); p != nil {
		if len(p.Rules) != 1 || p.Rules[0].TypeID() != tg.PrivacyValueAllowAllTypeID {
			t.Errorf("privacy: %+v", p)
		}
	}
	if p := must[*tg.AccountPassword](t, "account.getPassword")(c.AccountGetPassword(ctx)); p != nil {
		algo, ok := p.NewAlgo.(*tg.PasswordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow)
		_, secure := p.NewSecureAlgo.(*tg.SecurePasswordKdfAlgoPBKDF2HMACSHA512iter100000)
		if p.HasPassword || !ok || !secure || algo.G != 3 || !bytes.Equal(algo.P, gwcrypto.DHPrimeBytes()) ||
			len(algo.Salt1) != 8 || len(algo.Salt2) != 16 || len(p.SecureRandom) != 32 {
			t.Errorf("account.getPassword: %+v", p)
		}
	}
	if all, ok := must[tg.StoriesAllStoriesClass](t, "stories.getAllStories")(c.StoriesGetAllStories(ctx,
		&tg.StoriesGetAllStoriesRequest{})).(*tg.StoriesAllStories); !ok || all.Count != 0 || len(all.PeerStories) != 0 {
		t.Errorf("stories.getAllStories: %+v", all)
	} else if _, ok := must[tg.StoriesAllStoriesClass](t, "stories.getAllStories(state)")(c.StoriesGetAllStories(ctx,
		&tg.StoriesGetAllStoriesRequest{State: all.State})).(*tg.StoriesAllStoriesNotModified); !ok {
		t.Errorf("stories.getAllStories with its own state is not 'not modified'")
	}
	must[*tg.AccountContentSettings](t, "account.getContentSettings")(c.AccountGetContentSettings(ctx))
	must[*tg.GlobalPrivacySettings](t, "account.getGlobalPrivacySettings")(c.AccountGetGlobalPrivacySettings(ctx))
	must[*tg.AccountAutoDownloadSettings](t, "account.getAutoDownloadSettings")(c.AccountGetAutoDownloadSettings(ctx))
	must[tg.AccountThemesClass](t, "account.getThemes")(c.AccountGetThemes(ctx, &tg.AccountGetThemesRequest{Format: "tdesktop"}))
	must[tg.AccountWallPapersClass](t, "account.getWallPapers")(c.AccountGetWallPapers(ctx, 0))
	must[tg.AccountEmojiStatusesClass](t, "account.getDefaultEmojiStatuses")(c.AccountGetDefaultEmojiStatuses(ctx, 0))
	must[tg.AccountEmojiStatusesClass](t, "account.getRecentEmojiStatuses")(c.AccountGetRecentEmojiStatuses(ctx, 0))

	must[bool](t, "account.getContactSignUpNotification")(c.AccountGetContactSignUpNotification(ctx))
	must[tg.ContactsTopPeersClass](t, "contacts.getTopPeers")(c.ContactsGetTopPeers(ctx,
		&tg.ContactsGetTopPeersRequest{Correspondents: true, Limit: 10}))
	must[tg.MessagesSavedReactionTagsClass](t, "messages.getSavedReactionTags")(c.MessagesGetSavedReactionTags(ctx,
		&tg.MessagesGetSavedReactionTagsRequest{}))
	must[tg.MessagesQuickRepliesClass](t, "messages.getQuickReplies")(c.MessagesGetQuickReplies(ctx, 0))
	ar := must[tg.MessagesAvailableReactionsClass](t, "messages.getAvailableReactions")(c.MessagesGetAvailableReactions(ctx, 0))
	if full, ok := ar.(*tg.MessagesAvailableReactions); ok {
		again := must[tg.MessagesAvailableReactionsClass](t, "messages.getAvailableReactions")(c.MessagesGetAvailableReactions(ctx, full.Hash))
		if _, ok := again.(*tg.MessagesAvailableReactionsNotModified); !ok {
			t.Errorf("available reactions with their own hash: %T", again)
		}
	} else {
		t.Errorf("messages.getAvailableReactions(0) = %T", ar)
	}
	must[tg.MessagesStickersClass](t, "messages.getStickers")(c.MessagesGetStickers(ctx, &tg.MessagesGetStickersRequest{Emoticon: "x"}))
	must[tg.MessagesAllStickersClass](t, "messages.getAllStickers")(c.MessagesGetAllStickers(ctx, 0))
	must[tg.MessagesAllStickersClass](t, "messages.getMaskStickers")(c.MessagesGetMaskStickers(ctx, 0))
	must[tg.MessagesAllStickersClass](t, "messages.getEmojiStickers")(c.MessagesGetEmojiStickers(ctx, 0))
	must[tg.MessagesFeaturedStickersClass](t, "messages.getFeaturedStickers")(c.MessagesGetFeaturedStickers(ctx, 0))
	must[tg.MessagesFeaturedStickersClass](t, "messages.getFeaturedEmojiStickers")(c.MessagesGetFeaturedEmojiStickers(ctx, 0))
	must[*tg.MessagesArchivedStickers](t, "messages.getArchivedStickers")(c.MessagesGetArchivedStickers(ctx,
		&tg.MessagesGetArchivedStickersRequest{Limit: 10}))
	must[tg.MessagesRecentStickersClass](t, "messages.getRecentStickers")(c.MessagesGetRecentStickers(ctx, &tg.MessagesGetRecentStickersRequest{}))
	must[tg.MessagesFavedStickersClass](t, "messages.getFavedStickers")(c.MessagesGetFavedStickers(ctx, 0))
	must[tg.MessagesSavedGifsClass](t, "messages.getSavedGifs")(c.MessagesGetSavedGifs(ctx, 0))
	must[*tg.EmojiKeywordsDifference](t, "messages.getEmojiKeywords")(c.MessagesGetEmojiKeywords(ctx, "en"))
	must[*tg.EmojiKeywordsDifference](t, "messages.getEmojiKeywordsDifference")(c.MessagesGetEmojiKeywordsDifference(ctx,
		&tg.MessagesGetEmojiKeywordsDifferenceRequest{LangCode: "en", FromVersion: 1}))
	must[[]tg.EmojiLanguage](t, "messages.getEmojiKeywordsLanguages")(c.MessagesGetEmojiKeywordsLanguages(ctx, []string{"en"}))
	must[tg.MessagesReactionsClass](t, "messages.getDefaultTagReactions")(c.MessagesGetDefaultTagReactions(ctx, 0))
	must[tg.MessagesReactionsClass](t, "messages.getTopReactions")(c.MessagesGetTopReactions(ctx, &tg.MessagesGetTopReactionsRequest{Limit: 10}))
	must[tg.MessagesReactionsClass](t, "messages.getRecentReactions")(c.MessagesGetRecentReactions(ctx, &tg.MessagesGetRecentReactionsRequest{Limit: 10}))
	must[tg.MessagesEmojiGroupsClass](t, "messages.getEmojiGroups")(c.MessagesGetEmojiGroups(ctx, 0))
	must[tg.MessagesEmojiGroupsClass](t, "messages.getEmojiStatusGroups")(c.MessagesGetEmojiStatusGroups(ctx, 0))
	must[tg.MessagesEmojiGroupsClass](t, "messages.getEmojiProfilePhotoGroups")(c.MessagesGetEmojiProfilePhotoGroups(ctx, 0))
	must[tg.MessagesEmojiGroupsClass](t, "messages.getEmojiStickerGroups")(c.MessagesGetEmojiStickerGroups(ctx, 0))
	must[tg.MessagesAvailableEffectsClass](t, "messages.getAvailableEffects")(c.MessagesGetAvailableEffects(ctx, 0))
	must[tg.AttachMenuBotsClass](t, "messages.getAttachMenuBots")(c.MessagesGetAttachMenuBots(ctx, 0))
	must[*tg.DefaultHistoryTTL](t, "messages.getDefaultHistoryTTL")(c.MessagesGetDefaultHistoryTTL(ctx))
	must[*tg.MessagesDialogFilters](t, "messages.getDialogFilters")(c.MessagesGetDialogFilters(ctx))
	must[[]tg.DialogFilterSuggested](t, "messages.getSuggestedDialogFilters")(c.MessagesGetSuggestedDialogFilters(ctx))
}
