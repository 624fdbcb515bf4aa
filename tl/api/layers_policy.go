package api

import "github.com/raftgram/raftgram/tl"

// The Go side of tl/layers/policy.txt: converters the generated projection (layers_encode_gen.go) calls when
// a canonical value is written for an older layer. Each is pure: it reads the canonical value, never modifies
// it, and returns a new value (nil: absent, or for a substitute: cannot be projected).

// storiesMaxID: user.stories_max_id was an int up to layer 198; 223 made it a RecentStory.
func storiesMaxID(x *User) *int32 {
	if x.StoriesMaxID == nil {
		return nil
	}
	return x.StoriesMaxID.MaxID
}

// themeEmoticon: userFull.theme_emoticon (flags.15, layers ≤ 198) became theme:ChatTheme on the same bit. Only
// an emoticon theme has an old form; a gift theme is left out.
func themeEmoticon(x *UserFull) *string {
	if t, ok := x.Theme.(*ChatTheme); ok {
		return &t.Emoticon
	}
	return nil
}

// mediaUnsupported stands for a media kind the layer does not have.
func mediaUnsupported(tl.Object) tl.Object { return &MessageMediaUnsupported{} }

// actionEmpty stands for a service action the layer does not have.
func actionEmpty(tl.Object) tl.Object { return &MessageActionEmpty{} }

// entityUnknown keeps the range of an entity kind the layer does not have.
func entityUnknown(o tl.Object) tl.Object {
	switch x := o.(type) {
	case *MessageEntityFormattedDate:
		return &MessageEntityUnknown{Offset: x.Offset, Length: x.Length}
	case *MessageEntityDiffInsert:
		return &MessageEntityUnknown{Offset: x.Offset, Length: x.Length}
	case *MessageEntityDiffReplace:
		return &MessageEntityUnknown{Offset: x.Offset, Length: x.Length}
	case *MessageEntityDiffDelete:
		return &MessageEntityUnknown{Offset: x.Offset, Length: x.Length}
	}
	return nil
}

// emojiStatusPlain: layer 170 has only emojiStatus{document_id} (and emojiStatusUntil); a collectible status
// shows its document.
func emojiStatusPlain(o tl.Object) tl.Object {
	if x, ok := o.(*EmojiStatusCollectible); ok {
		return &EmojiStatus{DocumentID: x.DocumentID, Until: x.Until}
	}
	return nil
}

// plainText is the text of a TextWithEntities (entities dropped: layer 170 has plain strings there).
func plainText(t *TextWithEntities) string {
	if t == nil {
		return ""
	}
	return t.Text
}

func pollQuestion(x *Poll) string                              { return plainText(x.Question) }
func pollAnswerText(x *PollAnswer) string                      { return plainText(x.Text) }
func dialogFilterTitle(x *DialogFilter) string                 { return plainText(x.Title) }
func dialogFilterChatlistTitle(x *DialogFilterChatlist) string { return plainText(x.Title) }

// dialogFiltersVector: messages.getDialogFilters#f19ed96d (layer 170) returned Vector<DialogFilter>; the
// canonical messages.dialogFilters wraps it (with tags_enabled, which 170 does not have).
func dialogFiltersVector(x *MessagesDialogFilters) tl.Object {
	return &DialogFilterClassVector{Elems: x.Filters}
}

// DialogFilterClassVector is a Vector<DialogFilter> result (messages.getDialogFilters at layer 170; no
// canonical method returns it, so it is not generated).
type DialogFilterClassVector struct{ Elems []DialogFilterClass }

// TypeID implements tl.Object (the vector id).
func (*DialogFilterClassVector) TypeID() uint32 { return tl.VectorID }

// TypeName implements tl.Object.
func (*DialogFilterClassVector) TypeName() string { return "Vector<DialogFilter>" }

func (v *DialogFilterClassVector) String() string { return tl.Format(v) }

// Encode implements tl.Object: the count and the boxed elements.
func (v *DialogFilterClassVector) Encode(e *tl.Encoder) error {
	if v == nil {
		return e.Fail(tl.ErrNilObject)
	}
	e.PutInt(int32(len(v.Elems)))
	for _, x := range v.Elems {
		e.PutObject(x)
	}
	return e.Err()
}

// Decode implements tl.Object.
func (v *DialogFilterClassVector) Decode(d *tl.Decoder) error {
	v.Elems = tl.BareObjects(d, DecodeDialogFilterClass, 4, true)
	return d.Err()
}

func (v *DialogFilterClassVector) putLayer(e *tl.Encoder, l Layer, boxed bool) {
	if v == nil || !boxed {
		e.Fail(tl.ErrNilObject)
		return
	}
	putLayerObjects(e, v.Elems, l)
}
