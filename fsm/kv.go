package fsm

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// Built-in KV command types: a small key/value map per shard for cluster tests, benchmarks and reads through
// the log.
const (
	TypeKVPut    CommandType = 1 // payload EncodeKVPut; result empty
	TypeKVDelete CommandType = 2 // payload EncodeKVDelete; result empty
	TypeKVCAS    CommandType = 3 // payload EncodeKVCAS; result empty, or ApplyError CAS_MISMATCH
	TypeKVGet    CommandType = 4 // payload EncodeKVGet; result DecodeKVGetResult
)

// CodeCASMismatch is the ApplyError code of a compare-and-set whose expectation did not hold.
const CodeCASMismatch = "CAS_MISMATCH"

// EncodeKVPut is the payload of TypeKVPut.
func EncodeKVPut(key, value []byte) []byte {
	b := binary.AppendUvarint(make([]byte, 0, 2+len(key)+len(value)), uint64(len(key)))
	b = append(b, key...)
	return append(b, value...)
}

// EncodeKVDelete is the payload of TypeKVDelete.
func EncodeKVDelete(key []byte) []byte { return append([]byte(nil), key...) }

// EncodeKVGet is the payload of TypeKVGet.
func EncodeKVGet(key []byte) []byte { return append([]byte(nil), key...) }

// EncodeKVCAS is the payload of TypeKVCAS: set key to value if its current value is old; old == nil means "the
// key must not exist", value == nil means "delete the key".
func EncodeKVCAS(key, old, value []byte) []byte {
	var flags byte
	if old != nil {
		flags |= 1
	}
	if value != nil {
		flags |= 2
	}
	b := binary.AppendUvarint(nil, uint64(len(key)))
	b = append(b, key...)
	b = append(b, flags)
	b = binary.AppendUvarint(b, uint64(len(old)))
	b = append(b, old...)
	return append(b, value...)
}

// DecodeKVGetResult decodes a TypeKVGet result: found, then the value.
func DecodeKVGetResult(r []byte) (value []byte, found bool) {
	if len(r) == 0 || r[0] == 0 {
		return nil, false
	}
	return r[1:], true
}

func badPayload(what string) error {
	return &ApplyError{Code: "PAYLOAD_INVALID", Msg: what}
}

func registerKV(st *State) {
	st.Register(TypeKVPut, ApplierFunc(kvPut))
	st.Register(TypeKVDelete, ApplierFunc(kvDelete))
	st.Register(TypeKVCAS, ApplierFunc(kvCAS))
	st.Register(TypeKVGet, ApplierFunc(kvGet))
}

func kvPut(tx *Tx, cmd Command) ([]byte, error) {
	key, value, ok := cutField(cmd.Payload)
	if !ok {
		return nil, badPayload("kv put")
	}
	return nil, tx.Set(key, value)
}

func kvDelete(tx *Tx, cmd Command) ([]byte, error) {
	return nil, tx.Delete(cmd.Payload)
}

func kvGet(tx *Tx, cmd Command) ([]byte, error) {
	v, ok, err := tx.Get(cmd.Payload)
	if err != nil || !ok {
		return []byte{0}, err
	}
	return append([]byte{1}, v...), nil
}

func kvCAS(tx *Tx, cmd Command) ([]byte, error) {
	key, rest, ok := cutField(cmd.Payload)
	if !ok || len(rest) < 1 || rest[0]&^3 != 0 {
		return nil, badPayload("kv cas")
	}
	flags := rest[0]
	old, value, ok := cutField(rest[1:])
	if !ok {
		return nil, badPayload("kv cas")
	}
	cur, exists, err := tx.Get(key)
	if err != nil {
		return nil, err
	}
	wantExists := flags&1 != 0
	if exists != wantExists || (exists && !bytes.Equal(cur, old)) {
		return nil, &ApplyError{Code: CodeCASMismatch, Msg: fmt.Sprintf("key %q", key)}
	}
	if flags&2 == 0 {
		return nil, tx.Delete(key)
	}
	return nil, tx.Set(key, value)
}
