package help

import (
	"context"

	"github.com/raftgram/raftgram/node/handler"
	"github.com/raftgram/raftgram/tl"
	"github.com/raftgram/raftgram/tl/api"
)

// The server ships no translations: clients use their built-in strings. It offers one language, English, at
// version langVersion with no strings, so every client's language pack is "up to date and empty".
const langVersion = 1

// ErrLangCode is the answer for a language this server does not offer.
var ErrLangCode = handler.BadRequest("LANG_CODE_NOT_SUPPORTED")

func english() *api.LangPackLanguage {
	return &api.LangPackLanguage{Official: true, Name: "English", NativeName: "English", LangCode: "en",
		PluralCode: "en", TranslationsURL: "https://translations.telegram.org/en/"}
}

// emptyPack is the (empty) language pack difference of code from version from.
func emptyPack(code string, from int32) *api.LangPackDifference {
	v := max(from, langVersion)
	return &api.LangPackDifference{LangCode: code, FromVersion: min(from, v), Version: v,
		Strings: []api.LangPackStringClass{}}
}

func (h *Domain) registerLangpack(r *handler.Router) {
	public(r, func(_ context.Context, _ *handler.Call, req *api.LangpackGetLangPackRequest) (tl.Object, error) {
		return emptyPack(req.LangCode, 0), nil
	})
	public(r, func(_ context.Context, _ *handler.Call, req *api.LangpackGetDifferenceRequest) (tl.Object, error) {
		return emptyPack(req.LangCode, req.FromVersion), nil
	})
	public(r, func(context.Context, *handler.Call, *api.LangpackGetStringsRequest) (tl.Object, error) {
		// Keys this server has no text for are left out, as Telegram does for unknown keys.
		return &api.LangPackStringClassVector{Elems: []api.LangPackStringClass{}}, nil
	})
	public(r, func(context.Context, *handler.Call, *api.LangpackGetLanguagesRequest) (tl.Object, error) {
		return &api.LangPackLanguageVector{Elems: []*api.LangPackLanguage{english()}}, nil
	})
	public(r, func(_ context.Context, _ *handler.Call, req *api.LangpackGetLanguageRequest) (tl.Object, error) {
		if req.LangCode != "en" {
			return nil, ErrLangCode
		}
		return english(), nil
	})
}
