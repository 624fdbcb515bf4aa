package help

import (
	"context"
	"crypto/rand"

	gwcrypto "github.com/raftgram/raftgram/gateway/crypto"
	"github.com/raftgram/raftgram/node/handler"
	"github.com/raftgram/raftgram/tl"
	"github.com/raftgram/raftgram/tl/api"
)

// defaultNotify is every peer's notification setting: previews on, not muted, default sounds.
func defaultNotify() *api.PeerNotifySettings {
	yes, no, zero := true, false, int32(0)
	return &api.PeerNotifySettings{ShowPreviews: &yes, Silent: &no, MuteUntil: &zero,
		OtherSound: &api.NotificationSoundDefault{}}
}

// autoDownload is one tier of account.getAutoDownloadSettings.
func autoDownload(photo int32, video, file int64) *api.AutoDownloadSettings {
	return &api.AutoDownloadSettings{PhotoSizeMax: photo, VideoSizeMax: video, FileSizeMax: file,
		VideoUploadMaxbitrate: 100, SmallQueueActiveOperationsMax: 5, LargeQueueActiveOperationsMax: 2}
}

func (h *Domain) registerAccount(r *handler.Router) {
	signedIn(r, func(context.Context, *handler.Call, *api.AccountGetNotifySettingsRequest) (tl.Object, error) {
		return defaultNotify(), nil
	})
	signedIn(r, func(context.Context, *handler.Call, *api.AccountUpdateNotifySettingsRequest) (tl.Object, error) {
		// Accepted, not stored: notification settings are not kept yet (getNotifySettings answers defaults).
		return api.BoolOf(true), nil
	})
	signedIn(r, func(context.Context, *handler.Call, *api.AccountRegisterDeviceRequest) (tl.Object, error) {
		// No push service (APNs, FCM) is reachable from an air-gapped site: clients keep their MTProto
		// connection for updates. Accepted so that clients do not retry.
		return api.BoolOf(true), nil
	})
	signedIn(r, func(context.Context, *handler.Call, *api.AccountUnregisterDeviceRequest) (tl.Object, error) {
		return api.BoolOf(true), nil
	})
	signedIn(r, func(context.Context, *handler.Call, *api.AccountGetPrivacyRequest) (tl.Object, error) {
		// Privacy rules are not stored yet: everything is visible to everybody, which is what this answers.
		return &api.AccountPrivacyRules{Rules: []api.PrivacyRuleClass{&api.PrivacyValueAllowAll{}},
			Chats: []api.ChatClass{}, Users: []api.UserClass{}}, nil
	})
	signedIn(r, func(context.Context, *handler.Call, *api.AccountGetPasswordRequest) (tl.Object, error) {
		return noPassword(), nil
	})
	signedIn(r, func(context.Context, *handler.Call, *api.AccountGetContentSettingsRequest) (tl.Object, error) {
		return &api.AccountContentSettings{}, nil
	})
	signedIn(r, func(context.Context, *handler.Call, *api.AccountGetGlobalPrivacySettingsRequest) (tl.Object, error) {
		return &api.GlobalPrivacySettings{}, nil
	})
	signedIn(r, func(context.Context, *handler.Call, *api.AccountGetAutoDownloadSettingsRequest) (tl.Object, error) {
		return &api.AccountAutoDownloadSettings{
			Low:    autoDownload(1<<20, 0, 0),
			Medium: autoDownload(1<<20, 10<<20, 1<<20),
			High:   autoDownload(1<<20, 15<<20, 3<<20),
		}, nil
	})
	signedIn(r, func(_ context.Context, _ *handler.Call, req *api.AccountGetThemesRequest) (tl.Object, error) {
		if notModified(req.Hash) {
			return &api.AccountThemesNotModified{}, nil
		}
		return &api.AccountThemes{Hash: catalogHash, Themes: []*api.Theme{}}, nil
	})
	signedIn(r, func(_ context.Context, _ *handler.Call, req *api.AccountGetWallPapersRequest) (tl.Object, error) {
		if notModified(req.Hash) {
			return &api.AccountWallPapersNotModified{}, nil
		}
		return &api.AccountWallPapers{Hash: catalogHash, Wallpapers: []api.WallPaperClass{}}, nil
	})
	signedIn(r, func(context.Context, *handler.Call, *api.AccountGetContactSignUpNotificationRequest) (tl.Object, error) {
		return api.BoolOf(false), nil // no "contact joined" notices are sent
	})
	signedIn(r, func(_ context.Context, _ *handler.Call, req *api.ContactsGetTopPeersRequest) (tl.Object, error) {
		// Top peers (by message activity) are not ranked yet: an empty, valid rating.
		if notModified(req.Hash) {
			return &api.ContactsTopPeersNotModified{}, nil
		}
		return &api.ContactsTopPeers{Categories: []*api.TopPeerCategoryPeers{}, Chats: []api.ChatClass{},
			Users: []api.UserClass{}}, nil
	})
	emojiStatuses := func(hash int64) tl.Object {
		if notModified(hash) {
			return &api.AccountEmojiStatusesNotModified{}
		}
		return &api.AccountEmojiStatuses{Hash: catalogHash, Statuses: []api.EmojiStatusClass{}}
	}
	signedIn(r, func(_ context.Context, _ *handler.Call, req *api.AccountGetDefaultEmojiStatusesRequest) (tl.Object, error) {
		return emojiStatuses(req.Hash), nil
	})
	signedIn(r, func(_ context.Context, _ *handler.Call, req *api.AccountGetRecentEmojiStatusesRequest) (tl.Object, error) {
		return emojiStatuses(req.Hash), nil
	})
	signedIn(r, func(_ context.Context, _ *handler.Call, req *api.AccountGetChannelDefaultEmojiStatusesRequest) (tl.Object, error) {
		return emojiStatuses(req.Hash), nil
	})
}

// noPassword is account.getPassword's answer for an account without a cloud password, which is every account
// (two-step verification is not implemented): the parameters a client would set one with, fresh salts each time
// as Telegram sends them (the client appends its own random bytes to salt1), Telegram's 2048-bit prime with g = 3.
func noPassword() *api.AccountPassword {
	b := make([]byte, 8+16+8+32)
	_, _ = rand.Read(b) // never fails (crypto/rand crashes the program instead)
	return &api.AccountPassword{
		NewAlgo: &api.PasswordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow{Salt1: b[:8],
			Salt2: b[8:24], G: 3, P: gwcrypto.DHPrimeBytes()},
		NewSecureAlgo: &api.SecurePasswordKdfAlgoPBKDF2HMACSHA512iter100000{Salt: b[24:32]},
		SecureRandom:  b[32:],
	}
}
