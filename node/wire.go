package node

import (
	"encoding/binary"
	"errors"

	"github.com/raftgram/raftgram/fsm"
)

// Forwarded proposals and their results travel in a small binary form (canonical values only):
//
//	propose request := shard u32 BE | type uvarint | request_id [16] | time varint | payload (rest)
//	result          := flags u8 (1 duplicate, 2 error) | [code_len uvarint | code | msg_len uvarint | msg] | value (rest)
//	read request    := shard u32 BE | key (rest)
//	read response   := found u8 | value (rest)

func encodeProposeReq(s uint32, cmd fsm.Command) ([]byte, error) {
	b := make([]byte, 0, 4+binary.MaxVarintLen64*2+16+len(cmd.Payload))
	b = binary.BigEndian.AppendUint32(b, s)
	b = binary.AppendUvarint(b, uint64(cmd.Type))
	b = append(b, cmd.RequestID[:]...)
	b = binary.AppendVarint(b, cmd.Time)
	return append(b, cmd.Payload...), nil
}

func decodeProposeReq(b []byte) (uint32, fsm.Command, error) {
	var cmd fsm.Command
	if len(b) < 4 {
		return 0, cmd, errors.New("propose request: short")
	}
	s := binary.BigEndian.Uint32(b)
	b = b[4:]
	t, n := binary.Uvarint(b)
	if n <= 0 || t > 1<<31 {
		return 0, cmd, errors.New("propose request: bad type")
	}
	b = b[n:]
	if len(b) < 16 {
		return 0, cmd, errors.New("propose request: short request id")
	}
	cmd.Type = fsm.CommandType(t)
	copy(cmd.RequestID[:], b)
	b = b[16:]
	tm, n := binary.Varint(b)
	if n <= 0 {
		return 0, cmd, errors.New("propose request: bad time")
	}
	cmd.Time = tm
	cmd.Payload = b[n:]
	return s, cmd, nil
}

func encodeResult(r fsm.Result) ([]byte, error) {
	var flags byte
	if r.Duplicate {
		flags |= 1
	}
	b := []byte{0}
	if r.Err != nil {
		flags |= 2
		code, msg := "ERROR", r.Err.Error()
		var ae *fsm.ApplyError
		if errors.As(r.Err, &ae) {
			code, msg = ae.Code, ae.Msg
		}
		b = binary.AppendUvarint(b, uint64(len(code)))
		b = append(b, code...)
		b = binary.AppendUvarint(b, uint64(len(msg)))
		b = append(b, msg...)
	}
	b[0] = flags
	return append(b, r.Value...), nil
}

func decodeResult(b []byte) (fsm.Result, error) {
	var r fsm.Result
	if len(b) < 1 {
		return r, errors.New("result: empty")
	}
	flags := b[0]
	b = b[1:]
	r.Duplicate = flags&1 != 0
	if flags&2 != 0 {
		str := func() (string, error) {
			l, n := binary.Uvarint(b)
			if n <= 0 || l > uint64(len(b)-n) {
				return "", errors.New("result: bad string")
			}
			s := string(b[n : n+int(l)])
			b = b[n+int(l):]
			return s, nil
		}
		code, err := str()
		if err != nil {
			return r, err
		}
		msg, err := str()
		if err != nil {
			return r, err
		}
		r.Err = &fsm.ApplyError{Code: code, Msg: msg}
	}
	if len(b) > 0 {
		r.Value = b
	}
	return r, nil
}

func encodeReadReq(s uint32, key []byte) []byte {
	b := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(key)), s)
	return append(b, key...)
}
