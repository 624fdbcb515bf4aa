package account

import (
	"encoding/binary"
	"strings"

	"github.com/raftgram/raftgram/shard"
)

const prefix = "acct/"

func key(kind string, parts ...int64) []byte {
	b := append([]byte(prefix), kind...)
	for _, p := range parts {
		b = binary.BigEndian.AppendUint64(b, uint64(p))
	}
	return b
}

func userKey(uid int64) []byte              { return key("u/", uid) }
func seqKey() []byte                        { return key("s") }
func phoneKey(phone string) []byte          { return append(key("p/"), phone...) }
func codePrefix(phone string) []byte        { return append(append(key("c/"), phone...), '/') }
func codeKey(phone, hash string) []byte     { return append(codePrefix(phone), hash...) }
func limitKey(phone string) []byte          { return append(key("l/"), phone...) }
func nameKey(name string) []byte            { return append(key("n/"), name...) }
func authKey(uid, perm int64) []byte        { return key("h/", uid, perm) }
func contactKey(owner, target int64) []byte { return key("k/", owner, target) }
func revKey(target, owner int64) []byte     { return key("r/", target, owner) }
func blockKey(owner, target int64) []byte   { return key("b/", owner, target) }

// idAt reads the big-endian id at offset off of k (a key built by key()).
func idAt(k []byte, off int) int64 {
	if len(k) < off+8 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(k[off:]))
}

// PhoneShard is the shard holding a phone's index, codes and limiter, and the users created with that phone.
func PhoneShard(phone string, n int) uint32 { return shard.OfBytes([]byte("phone:"+phone), n) }

// NameShard is the shard holding the claim of a username (lower case).
func NameShard(name string, n int) uint32 {
	return shard.OfBytes([]byte("name:"+strings.ToLower(name)), n)
}

// UserShard is the shard of user uid.
func UserShard(uid int64, n int) uint32 { return shard.Of(uid, n) }
