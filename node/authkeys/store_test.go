package authkeys_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/raftgram/raftgram/gateway/handshake"
	"github.com/raftgram/raftgram/gateway/session"
	"github.com/raftgram/raftgram/node"
	"github.com/raftgram/raftgram/node/authkeys"
	"github.com/raftgram/raftgram/node/nodetest"
)

func startNode(t *testing.T, dir string) *node.Node {
	t.Helper()
	return nodetest.StartReady(t, node.Config{DataDir: dir, Appliers: authkeys.Appliers()})
}

func key(id int64, temp bool) handshake.AuthKey {
	k := handshake.AuthKey{ID: id, Temp: temp, DC: 1, CreatedAt: time.UnixMilli(1_700_000_000_000)}
	if temp {
		k.ExpiresAt = time.UnixMilli(1_700_000_900_000)
	}
	for i := range k.Key {
		k.Key[i] = byte(id) + byte(i)
	}
	return k
}

// TestStoreOverNode runs the AuthKeyStore contract against a real node (Raft groups, shard manager, Pebble
// state) and checks that keys survive a restart of the node.
func TestStoreOverNode(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "n1")
	if _, err := node.Init(node.InitOptions{Dir: dir, Shards: 3, Listen: nodetest.FreeAddr(t), Admin: nodetest.FreeAddr(t)}); err != nil {
		t.Fatal(err)
	}
	n := startNode(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s := authkeys.NewStore(n)

	var ids []int64
	for i := int64(1); i <= 12; i++ { // spread over the 3 shards
		id := i * 0x0101010101
		ids = append(ids, id)
		if err := s.Put(ctx, key(id, i%2 == 0)); err != nil {
			t.Fatalf("put %d: %v", id, err)
		}
	}
	if err := s.Put(ctx, key(ids[0], false)); err != nil {
		t.Fatalf("the same key again: %v", err)
	}
	clash := key(ids[0], false)
	clash.Key[0] ^= 1
	if err := s.Put(ctx, clash); !errors.Is(err, handshake.ErrKeyExists) {
		t.Fatalf("id collision: %v", err)
	}
	perm, temp := ids[0], ids[1]
	if err := s.Bind(ctx, temp, perm); err != nil {
		t.Fatal(err)
	}
	var re *session.RPCError
	if err := s.Bind(ctx, temp, ids[2]); !errors.As(err, &re) || re.Message != authkeys.CodeAlreadyBound {
		t.Fatalf("rebind to another key: %v", err)
	}
	if err := s.Bind(ctx, temp, ids[3]); err == nil {
		t.Fatal("bind to a temporary key accepted")
	}
	if err := s.Bind(ctx, temp, 999); err == nil {
		t.Fatal("bind to an unknown key accepted")
	}
	if err := s.SetUser(ctx, perm, 4242); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, ids[4]); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, 12345); err != nil {
		t.Fatalf("delete of a missing key: %v", err)
	}

	check := func(s *authkeys.Store) {
		t.Helper()
		for i, id := range ids {
			k, ok, err := s.Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if i == 4 {
				if ok {
					t.Fatal("deleted key returned")
				}
				continue
			}
			want := key(id, i%2 == 1)
			if !ok || k.Key != want.Key || k.Temp != want.Temp || !k.ExpiresAt.Equal(want.ExpiresAt) ||
				!k.CreatedAt.Equal(want.CreatedAt) {
				t.Fatalf("key %d: %+v %v", i, k, ok)
			}
		}
		if k, _, _ := s.Get(ctx, perm); k.UserID != 4242 {
			t.Fatalf("user of the permanent key: %d", k.UserID)
		}
		if k, _, _ := s.Get(ctx, temp); k.PermID != perm {
			t.Fatalf("binding: %d", k.PermID)
		}
	}
	check(s)
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	n = startNode(t, dir)
	defer n.Close()
	check(authkeys.NewStore(n))
}
