package access

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"

	"github.com/raftgram/raftgram/node/handler"
	"github.com/raftgram/raftgram/tl/api"
)

// Hasher computes access hashes under one key.
type Hasher struct {
	key []byte
}

// New derives a Hasher from the cluster secret.
func New(clusterSecret []byte) Hasher {
	m := hmac.New(sha256.New, clusterSecret)
	m.Write([]byte("raftgram access hash v1"))
	return Hasher{key: m.Sum(nil)}
}

// User is the access hash of target as viewer sees it.
func (h Hasher) User(viewer, target int64) int64 {
	m := hmac.New(sha256.New, h.key)
	var b [17]byte
	b[0] = 'u'
	binary.BigEndian.PutUint64(b[1:], uint64(viewer))
	binary.BigEndian.PutUint64(b[9:], uint64(target))
	m.Write(b[:])
	return int64(binary.BigEndian.Uint64(m.Sum(nil)))
}

// CheckUser reports whether hash is the one viewer was given for target.
func (h Hasher) CheckUser(viewer, target, hash int64) bool {
	return target > 0 && hmac.Equal(binary.BigEndian.AppendUint64(nil, uint64(h.User(viewer, target))),
		binary.BigEndian.AppendUint64(nil, uint64(hash)))
}

// InputUser resolves an InputUser of viewer to a user id (USER_ID_INVALID if the hash does not match).
func (h Hasher) InputUser(viewer int64, in api.InputUserClass) (int64, error) {
	switch u := in.(type) {
	case *api.InputUserSelf:
		return viewer, nil
	case *api.InputUser:
		if u.UserID == viewer || h.CheckUser(viewer, u.UserID, u.AccessHash) {
			return u.UserID, nil
		}
	}
	return 0, handler.ErrUserInvalid
}

// InputPeer resolves an InputPeer of viewer to a user id; only user peers exist here (PEER_ID_INVALID else).
func (h Hasher) InputPeer(viewer int64, in api.InputPeerClass) (int64, error) {
	switch p := in.(type) {
	case *api.InputPeerSelf:
		return viewer, nil
	case *api.InputPeerUser:
		if p.UserID == viewer || h.CheckUser(viewer, p.UserID, p.AccessHash) {
			return p.UserID, nil
		}
	}
	return 0, handler.ErrPeerInvalid
}

// Tag is a 16-byte MAC of data under kind (one letter per use, distinct from 'u' of User): references the
// server hands out and must recognize later without storing them (file references).
func (h Hasher) Tag(kind byte, data []byte) []byte {
	m := hmac.New(sha256.New, h.key)
	m.Write([]byte{kind})
	m.Write(data)
	return m.Sum(nil)[:16]
}
