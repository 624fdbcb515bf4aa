package api

import (
	"errors"
	"testing"

	"github.com/raftgram/raftgram/tl"
)

// Old-layer forms decode into the canonical structs (mechanical cases), keeping their wire id.

// oldSendMessage170 is messages.sendMessage#280d096f (layer 170): flags, peer, message, random_id,
// entities (flags.3), silent (flags.5).
func oldSendMessage170() []byte {
	var e tl.Encoder
	e.PutID(0x280d096f)
	e.PutUint32(1<<3 | 1<<5)
	e.PutObject(&InputPeerUser{UserID: 5, AccessHash: 6})
	e.PutString("hello")
	e.PutLong(42)
	tl.PutObjects(&e, []MessageEntityClass{&MessageEntityBold{Offset: 0, Length: 5}})
	return e.Bytes()
}

// oldImportContacts170 is contacts.importContacts with an inputPhoneContact#f392b7f4 (170: no flags word).
func oldImportContacts170() []byte {
	var e tl.Encoder
	e.PutID(ContactsImportContactsRequestTypeID)
	e.PutVectorHeader(1)
	e.PutID(0xf392b7f4)
	e.PutLong(1)
	e.PutString("+15550001")
	e.PutString("Ann")
	e.PutString("")
	return e.Bytes()
}

func TestOldSendMessage170(t *testing.T) {
	d := tl.NewDecoder(oldSendMessage170(), reg)
	o := d.Object()
	if err := d.End(); err != nil {
		t.Fatal(err)
	}
	m, ok := o.(*MessagesSendMessageRequest)
	if !ok {
		t.Fatalf("got %T", o)
	}
	if m.Message != "hello" || m.RandomID != 42 || !m.Silent || len(m.Entities) != 1 || m.RichMessage != nil {
		t.Fatalf("decoded %v", m)
	}
	if m.WireID() != 0x280d096f || m.TypeID() != MessagesSendMessageRequestTypeID {
		t.Fatalf("wire id %08x", m.WireID())
	}
	if !d.Lossy() || !IsLegacy(0x280d096f) {
		t.Fatal("an old form must be reported lossy")
	}
	// Re-encoding writes the canonical form, which decodes to the same value.
	b, err := tl.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var back MessagesSendMessageRequest
	if err := tl.Unmarshal(b, &back); err != nil || back.Message != "hello" || back.WireID() != MessagesSendMessageRequestTypeID {
		t.Fatalf("canonical re-decode: %v %v", err, &back)
	}
}

func TestOldConstructors170(t *testing.T) {
	// inputPhoneContact#f392b7f4 (no flags word at 170) inside contacts.importContacts (same id in all layers).
	o, err := tl.DecodeObject(oldImportContacts170(), reg)
	if err != nil {
		t.Fatal(err)
	}
	c := o.(*ContactsImportContactsRequest).Contacts[0]
	if c.Phone != "+15550001" || c.FirstName != "Ann" || c.Note != nil || c.WireID() != 0xf392b7f4 {
		t.Fatalf("decoded %v", c)
	}
	// userStatusRecently#e26f42f1 (170: no fields at all).
	var s UserStatusRecently
	o, err = tl.DecodeObject([]byte{0xf1, 0x42, 0x6f, 0xe2}, reg)
	if err != nil {
		t.Fatal(err)
	}
	s = *o.(*UserStatusRecently)
	if s.ByMe {
		t.Fatal("by_me set")
	}
}

func TestOldFormNeedingPolicyIsUnknown(t *testing.T) {
	// messages.createChat#0034a818 (170) returns Updates instead of messages.InvitedUsers: not mechanical,
	// so it stays unknown until the projection policy exists.
	_, err := tl.DecodeObject([]byte{0x18, 0xa8, 0x34, 0x00}, reg)
	var uc *tl.UnknownConstructorError
	if !errors.As(err, &uc) || uc.ID != 0x0034a818 {
		t.Fatalf("got %v", err)
	}
	ids, ok := LayerIDs("messages.createChat")
	if !ok || ids[L170] != 0x0034a818 || ids[L227] != MessagesCreateChatRequestTypeID {
		t.Fatalf("layer ids %08x", ids)
	}
	if l, ok := LayerOf(198); !ok || l != L198 || LayerNumbers[l] != 198 {
		t.Fatal("LayerOf")
	}
}

func TestCheckLayer(t *testing.T) {
	cfg := &Config{ThisDC: 1, DCOptions: []*DCOption{{ID: 1, IPAddress: "127.0.0.1", Port: 443}}}
	for _, l := range []Layer{L227, L223, L198, L170} {
		if err := CheckLayer(cfg, l); err != nil {
			t.Errorf("config at %d: %v", LayerNumbers[l], err)
		}
	}
	u := &UserClassVector{Elems: []UserClass{&User{ID: 1}}}
	if err := CheckLayer(u, L223); err != nil {
		t.Errorf("user at 223 shares the id: %v", err)
	}
	var nl *NotInLayerError
	if err := CheckLayer(u, L198); !errors.As(err, &nl) || nl.Name != "user" || nl.Layer != 198 {
		t.Errorf("user at 198: %v", err)
	}
	// Nested: a message (changed at 223) inside messages.messages.
	mm := &MessagesMessages{Messages: []MessageClass{sampleMessage()}, Topics: []ForumTopicClass{}, Chats: []ChatClass{}, Users: []UserClass{}}
	if err := CheckLayer(mm, L223); !errors.As(err, &nl) || nl.Name != "messages.messages" && nl.Name != "message" {
		t.Errorf("messages at 223: %v", err)
	}
}
