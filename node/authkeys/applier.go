package authkeys

import (
	"bytes"

	"github.com/raftgram/raftgram/fsm"
	"github.com/raftgram/raftgram/gateway/handshake"
)

// ApplyError codes of this package's commands.
const (
	CodeKeyExists       = "KEY_EXISTS"
	CodeKeyNotFound     = "KEY_NOT_FOUND"
	CodeKeyNotTemporary = "KEY_NOT_TEMPORARY"
	CodeKeyTemporary    = "KEY_TEMPORARY"
	CodeAlreadyBound    = "TEMP_AUTH_KEY_ALREADY_BOUND"
	CodePayloadInvalid  = "PAYLOAD_INVALID"
)

// Applier applies TypeV1 commands. It is stateless; its only inputs are the command and the shard's state.
type Applier struct{}

// Appliers returns the appliers of this package, for node.Config.Appliers. Every node must register them,
// gateway or not: each replica applies every committed command of its shards.
func Appliers() map[fsm.CommandType]fsm.Applier {
	return map[fsm.CommandType]fsm.Applier{TypeV1: Applier{}}
}

func invalid(what string) error { return &fsm.ApplyError{Code: CodePayloadInvalid, Msg: what} }

// Apply implements fsm.Applier.
func (Applier) Apply(tx *fsm.Tx, cmd fsm.Command) ([]byte, error) {
	p := cmd.Payload
	if len(p) == 0 {
		return nil, invalid("empty payload")
	}
	body := p[1:]
	switch p[0] {
	case opPut:
		k, ok := decodePut(body)
		if !ok {
			return nil, invalid("put")
		}
		return nil, put(tx, k)
	case opGet:
		ids, ok := decodeIDs(body, 1)
		if !ok {
			return nil, invalid("get")
		}
		v, found, err := tx.Get(Key(ids[0]))
		if err != nil || !found {
			return nil, err
		}
		return v, nil
	case opBind:
		ids, ok := decodeIDs(body, 2)
		if !ok {
			return nil, invalid("bind")
		}
		return nil, bind(tx, ids[0], ids[1])
	case opDelete:
		ids, ok := decodeIDs(body, 1)
		if !ok {
			return nil, invalid("delete")
		}
		return nil, tx.Delete(Key(ids[0]))
	case opSetUser:
		ids, ok := decodeIDs(body, 2)
		if !ok {
			return nil, invalid("setuser")
		}
		return nil, setUser(tx, ids[0], ids[1])
	}
	return nil, invalid("unknown op")
}

// load reads a key; a record this binary cannot decode is a deterministic rejection (every replica of the
// same binary stored the same bytes).
func load(tx *fsm.Tx, id int64) (handshake.AuthKey, bool, error) {
	v, found, err := tx.Get(Key(id))
	if err != nil || !found {
		return handshake.AuthKey{}, false, err
	}
	k, err := DecodeRecord(id, v)
	if err != nil {
		return handshake.AuthKey{}, false, &fsm.ApplyError{Code: "RECORD_INVALID", Msg: err.Error()}
	}
	return k, true, nil
}

func put(tx *fsm.Tx, k handshake.AuthKey) error {
	cur, found, err := load(tx, k.ID)
	if err != nil {
		return err
	}
	if found {
		if bytes.Equal(cur.Key[:], k.Key[:]) {
			return nil // the same key proposed again (a retry outside the dedup window): already stored
		}
		return &fsm.ApplyError{Code: CodeKeyExists}
	}
	return tx.Set(Key(k.ID), encodeRecord(k))
}

func bind(tx *fsm.Tx, tempID, permID int64) error {
	k, found, err := load(tx, tempID)
	if err != nil {
		return err
	}
	switch {
	case !found:
		return &fsm.ApplyError{Code: CodeKeyNotFound, Msg: "temporary key"}
	case !k.Temp:
		return &fsm.ApplyError{Code: CodeKeyNotTemporary}
	case k.PermID == permID:
		return nil
	case k.PermID != 0:
		return &fsm.ApplyError{Code: CodeAlreadyBound}
	}
	k.PermID = permID
	return tx.Set(Key(tempID), encodeRecord(k))
}

func setUser(tx *fsm.Tx, id, userID int64) error {
	k, found, err := load(tx, id)
	if err != nil {
		return err
	}
	switch {
	case !found:
		return &fsm.ApplyError{Code: CodeKeyNotFound}
	case k.Temp:
		return &fsm.ApplyError{Code: CodeKeyTemporary}
	case k.UserID == userID:
		return nil
	}
	k.UserID = userID
	return tx.Set(Key(id), encodeRecord(k))
}
