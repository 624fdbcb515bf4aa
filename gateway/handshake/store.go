package handshake

import (
	"context"
	"errors"
	"sync"
	"time"
)

// AuthKey is a stored authorization key.
type AuthKey struct {
	ID        int64
	Key       [256]byte
	Temp      bool      // created with p_q_inner_data_temp(_dc)
	ExpiresAt time.Time // zero for permanent keys; temporary keys are refused after it
	CreatedAt time.Time
	DC        int32 // the DC the client said it was creating the key for
	PermID    int64 // for a temporary key bound with auth.bindTempAuthKey: the permanent key id, else 0
	UserID    int64 // the signed-in user of a permanent key, 0 if none (set by the backend)
}

// Expired reports whether a temporary key has expired at now.
func (k AuthKey) Expired(now time.Time) bool {
	return !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt)
}

// ErrKeyExists is returned by AuthKeyStore.Put when the id is already taken (the exchange then answers
// dh_gen_retry).
var ErrKeyExists = errors.New("handshake: auth key id already exists")

// AuthKeyStore persists auth keys. The gateway calls Put before it answers dh_gen_ok, so a key a client holds
// is always durable. Implementations must be safe for concurrent use; the cluster backs this with Raft.
type AuthKeyStore interface {
	// Put stores a new key, or returns ErrKeyExists if its id is taken.
	Put(ctx context.Context, key AuthKey) error
	// Get returns the key with this id.
	Get(ctx context.Context, id int64) (AuthKey, bool, error)
	// Bind records that temporary key tempID is bound to permanent key permID (auth.bindTempAuthKey).
	Bind(ctx context.Context, tempID, permID int64) error
	// Delete removes a key (destroy_auth_key); deleting a missing key is not an error.
	Delete(ctx context.Context, id int64) error
}

// MemoryStore is an in-memory AuthKeyStore for tests and single-node development.
type MemoryStore struct {
	mu   sync.RWMutex
	keys map[int64]AuthKey
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore { return &MemoryStore{keys: make(map[int64]AuthKey)} }

// Put implements AuthKeyStore.
func (s *MemoryStore) Put(_ context.Context, k AuthKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.keys[k.ID]; ok {
		return ErrKeyExists
	}
	s.keys[k.ID] = k
	return nil
}

// Get implements AuthKeyStore.
func (s *MemoryStore) Get(_ context.Context, id int64) (AuthKey, bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	k, ok := s.keys[id]
	return k, ok, nil
}

// Bind implements AuthKeyStore.
func (s *MemoryStore) Bind(_ context.Context, tempID, permID int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[tempID]
	if !ok {
		return errors.New("handshake: bind: unknown temporary key")
	}
	if _, ok := s.keys[permID]; !ok {
		return errors.New("handshake: bind: unknown permanent key")
	}
	k.PermID = permID
	s.keys[tempID] = k
	return nil
}

// Delete implements AuthKeyStore.
func (s *MemoryStore) Delete(_ context.Context, id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.keys, id)
	return nil
}

// SetUser records the signed-in user of a key (what the backend would persist at sign-in).
func (s *MemoryStore) SetUser(id, userID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k, ok := s.keys[id]; ok {
		k.UserID = userID
		s.keys[id] = k
	}
}

// Len returns the number of stored keys.
func (s *MemoryStore) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.keys)
}

// All returns a copy of every stored key (for tests and tooling).
func (s *MemoryStore) All() []AuthKey {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]AuthKey, 0, len(s.keys))
	for _, k := range s.keys {
		out = append(out, k)
	}
	return out
}
