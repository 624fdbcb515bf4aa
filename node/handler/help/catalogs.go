package help

import (
	"context"

	"github.com/raftgram/raftgram/node/handler"
	"github.com/raftgram/raftgram/tl"
	"github.com/raftgram/raftgram/tl/api"
)

// The server has no stickers, custom emoji, reactions, effects, attachment-menu bots or stories yet: every
// catalog is valid and empty, or "not modified" for a client that already holds the empty one.

func allStickers(hash int64) tl.Object {
	if notModified(hash) {
		return &api.MessagesAllStickersNotModified{}
	}
	return &api.MessagesAllStickers{Hash: catalogHash, Sets: []*api.StickerSet{}}
}

func reactions(hash int64) tl.Object {
	if notModified(hash) {
		return &api.MessagesReactionsNotModified{}
	}
	return &api.MessagesReactions{Hash: catalogHash, Reactions: []api.ReactionClass{}}
}

func featured(hash int64) tl.Object {
	if notModified(hash) {
		return &api.MessagesFeaturedStickersNotModified{Count: 0}
	}
	return &api.MessagesFeaturedStickers{Hash: catalogHash, Sets: []api.StickerSetCoveredClass{},
		Unread: []int64{}}
}

func emojiGroups(hash int32) tl.Object {
	if notModified(int64(hash)) {
		return &api.MessagesEmojiGroupsNotModified{}
	}
	return &api.MessagesEmojiGroups{Hash: catalogHash, Groups: []api.EmojiGroupClass{}}
}

func emojiKeywords(code string, from int32) tl.Object {
	v := max(from, langVersion)
	return &api.EmojiKeywordsDifference{LangCode: code, FromVersion: min(from, v), Version: v,
		Keywords: []api.EmojiKeywordClass{}}
}

// noStoriesState is the stories.getAllStories state of a server without stories: it never changes.
const noStoriesState = "0"

func (h *Domain) registerCatalogs(r *handler.Router) {
	signedIn(r, func(_ context.Context, _ *handler.Call, req *api.StoriesGetAllStoriesRequest) (tl.Object, error) {
		if req.State != nil && *req.State == noStoriesState {
			return &api.StoriesAllStoriesNotModified{State: noStoriesState, StealthMode: &api.StoriesStealthMode{}}, nil
		}
		return &api.StoriesAllStories{State: noStoriesState, PeerStories: []*api.PeerStories{},
			Chats: []api.ChatClass{}, Users: []api.UserClass{}, StealthMode: &api.StoriesStealthMode{}}, nil
	})
	signedIn(r, func(_ context.Context, _ *handler.Call, req *api.MessagesGetAvailableReactionsRequest) (tl.Object, error) {
		if notModified(int64(req.Hash)) {
			return &api.MessagesAvailableReactionsNotModified{}, nil
		}
		return &api.MessagesAvailableReactions{Hash: catalogHash, Reactions: []*api.AvailableReaction{}}, nil
	})
	signedIn(r, func(_ context.Context, _ *handler.Call, req *api.MessagesGetStickersRequest) (tl.Object, error) {
		if notModified(req.Hash) {
			return &api.MessagesStickersNotModified{}, nil
		}
		return &api.MessagesStickers{Hash: catalogHash, Stickers: []api.DocumentClass{}}, nil
	})
	signedIn(r, func(_ context.Context, _ *handler.Call, req *api.MessagesGetAllStickersRequest) (tl.Object, error) {
		return allStickers(req.Hash), nil
	})
	signedIn(r, func(_ context.Context, _ *handler.Call, req *api.MessagesGetMaskStickersRequest) (tl.Object, error) {
		return allStickers(req.Hash), nil
	})
	signedIn(r, func(_ context.Context, _ *handler.Call, req *api.MessagesGetEmojiStickersRequest) (tl.Object, error) {
		return allStickers(req.Hash), nil
	})
	signedIn(r, func(_ context.Context, _ *handler.Call, req *api.MessagesGetFeaturedStickersRequest) (tl.Object, error) {
		return featured(req.Hash), nil
	})
	signedIn(r, func(_ context.Context, _ *handler.Call, req *api.MessagesGetFeaturedEmojiStickersRequest) (tl.Object, error) {
		return featured(req.Hash), nil
	})
	signedIn(r, func(context.Context, *handler.Call, *api.MessagesGetArchivedStickersRequest) (tl.Object, error) {
		return &api.MessagesArchivedStickers{Count: 0, Sets: []api.StickerSetCoveredClass{}}, nil
	})
	signedIn(r, func(_ context.Context, _ *handler.Call, req *api.MessagesGetRecentStickersRequest) (tl.Object, error) {
		if notModified(req.Hash) {
			return &api.MessagesRecentStickersNotModified{}, nil
		}
		return &api.MessagesRecentStickers{Hash: catalogHash, Packs: []*api.StickerPack{},
			Stickers: []api.DocumentClass{}, Dates: []int32{}}, nil
	})
	signedIn(r, func(_ context.Context, _ *handler.Call, req *api.MessagesGetFavedStickersRequest) (tl.Object, error) {
		if notModified(req.Hash) {
			return &api.MessagesFavedStickersNotModified{}, nil
		}
		return &api.MessagesFavedStickers{Hash: catalogHash, Packs: []*api.StickerPack{},
			Stickers: []api.DocumentClass{}}, nil
	})
	signedIn(r, func(_ context.Context, _ *handler.Call, req *api.MessagesGetSavedGifsRequest) (tl.Object, error) {
		if notModified(req.Hash) {
			return &api.MessagesSavedGifsNotModified{}, nil
		}
		return &api.MessagesSavedGifs{Hash: catalogHash, Gifs: []api.DocumentClass{}}, nil
	})
	signedIn(r, func(_ context.Context, _ *handler.Call, req *api.MessagesGetEmojiKeywordsRequest) (tl.Object, error) {
		return emojiKeywords(req.LangCode, 0), nil
	})
	signedIn(r, func(_ context.Context, _ *handler.Call, req *api.MessagesGetEmojiKeywordsDifferenceRequest) (tl.Object, error) {
		return emojiKeywords(req.LangCode, req.FromVersion), nil
	})
	signedIn(r, func(context.Context, *handler.Call, *api.MessagesGetEmojiKeywordsLanguagesRequest) (tl.Object, error) {
		return &api.EmojiLanguageVector{Elems: []*api.EmojiLanguage{}}, nil
	})
	signedIn(r, func(_ context.Context, _ *handler.Call, req *api.MessagesGetDefaultTagReactionsRequest) (tl.Object, error) {
		return reactions(req.Hash), nil
	})
	signedIn(r, func(_ context.Context, _ *handler.Call, req *api.MessagesGetTopReactionsRequest) (tl.Object, error) {
		return reactions(req.Hash), nil
	})
	signedIn(r, func(_ context.Context, _ *handler.Call, req *api.MessagesGetRecentReactionsRequest) (tl.Object, error) {
		return reactions(req.Hash), nil
	})
	signedIn(r, func(_ context.Context, _ *handler.Call, req *api.MessagesGetEmojiGroupsRequest) (tl.Object, error) {
		return emojiGroups(req.Hash), nil
	})
	signedIn(r, func(_ context.Context, _ *handler.Call, req *api.MessagesGetEmojiStatusGroupsRequest) (tl.Object, error) {
		return emojiGroups(req.Hash), nil
	})
	signedIn(r, func(_ context.Context, _ *handler.Call, req *api.MessagesGetEmojiProfilePhotoGroupsRequest) (tl.Object, error) {
		return emojiGroups(req.Hash), nil
	})
	signedIn(r, func(_ context.Context, _ *handler.Call, req *api.MessagesGetEmojiStickerGroupsRequest) (tl.Object, error) {
		return emojiGroups(req.Hash), nil
	})
	signedIn(r, func(_ context.Context, _ *handler.Call, req *api.MessagesGetAvailableEffectsRequest) (tl.Object, error) {
		if notModified(int64(req.Hash)) {
			return &api.MessagesAvailableEffectsNotModified{}, nil
		}
		return &api.MessagesAvailableEffects{Hash: catalogHash, Effects: []*api.AvailableEffect{},
			Documents: []api.DocumentClass{}}, nil
	})
	signedIn(r, func(_ context.Context, _ *handler.Call, req *api.MessagesGetAttachMenuBotsRequest) (tl.Object, error) {
		if notModified(req.Hash) {
			return &api.AttachMenuBotsNotModified{}, nil
		}
		return &api.AttachMenuBots{Hash: catalogHash, Bots: []*api.AttachMenuBot{}, Users: []api.UserClass{}}, nil
	})
	signedIn(r, func(_ context.Context, _ *handler.Call, req *api.MessagesGetSavedReactionTagsRequest) (tl.Object, error) {
		if notModified(req.Hash) {
			return &api.MessagesSavedReactionTagsNotModified{}, nil
		}
		return &api.MessagesSavedReactionTags{Tags: []*api.SavedReactionTag{}, Hash: catalogHash}, nil
	})
	signedIn(r, func(_ context.Context, _ *handler.Call, req *api.MessagesGetQuickRepliesRequest) (tl.Object, error) {
		if notModified(req.Hash) {
			return &api.MessagesQuickRepliesNotModified{}, nil
		}
		return &api.MessagesQuickReplies{QuickReplies: []*api.QuickReply{}, Messages: []api.MessageClass{},
			Chats: []api.ChatClass{}, Users: []api.UserClass{}}, nil
	})
	signedIn(r, func(context.Context, *handler.Call, *api.MessagesGetDefaultHistoryTTLRequest) (tl.Object, error) {
		return &api.DefaultHistoryTTL{Period: 0}, nil
	})
	signedIn(r, func(context.Context, *handler.Call, *api.MessagesGetDialogFiltersRequest) (tl.Object, error) {
		// No folders are stored yet: only the implicit "All chats".
		return &api.MessagesDialogFilters{Filters: []api.DialogFilterClass{&api.DialogFilterDefault{}}}, nil
	})
	signedIn(r, func(context.Context, *handler.Call, *api.MessagesGetSuggestedDialogFiltersRequest) (tl.Object, error) {
		return &api.DialogFilterSuggestedVector{Elems: []*api.DialogFilterSuggested{}}, nil
	})
}
