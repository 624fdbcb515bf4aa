package authkeys

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/raftgram/raftgram/fsm"
	"github.com/raftgram/raftgram/gateway/handshake"
)

// TypeV1 is the fsm command type of this package's commands (encoding version 1). 65..71 are reserved for
// later encodings.
const TypeV1 fsm.CommandType = 64

// Ops of TypeV1.
const (
	opPut     = 1
	opGet     = 2
	opBind    = 3
	opDelete  = 4
	opSetUser = 5
)

const (
	recordVersion = 1
	recordSize    = 1 + 1 + 4 + 8 + 8 + 8 + 8 + 256
	putSize       = 1 + 8 + 1 + 4 + 8 + 8 + 256
	flagTemp      = 1
)

// keyPrefix starts every domain key of this package inside a shard.
const keyPrefix = "authkey/"

// Key is the domain key of auth key id inside its shard.
func Key(id int64) []byte {
	return binary.BigEndian.AppendUint64([]byte(keyPrefix), uint64(id))
}

func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

// EncodePut is the payload of op put.
func EncodePut(k handshake.AuthKey) []byte {
	b := make([]byte, 0, putSize)
	b = append(b, opPut)
	b = binary.BigEndian.AppendUint64(b, uint64(k.ID))
	var flags byte
	if k.Temp {
		flags |= flagTemp
	}
	b = append(b, flags)
	b = binary.BigEndian.AppendUint32(b, uint32(k.DC))
	b = binary.BigEndian.AppendUint64(b, uint64(millis(k.CreatedAt)))
	b = binary.BigEndian.AppendUint64(b, uint64(millis(k.ExpiresAt)))
	return append(b, k.Key[:]...)
}

// EncodeGet is the payload of op get.
func EncodeGet(id int64) []byte { return appendIDs([]byte{opGet}, id) }

// EncodeBind is the payload of op bind.
func EncodeBind(tempID, permID int64) []byte { return appendIDs([]byte{opBind}, tempID, permID) }

// EncodeDelete is the payload of op delete.
func EncodeDelete(id int64) []byte { return appendIDs([]byte{opDelete}, id) }

// EncodeSetUser is the payload of op setuser.
func EncodeSetUser(id, userID int64) []byte { return appendIDs([]byte{opSetUser}, id, userID) }

func appendIDs(b []byte, ids ...int64) []byte {
	for _, id := range ids {
		b = binary.BigEndian.AppendUint64(b, uint64(id))
	}
	return b
}

// encodeRecord is the stored form of a key.
func encodeRecord(k handshake.AuthKey) []byte {
	b := make([]byte, 0, recordSize)
	b = append(b, recordVersion)
	var flags byte
	if k.Temp {
		flags |= flagTemp
	}
	b = append(b, flags)
	b = binary.BigEndian.AppendUint32(b, uint32(k.DC))
	b = binary.BigEndian.AppendUint64(b, uint64(millis(k.CreatedAt)))
	b = binary.BigEndian.AppendUint64(b, uint64(millis(k.ExpiresAt)))
	b = binary.BigEndian.AppendUint64(b, uint64(k.PermID))
	b = binary.BigEndian.AppendUint64(b, uint64(k.UserID))
	return append(b, k.Key[:]...)
}

var errRecord = errors.New("authkeys: malformed stored record")

// DecodeRecord decodes a stored record (the value of Key(id), or the result of op get) of key id.
func DecodeRecord(id int64, b []byte) (handshake.AuthKey, error) {
	if len(b) != recordSize || b[0] != recordVersion || b[1]&^flagTemp != 0 {
		return handshake.AuthKey{}, errRecord
	}
	k := handshake.AuthKey{ID: id, Temp: b[1]&flagTemp != 0}
	k.DC = int32(binary.BigEndian.Uint32(b[2:]))
	k.CreatedAt = fromMillis(int64(binary.BigEndian.Uint64(b[6:])))
	k.ExpiresAt = fromMillis(int64(binary.BigEndian.Uint64(b[14:])))
	k.PermID = int64(binary.BigEndian.Uint64(b[22:]))
	k.UserID = int64(binary.BigEndian.Uint64(b[30:]))
	copy(k.Key[:], b[38:])
	return k, nil
}

// decodePut decodes the body of op put (after the op byte).
func decodePut(b []byte) (handshake.AuthKey, bool) {
	if len(b) != putSize-1 || b[8]&^flagTemp != 0 {
		return handshake.AuthKey{}, false
	}
	k := handshake.AuthKey{ID: int64(binary.BigEndian.Uint64(b)), Temp: b[8]&flagTemp != 0}
	k.DC = int32(binary.BigEndian.Uint32(b[9:]))
	k.CreatedAt = fromMillis(int64(binary.BigEndian.Uint64(b[13:])))
	k.ExpiresAt = fromMillis(int64(binary.BigEndian.Uint64(b[21:])))
	copy(k.Key[:], b[29:])
	return k, true
}

// decodeIDs decodes a body of exactly n int64s.
func decodeIDs(b []byte, n int) ([]int64, bool) {
	if len(b) != 8*n {
		return nil, false
	}
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = int64(binary.BigEndian.Uint64(b[8*i:]))
	}
	return ids, true
}
