package api

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/raftgram/raftgram/tl"
)

// filler builds random canonical values whose constructors all exist (by name) at one layer.
type filler struct {
	r     *rand.Rand
	s     *oSchema
	canon *oSchema
	impl  map[reflect.Type][]reflect.Type
	all   []reflect.Type // every canonical constructor's pointer type
}

func newFiller(t testing.TB, layer int, seed uint64) *filler {
	f := &filler{r: rand.New(rand.NewPCG(seed, uint64(layer))), s: oracle(t, layer), canon: oracle(t, LayerNumbers[0]),
		impl: map[reflect.Type][]reflect.Type{}}
	for _, row := range LayerRows() {
		if row.IDs[0] == 0 {
			continue
		}
		o := New(row.IDs[0])
		if _, isMethod := o.(tl.Method); isMethod || f.canon.byName[row.Name] == nil {
			continue
		}
		f.all = append(f.all, reflect.TypeOf(o))
	}
	return f
}

// fillable reports whether the layer's form of name can be written from a canonical value: every required
// field of it is kept from layer 227 or computed by a policy `field` entry (tl/layers/policy.txt). Others are
// substituted, omitted or refused (TestEncodeLayerPolicy, REPORT.md), so random values avoid them.
func (f *filler) fillable(name string) bool {
	c := f.s.byName[name]
	if c == nil {
		return false
	}
	for _, fl := range c.fields {
		if !fl.optional() && fl.typ != "#" && !kept(f.canon, name, fl) && !policyField(f.s.layer, name, fl.name) {
			return false
		}
	}
	return true
}

var (
	policyOnce   sync.Once
	policyFields map[string]bool // "layer ctor.field"
)

func policyField(layer int, ctor, field string) bool {
	policyOnce.Do(func() {
		policyFields = map[string]bool{}
		src, err := os.ReadFile(filepath.Join("..", "layers", "policy.txt"))
		if err != nil {
			return
		}
		for _, line := range strings.Split(string(src), "\n") {
			f := strings.Fields(line)
			if len(f) < 3 || f[0] != "field" {
				continue
			}
			for _, l := range strings.Split(f[1], ",") {
				policyFields[l+" "+f[2]] = true
			}
		}
	})
	return policyFields[fmt.Sprintf("%d %s.%s", layer, ctor, field)]
}

func (f *filler) implementors(it reflect.Type) []reflect.Type {
	if v, ok := f.impl[it]; ok {
		return v
	}
	var out []reflect.Type
	for _, t := range f.all {
		if t.Implements(it) && f.fillable(reflect.New(t.Elem()).Interface().(tl.Object).TypeName()) {
			out = append(out, t)
		}
	}
	f.impl[it] = out
	return out
}

func (f *filler) value(t reflect.Type, depth int) reflect.Value {
	if depth > 14 {
		return reflect.Zero(t)
	}
	switch t.Kind() {
	case reflect.Interface:
		cands := f.implementors(t)
		if len(cands) == 0 {
			return reflect.Zero(t)
		}
		pick := cands[f.r.IntN(len(cands))]
		if depth > 5 { // stop growing: the constructor with the fewest fields
			for _, c := range cands {
				if c.Elem().NumField() < pick.Elem().NumField() {
					pick = c
				}
			}
		}
		out := reflect.New(t).Elem()
		out.Set(f.object(pick, depth+1))
		return out
	case reflect.Pointer:
		if t.Implements(objType) {
			return f.object(t, depth+1)
		}
		p := reflect.New(t.Elem())
		p.Elem().Set(f.value(t.Elem(), depth))
		return p
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			b := make([]byte, f.r.IntN(6))
			for i := range b {
				b[i] = byte(f.r.Uint32())
			}
			return reflect.ValueOf(b)
		}
		n := f.r.IntN(3)
		if depth > 4 {
			n = 0
		}
		out := reflect.MakeSlice(t, n, n)
		for i := range n {
			out.Index(i).Set(f.value(t.Elem(), depth+1))
		}
		return out
	case reflect.String:
		return reflect.ValueOf(fmt.Sprintf("s%d", f.r.IntN(1000))).Convert(t)
	case reflect.Int32:
		return reflect.ValueOf(f.r.Int32N(1 << 20)).Convert(t)
	case reflect.Int64:
		return reflect.ValueOf(f.r.Int64()).Convert(t)
	case reflect.Float64:
		return reflect.ValueOf(f.r.Float64())
	case reflect.Bool:
		return reflect.ValueOf(f.r.IntN(2) == 1)
	case reflect.Array:
		out := reflect.New(t).Elem()
		for i := range t.Len() {
			out.Index(i).SetUint(uint64(byte(f.r.Uint32())))
		}
		return out
	}
	return reflect.Zero(t)
}

// object fills a constructor: each (flags word, bit) is present or not as a whole (shared bits stay whole).
func (f *filler) object(pt reflect.Type, depth int) reflect.Value {
	v := reflect.New(pt.Elem())
	o := v.Interface().(tl.Object)
	cc := f.canon.byName[o.TypeName()]
	if cc == nil {
		return v
	}
	present := map[string]bool{}
	for _, fl := range cc.fields {
		if fl.typ == "#" {
			continue
		}
		sf, ok := goFieldOf(pt.Elem(), fl.name)
		if !ok {
			continue
		}
		dst := v.Elem().FieldByIndex(sf.Index)
		if fl.optional() {
			key := fmt.Sprintf("%s.%d", fl.word, fl.bit)
			p, seen := present[key]
			if !seen {
				p = depth < 4 && f.r.IntN(3) > 0
				present[key] = p
			}
			if !p {
				continue
			}
			if fl.typ == "true" {
				dst.SetBool(true)
				continue
			}
		}
		dst.Set(f.value(sf.Type, depth))
	}
	return v
}

// checkProjection encodes o for layer n and reads the bytes back with the layer's own schema: the result
// must equal o minus what the layer lacks. It returns the *NotInLayerError when o cannot be projected.
func checkProjection(t *testing.T, o tl.Object, n int) error {
	t.Helper()
	l, _ := LayerOf(n)
	e := tl.NewEncoder(nil)
	e.PutInt(7) // bytes before the value stay
	if err := EncodeLayer(e, o, l); err != nil {
		var nl *NotInLayerError
		if !errors.As(err, &nl) {
			t.Fatalf("%s at %d: %v", tl.Name(o), n, err)
		}
		if e.Len() != 4 || e.Err() != nil {
			t.Fatalf("%s at %d: a refused projection left %d bytes / %v", tl.Name(o), n, e.Len(), e.Err())
		}
		return err
	}
	b := e.Bytes()[4:]
	if l == 0 {
		want, err := tl.Marshal(o)
		if err != nil || !bytes.Equal(want, b) {
			t.Fatalf("%s: canonical layer bytes differ from Marshal (%v)", tl.Name(o), err)
		}
	}
	got, _, err := readLayer(t, b, o, n)
	if err != nil {
		t.Fatalf("%s at %d: the layer's schema cannot read the projection: %v\n% x", tl.Name(o), n, err, b)
	}
	want := projected(t, o, n)
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("%s at %d: read back\n%v\nwant\n%v", tl.Name(o), n, tl.Format(got), tl.Format(want))
	}
	return nil
}

// TestEncodeLayerAllConstructors: every canonical constructor that exists at a layer, filled at random with
// constructors of that layer, projects to bytes the layer's schema reads back as the value minus the fields
// that layer lacks, or is refused with a *NotInLayerError and nothing written. At 227 the oracle reads back
// the value itself (it checks the oracle).
func TestEncodeLayerAllConstructors(t *testing.T) {
	for _, n := range LayerNumbers {
		ok, refused := 0, map[string]int{}
		for seed := range uint64(3) {
			f := newFiller(t, n, seed)
			for _, pt := range f.all {
				name := reflect.New(pt.Elem()).Interface().(tl.Object).TypeName()
				if !f.fillable(name) {
					continue
				}
				o := f.object(pt, 0).Interface().(tl.Object)
				if _, err := tl.Marshal(o); err != nil {
					continue // random fill made an invalid canonical value (a nil required class)
				}
				var nl *NotInLayerError
				if err := checkProjection(t, o, n); errors.As(err, &nl) {
					refused[nl.Name]++
					continue
				}
				ok++
			}
		}
		t.Logf("layer %d: %d values projected and read back, refused constructors %v", n, ok, refused)
		if ok < 1000 {
			t.Errorf("layer %d: only %d values checked", n, ok)
		}
	}
}

// messengerSamples are values shaped like what node/handler returns and pushes.
func messengerSamples() []tl.Object {
	user := &User{Self: true, Contact: true, ID: 1001, AccessHash: tl.Ptr(int64(77)), FirstName: tl.Ptr("Ann"),
		LastName: tl.Ptr("Lee"), Username: tl.Ptr("ann"), Phone: tl.Ptr("15550001"),
		Status: &UserStatusRecently{ByMe: true}, Usernames: []*Username{{Active: true, Username: "ann"}},
		StoriesMaxID: &RecentStory{MaxID: tl.Ptr(int32(4))}, Color: &PeerColor{Color: tl.Ptr(int32(3))},
		BotActiveUsers: tl.Ptr(int32(5)), SendPaidMessagesStars: tl.Ptr(int64(9))}
	other := &User{ID: 1002, AccessHash: tl.Ptr(int64(78)), FirstName: tl.Ptr("Bo"), Status: &UserStatusOffline{WasOnline: 5}}
	peer := &PeerUser{UserID: 1002}
	msg := &Message{Out: true, ID: 10, FromID: &PeerUser{UserID: 1001}, PeerID: peer, Date: 1700000000, Message: "hello *world*",
		Entities: []MessageEntityClass{&MessageEntityBold{Offset: 6, Length: 7}, &MessageEntityTextURL{Offset: 0, Length: 5, URL: "https://x"}},
		ReplyTo:  &MessageReplyHeader{ReplyToMsgID: tl.Ptr(int32(9)), TodoItemID: tl.Ptr(int32(1))},
		FwdFrom:  &MessageFwdHeader{FromID: peer, Date: 5}, EditDate: tl.Ptr(int32(1700000001)), Views: tl.Ptr(int32(3)),
		Forwards: tl.Ptr(int32(1)), TTLPeriod: tl.Ptr(int32(60)), Media: &MessageMediaUnsupported{}}
	svc := &MessageService{ID: 11, PeerID: peer, FromID: &PeerUser{UserID: 1002}, Date: 1700000002,
		Action: &MessageActionChatCreate{Title: "t", Users: []int64{1, 2}}, SavedPeerID: peer}
	notify := &PeerNotifySettings{ShowPreviews: tl.Ptr(true), MuteUntil: tl.Ptr(int32(0)), OtherSound: &NotificationSoundDefault{}}
	dialog := &Dialog{Pinned: true, Peer: peer, TopMessage: 11, ReadInboxMaxID: 10, ReadOutboxMaxID: 9, UnreadCount: 2,
		UnreadPollVotesCount: 4, NotifySettings: notify, Pts: tl.Ptr(int32(30)),
		Draft: &DraftMessage{Message: "dr", Date: 5, Entities: []MessageEntityClass{&MessageEntityItalic{Offset: 0, Length: 2}}}}
	users := []UserClass{user, other}
	state := &UpdatesState{Pts: 30, Qts: 0, Date: 1700000003, Seq: 4, UnreadCount: 2}
	full := &UserFull{ID: 1002, About: tl.Ptr("hi"), Settings: &PeerSettings{ReportSpam: true, AddContact: true,
		BusinessBotID: tl.Ptr(int64(3)), BusinessBotManageURL: tl.Ptr("u"), RegistrationMonth: tl.Ptr("01.2020")},
		NotifySettings: notify, CommonChatsCount: 1, Theme: &ChatTheme{Emoticon: "🌸"}, Birthday: &Birthday{Day: 1, Month: 2},
		TTLPeriod: tl.Ptr(int32(5))}
	updates := []UpdateClass{
		&UpdateNewMessage{Message: msg, Pts: 31, PtsCount: 1},
		&UpdateEditMessage{Message: msg, Pts: 32, PtsCount: 1},
		&UpdateDeleteMessages{Messages: []int32{1, 2}, Pts: 33, PtsCount: 1},
		&UpdateReadHistoryInbox{Peer: peer, TopMsgID: tl.Ptr(int32(1)), MaxID: 10, StillUnreadCount: 0, Pts: 34, PtsCount: 1},
		&UpdateReadHistoryOutbox{Peer: peer, MaxID: 10, Pts: 35, PtsCount: 1},
		&UpdateUserStatus{UserID: 1002, Status: &UserStatusOnline{Expires: 9}},
		&UpdateUserName{UserID: 1002, FirstName: "Bo", LastName: "", Usernames: []*Username{}},
		&UpdateUserTyping{UserID: 1002, TopMsgID: tl.Ptr(int32(3)), Action: &SendMessageTypingAction{}},
		&UpdateMessageID{ID: 10, RandomID: 99},
		&UpdateDraftMessage{Peer: peer, SavedPeerID: peer, Draft: &DraftMessageEmpty{}},
		&UpdateDialogUnreadMark{Unread: true, Peer: &DialogPeer{Peer: peer}, SavedPeerID: peer},
		&UpdateDialogPinned{Pinned: true, Peer: &DialogPeer{Peer: peer}},
		&UpdatePeerBlocked{PeerID: peer, Blocked: true},
	}
	return []tl.Object{
		&AuthAuthorization{User: user},
		user, other,
		&UserClassVector{Elems: users},
		&UsersUserFull{FullUser: full, Chats: []ChatClass{}, Users: users},
		full.Settings,
		msg, svc, dialog,
		&MessagesDialogs{Dialogs: []DialogClass{dialog}, Messages: []MessageClass{msg, svc}, Chats: []ChatClass{}, Users: users},
		&MessagesDialogsSlice{Count: 5, Dialogs: []DialogClass{dialog}, Messages: []MessageClass{msg}, Chats: []ChatClass{}, Users: users},
		&MessagesPeerDialogs{Dialogs: []DialogClass{dialog}, Messages: []MessageClass{msg}, Chats: []ChatClass{}, Users: users, State: state},
		&MessagesMessages{Messages: []MessageClass{msg, svc}, Topics: []ForumTopicClass{}, Chats: []ChatClass{}, Users: users},
		&MessagesMessagesSlice{Inexact: true, Count: 9, OffsetIDOffset: tl.Ptr(int32(2)), SearchFlood: &SearchPostsFlood{},
			Messages: []MessageClass{msg}, Topics: []ForumTopicClass{}, Chats: []ChatClass{}, Users: users},
		&Updates{Updates: updates, Users: users, Chats: []ChatClass{}, Date: 1700000004, Seq: 0},
		&UpdateShort{Update: &UpdateUserStatus{UserID: 1002, Status: &UserStatusRecently{}}, Date: 5},
		&UpdateShortMessage{Out: true, ID: 12, UserID: 1002, Message: "m", Pts: 36, PtsCount: 1, Date: 6,
			Entities: []MessageEntityClass{&MessageEntityCode{Offset: 0, Length: 1}}, ReplyTo: &MessageReplyHeader{ReplyToMsgID: tl.Ptr(int32(1))}},
		&UpdateShortSentMessage{Out: true, ID: 13, Pts: 37, PtsCount: 1, Date: 7, TTLPeriod: tl.Ptr(int32(1))},
		&UpdatesDifference{NewMessages: []MessageClass{msg}, NewEncryptedMessages: []EncryptedMessageClass{},
			OtherUpdates: updates, Chats: []ChatClass{}, Users: users, State: state},
		&UpdatesDifferenceSlice{NewMessages: []MessageClass{svc}, NewEncryptedMessages: []EncryptedMessageClass{},
			OtherUpdates: updates[3:6], Chats: []ChatClass{}, Users: users, IntermediateState: state},
		&UpdatesDifferenceEmpty{Date: 1, Seq: 2},
		&UpdatesDifferenceTooLong{Pts: 40},
		state,
		&ContactsContacts{Contacts: []*Contact{{UserID: 1002, Mutual: true}}, SavedCount: 1, Users: users},
		&ContactsFound{MyResults: []PeerClass{peer}, Results: []PeerClass{}, Chats: []ChatClass{}, Users: users},
		&ContactsResolvedPeer{Peer: peer, Chats: []ChatClass{}, Users: []UserClass{other}},
		&ContactsImportedContacts{Imported: []*ImportedContact{{UserID: 1002, ClientID: 1}}, PopularInvites: []*PopularContact{},
			RetryContacts: []int64{}, Users: users},
		&ContactStatusVector{Elems: []*ContactStatus{{UserID: 1002, Status: &UserStatusLastWeek{ByMe: true}}}},
	}
}

// TestEncodeLayerMessengerSamples: what the messenger sends projects at every layer (never refused) and
// reads back as the value minus what the layer lacks.
func TestEncodeLayerMessengerSamples(t *testing.T) {
	for _, n := range LayerNumbers {
		for _, o := range messengerSamples() {
			if err := checkProjection(t, o, n); err != nil {
				t.Errorf("%s refused at %d: %v", tl.Name(o), n, err)
			}
		}
	}
}

// TestEncodeLayerPolicy: the policy entries do what policy.txt says.
func TestEncodeLayerPolicy(t *testing.T) {
	oracle(t, 170)
	// user.stories_max_id (RecentStory at 227) is the int max_id at 198 and 170.
	u := &User{ID: 1, StoriesMaxID: &RecentStory{Live: true, MaxID: tl.Ptr(int32(42))}}
	for _, n := range []int{198, 170} {
		l, _ := LayerOf(n)
		e := tl.NewEncoder(nil)
		if err := EncodeLayer(e, u, l); err != nil {
			t.Fatal(err)
		}
		_, r, err := readLayer(t, e.Bytes(), u, n)
		if err != nil || r.dropped["user.stories_max_id"] != int32(42) {
			t.Fatalf("layer %d: stories_max_id %v (%v)", n, r.dropped["user.stories_max_id"], err)
		}
	}
	// userFull.theme (ChatTheme) is theme_emoticon at 198 and 170; a gift theme is left out.
	uf := &UserFull{ID: 1, Settings: &PeerSettings{}, NotifySettings: &PeerNotifySettings{}, Theme: &ChatTheme{Emoticon: "🎄"}}
	e := tl.NewEncoder(nil)
	if err := EncodeLayer(e, uf, L198); err != nil {
		t.Fatal(err)
	}
	if _, r, err := readLayer(t, e.Bytes(), uf, 198); err != nil || r.dropped["userFull.theme_emoticon"] != "🎄" {
		t.Fatalf("theme_emoticon %v (%v)", r.dropped["userFull.theme_emoticon"], err)
	}
	// Updates a layer lacks leave the updates vector (the count is what remains); alone they are refused.
	newOnly := &UpdateBotGuestChatQuery{}
	if LayerIDsOf(t, "updateBotGuestChatQuery")[L223] != 0 {
		t.Fatal("sample update exists at 223")
	}
	ups := &Updates{Updates: []UpdateClass{&UpdateMessageID{ID: 1, RandomID: 2}, newOnly, &UpdateMessageID{ID: 3, RandomID: 4}},
		Users: []UserClass{}, Chats: []ChatClass{}, Date: 1}
	for _, n := range []int{223, 198, 170} {
		l, _ := LayerOf(n)
		e := tl.NewEncoder(nil)
		if err := EncodeLayer(e, ups, l); err != nil {
			t.Fatal(err)
		}
		got, _, err := readLayer(t, e.Bytes(), ups, n)
		if err != nil || len(got.(*Updates).Updates) != 2 || got.(*Updates).Updates[1].(*UpdateMessageID).ID != 3 {
			t.Fatalf("layer %d: %v %v", n, got, err)
		}
		var nl *NotInLayerError
		if err := EncodeLayer(e, &UpdateShort{Update: newOnly, Date: 1}, l); !errors.As(err, &nl) || nl.Name != "updateBotGuestChatQuery" {
			t.Fatalf("updateShort with an omitted update: %v", err)
		}
	}
	// Substitutes: new media, entities and actions become the layer's stand-ins.
	m := &Message{ID: 1, PeerID: &PeerUser{UserID: 1}, Message: "abc", Media: &MessageMediaToDo{Todo: &TodoList{Title: &TextWithEntities{Text: "x", Entities: []MessageEntityClass{}}, List: []*TodoItem{}}},
		Entities: []MessageEntityClass{&MessageEntityDiffInsert{Offset: 1, Length: 2}}}
	e = tl.NewEncoder(nil)
	if err := EncodeLayer(e, m, L170); err != nil {
		t.Fatal(err)
	}
	got, _, err := readLayer(t, e.Bytes(), m, 170)
	if err != nil {
		t.Fatal(err)
	}
	gm := got.(*Message)
	if _, ok := gm.Media.(*MessageMediaUnsupported); !ok {
		t.Fatalf("media %T", gm.Media)
	}
	if ent, ok := gm.Entities[0].(*MessageEntityUnknown); !ok || ent.Offset != 1 || ent.Length != 2 {
		t.Fatalf("entity %v", gm.Entities[0])
	}
	svc := &MessageService{ID: 2, PeerID: &PeerUser{UserID: 1}, Action: &MessageActionManagedBotCreated{}}
	e = tl.NewEncoder(nil)
	if err := EncodeLayer(e, svc, L223); err != nil {
		t.Fatal(err)
	}
	if got, _, err := readLayer(t, e.Bytes(), svc, 223); err != nil || reflect.TypeOf(got.(*MessageService).Action) != reflect.TypeFor[*MessageActionEmpty]() {
		t.Fatalf("action: %v %v", got, err)
	}
	// An old form the value cannot fill takes its type's stand-in: messageActionGiftPremium at 170 needs months.
	gp := &MessageService{ID: 3, PeerID: &PeerUser{UserID: 1}, Action: &MessageActionGiftPremium{Currency: "EUR", Amount: 1, Days: 30}}
	e = tl.NewEncoder(nil)
	if err := EncodeLayer(e, gp, L170); err != nil {
		t.Fatal(err)
	}
	if got, _, err := readLayer(t, e.Bytes(), gp, 170); err != nil || reflect.TypeOf(got.(*MessageService).Action) != reflect.TypeFor[*MessageActionEmpty]() {
		t.Fatalf("gift premium: %v %v", got, err)
	}
	// poll.question (TextWithEntities since 198) is its text at 170.
	poll := &MessageMediaPoll{Poll: &Poll{ID: 1, Question: &TextWithEntities{Text: "Q?", Entities: []MessageEntityClass{}},
		Answers: []PollAnswerClass{&PollAnswer{Text: &TextWithEntities{Text: "A", Entities: []MessageEntityClass{}}, Option: []byte{1}}}},
		Results: &PollResults{}}
	e = tl.NewEncoder(nil)
	if err := EncodeLayer(e, poll, L170); err != nil {
		t.Fatal(err)
	}
	if _, r, err := readLayer(t, e.Bytes(), poll, 170); err != nil || r.dropped["poll.question"] != "Q?" || r.dropped["pollAnswer.text"] != "A" {
		t.Fatalf("poll: %v %v", r.dropped, err)
	}
	// emojiStatusCollectible at 170: emojiStatus{document_id}.
	st := &User{ID: 1, EmojiStatus: &EmojiStatusCollectible{DocumentID: 5, Title: "t", Slug: "s"}}
	e = tl.NewEncoder(nil)
	if err := EncodeLayer(e, st, L170); err != nil {
		t.Fatal(err)
	}
	if got, _, err := readLayer(t, e.Bytes(), st, 170); err != nil || got.(*User).EmojiStatus.(*EmojiStatus).DocumentID != 5 {
		t.Fatalf("emoji status: %v %v", got, err)
	}
}

// LayerIDsOf is LayerIDs failing the test for an unknown name.
func LayerIDsOf(t *testing.T, name string) [NumLayers]uint32 {
	ids, ok := LayerIDs(name)
	if !ok {
		t.Fatalf("no %s", name)
	}
	return ids
}

// TestEncodeLayerTransactional: a value that cannot be projected leaves the encoder as it was, and the input
// is never modified.
func TestEncodeLayerTransactional(t *testing.T) {
	e := tl.NewEncoder(nil)
	e.PutInt(1)
	// messageReplyStoryHeader at 170 needs a user_id the canonical peer does not give.
	bad := &Updates{Updates: []UpdateClass{&UpdateNewMessage{Message: &MessageService{ID: 1, PeerID: &PeerUser{UserID: 1},
		Action: &MessageActionEmpty{}, ReplyTo: &MessageReplyStoryHeader{Peer: &PeerUser{UserID: 1}, StoryID: 1}}}},
		Users: []UserClass{}, Chats: []ChatClass{}}
	before := tl.Format(bad)
	var nl *NotInLayerError
	if err := EncodeLayer(e, bad, L170); !errors.As(err, &nl) || nl.Name != "messageReplyStoryHeader" || nl.Layer != 170 {
		t.Fatalf("got %v", err)
	}
	if e.Len() != 4 || e.Err() != nil || tl.Format(bad) != before {
		t.Fatal("failed projection changed the encoder or the value")
	}
	if err := EncodeLayer(e, &User{ID: 1}, Layer(NumLayers)); !errors.As(err, &nl) {
		t.Fatalf("unknown layer: %v", err)
	}
	e.Fail(errors.New("earlier"))
	if err := EncodeLayer(e, &User{ID: 1}, L170); err == nil {
		t.Fatal("an encoder holding an error must be refused")
	}
}

func TestLayerFor(t *testing.T) {
	for n, want := range map[int]Layer{0: L227, 227: L227, 230: L227, 223: L223, 225: L223, 200: L198, 198: L198, 197: L170, 170: L170, 100: L170} {
		if got := LayerFor(n); got != want {
			t.Errorf("LayerFor(%d) = %d, want %d", n, got, want)
		}
	}
}

// BenchmarkEncodeLayer: a messages.messages of 20 messages and their users at each layer (227: the canonical
// encoder through EncodeLayer).
func BenchmarkEncodeLayer(b *testing.B) {
	s := messengerSamples()
	var mm *MessagesMessages
	for _, o := range s {
		if x, ok := o.(*MessagesMessages); ok {
			mm = x
		}
	}
	big := &MessagesMessages{Topics: mm.Topics, Chats: mm.Chats, Users: mm.Users}
	for range 10 {
		big.Messages = append(big.Messages, mm.Messages...)
	}
	for l := range Layer(NumLayers) {
		b.Run(fmt.Sprint(LayerNumbers[l]), func(b *testing.B) {
			e := tl.NewEncoder(nil)
			b.ReportAllocs()
			for b.Loop() {
				e.Reset()
				if err := EncodeLayer(e, big, l); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(int64(e.Len()))
		})
	}
}

var dumpFixtures = flag.String("dump-layer-fixtures", "", "write each messenger sample projected for each layer to DIR/<layer>/<nn>_<name>.bin (for independent decoders)")

// TestDumpLayerFixtures writes the projected messenger samples for decoders outside this module (gotd
// v0.93.0 at 170, GramJS at 198...).
func TestDumpLayerFixtures(t *testing.T) {
	if *dumpFixtures == "" {
		t.Skip("pass -dump-layer-fixtures DIR")
	}
	for l := range Layer(NumLayers) {
		dir := filepath.Join(*dumpFixtures, fmt.Sprint(LayerNumbers[l]))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, o := range messengerSamples() {
			e := tl.NewEncoder(nil)
			if err := EncodeLayer(e, o, l); err != nil {
				t.Fatal(err)
			}
			name := fmt.Sprintf("%02d_%s.bin", i, o.TypeName())
			if err := os.WriteFile(filepath.Join(dir, name), e.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		// Random values of every constructor the layer has (seed 0), as in TestEncodeLayerAllConstructors.
		rdir := filepath.Join(dir, "random")
		if err := os.MkdirAll(rdir, 0o755); err != nil {
			t.Fatal(err)
		}
		f := newFiller(t, LayerNumbers[l], 0)
		for _, pt := range f.all {
			o := f.object(pt, 0).Interface().(tl.Object)
			if f.s.byName[o.TypeName()] == nil {
				continue
			}
			e := tl.NewEncoder(nil)
			if _, err := tl.Marshal(o); err != nil || EncodeLayer(e, o, l) != nil {
				continue
			}
			if err := os.WriteFile(filepath.Join(rdir, o.TypeName()+".bin"), e.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestProjectResult: the layer-170 messages.getDialogFilters decodes (keeping its id) and its result becomes
// the Vector<DialogFilter> it returned; other queries keep their result.
func TestProjectResult(t *testing.T) {
	q, err := tl.DecodeObject([]byte{0x6d, 0xd9, 0x9e, 0xf1}, reg)
	if err != nil || tl.WireID(q) != 0xf19ed96d {
		t.Fatalf("old getDialogFilters: %v %v", q, err)
	}
	res := &MessagesDialogFilters{Filters: []DialogFilterClass{&DialogFilterDefault{}}}
	v, ok := ProjectResult(q, res).(*DialogFilterClassVector)
	if !ok || len(v.Elems) != 1 {
		t.Fatalf("projected %v", ProjectResult(q, res))
	}
	e := tl.NewEncoder(nil)
	if err := EncodeLayer(e, v, L170); err != nil || !bytes.Equal(e.Bytes(), []byte{0x15, 0xc4, 0xb5, 0x1c, 1, 0, 0, 0, 0xae, 0x93, 0x32, 0x36}) {
		t.Fatalf("% x %v", e.Bytes(), err)
	}
	if got := ProjectResult(&MessagesGetDialogFiltersRequest{}, res); got != tl.Object(res) {
		t.Fatal("the canonical form's result changed")
	}
	if got := ProjectResult(q, &DialogFilterDefault{}); got != tl.Object(&DialogFilterDefault{}) && got.TypeName() != "dialogFilterDefault" {
		t.Fatal("an unexpected result type must pass through")
	}
}

// TestEncodeLayerRaw: already-encoded (canonical) bytes cannot be written for an older layer.
func TestEncodeLayerRaw(t *testing.T) {
	raw, _ := tl.Marshal(&User{ID: 1})
	e := tl.NewEncoder(nil)
	if err := EncodeLayer(e, tl.Raw(raw), L227); err != nil || !bytes.Equal(e.Bytes(), raw) {
		t.Fatalf("canonical raw: %v", err)
	}
	var nl *NotInLayerError
	if err := EncodeLayer(tl.NewEncoder(nil), tl.Raw(raw), L170); !errors.As(err, &nl) {
		t.Fatalf("raw at 170: %v", err)
	}
}
