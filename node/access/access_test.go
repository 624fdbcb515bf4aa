package access

import (
	"errors"
	"testing"

	"github.com/raftgram/raftgram/node/handler"
	"github.com/raftgram/raftgram/tl/api"
)

func TestHashesArePerViewerAndChecked(t *testing.T) {
	h := New([]byte("secret"))
	if h.User(1, 2) == h.User(3, 2) {
		t.Fatal("two viewers got the same hash for one user")
	}
	if !h.CheckUser(1, 2, h.User(1, 2)) || h.CheckUser(3, 2, h.User(1, 2)) || h.CheckUser(1, 2, 0) {
		t.Fatal("CheckUser accepts a hash made for another viewer or a zero hash")
	}
	if New([]byte("other")).CheckUser(1, 2, h.User(1, 2)) {
		t.Fatal("a hash from another cluster secret was accepted")
	}
	if id, err := h.InputPeer(1, &api.InputPeerUser{UserID: 2, AccessHash: h.User(1, 2)}); err != nil || id != 2 {
		t.Fatalf("InputPeer = %d, %v", id, err)
	}
	if _, err := h.InputPeer(1, &api.InputPeerUser{UserID: 2, AccessHash: 12345}); !errors.Is(err, handler.ErrPeerInvalid) {
		t.Fatalf("guessed hash: %v, want PEER_ID_INVALID", err)
	}
	if _, err := h.InputUser(1, &api.InputUser{UserID: 2}); !errors.Is(err, handler.ErrUserInvalid) {
		t.Fatalf("missing hash: %v, want USER_ID_INVALID", err)
	}
	if id, err := h.InputUser(7, &api.InputUserSelf{}); err != nil || id != 7 {
		t.Fatalf("self = %d, %v", id, err)
	}
}
