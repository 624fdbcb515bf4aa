package crypto

import (
	"crypto/sha1" //nolint:gosec // SHA-1 is what MTProto specifies for key ids.
	"encoding/binary"
)

// AuthKey is a 2048-bit MTProto authorization key with its derived id and aux hash.
type AuthKey struct {
	Value   [256]byte
	ID      int64  // low 64 bits of SHA1(Value), as the little-endian int64 clients put on the wire
	AuxHash uint64 // high 64 bits of SHA1(Value), used in new_nonce_hash
}

// NewAuthKey derives the id and aux hash of a key value.
func NewAuthKey(v [256]byte) AuthKey {
	h := sha1.Sum(v[:]) //nolint:gosec
	return AuthKey{
		Value:   v,
		ID:      int64(binary.LittleEndian.Uint64(h[12:20])),
		AuxHash: binary.LittleEndian.Uint64(h[0:8]),
	}
}

// AuthKeyID returns the id of a key value: the low 64 bits of SHA1(key).
func AuthKeyID(v []byte) int64 {
	h := sha1.Sum(v) //nolint:gosec
	return int64(binary.LittleEndian.Uint64(h[12:20]))
}
