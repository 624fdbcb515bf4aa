package handshake

import (
	"encoding/binary"
	"errors"
)

// ErrPlainFrame is returned for an unencrypted frame that does not have the layout
// auth_key_id (0) + msg_id + message_data_length + message_data.
var ErrPlainFrame = errors.New("handshake: malformed unencrypted message")

// ParsePlain splits an unencrypted message; body aliases frame. Up to 15 bytes after the message are ignored:
// padded intermediate leaves transport padding there.
func ParsePlain(frame []byte) (msgID int64, body []byte, err error) {
	if len(frame) < 20 || binary.LittleEndian.Uint64(frame) != 0 {
		return 0, nil, ErrPlainFrame
	}
	msgID = int64(binary.LittleEndian.Uint64(frame[8:]))
	n := binary.LittleEndian.Uint32(frame[16:])
	rest := uint64(len(frame) - 20)
	if uint64(n) > rest || rest-uint64(n) > 15 || n%4 != 0 {
		return 0, nil, ErrPlainFrame
	}
	return msgID, frame[20 : 20+n], nil
}

// AppendPlain appends an unencrypted message with body to dst.
func AppendPlain(dst []byte, msgID int64, body []byte) []byte {
	dst = binary.LittleEndian.AppendUint64(dst, 0)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(msgID))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(body)))
	return append(dst, body...)
}
