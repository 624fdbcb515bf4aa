package crypto

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Side selects the x of the MTProto 2.0 key derivation: 0 for messages from client to server, 8 for the reverse.
type Side int

const (
	// ClientToServer is x = 0.
	ClientToServer Side = 0
	// ServerToClient is x = 8.
	ServerToClient Side = 8
)

const (
	// EnvelopeHeader is auth_key_id + msg_key.
	EnvelopeHeader = 8 + 16
	// InnerHeader is salt + session_id + msg_id + seq_no + message_data_length.
	InnerHeader = 8 + 8 + 8 + 4 + 4
	minPadding  = 12
	maxPadding  = 1024
)

// Errors of DecryptMessage. All mean the frame must be rejected without an answer that depends on its content.
var (
	ErrShortMessage = errors.New("crypto: encrypted message too short or not block aligned")
	ErrMsgKey       = errors.New("crypto: msg_key mismatch")
	ErrKeyID        = errors.New("crypto: auth_key_id does not match the key")
	ErrInnerLength  = errors.New("crypto: bad message_data_length or padding")
)

// Message is the decrypted inner part of an encrypted MTProto message.
type Message struct {
	Salt      int64
	SessionID int64
	MsgID     int64
	SeqNo     int32
	Body      []byte
}

// MsgKeyLarge returns SHA256(auth_key[88+x:120+x] + plaintext).
func MsgKeyLarge(k *AuthKey, side Side, plaintext []byte) [32]byte {
	x := int(side)
	h := sha256.New()
	h.Write(k.Value[88+x : 120+x])
	h.Write(plaintext)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// MessageAESKeys returns the AES-256-IGE key and IV for a msg_key (MTProto 2.0 KDF).
func MessageAESKeys(k *AuthKey, side Side, msgKey []byte) (key, iv [32]byte) {
	x := int(side)
	ha := sha256.New()
	ha.Write(msgKey)
	ha.Write(k.Value[x : x+36])
	var a [32]byte
	ha.Sum(a[:0])
	hb := sha256.New()
	hb.Write(k.Value[40+x : 76+x])
	hb.Write(msgKey)
	var b [32]byte
	hb.Sum(b[:0])
	copy(key[0:8], a[0:8])
	copy(key[8:24], b[8:24])
	copy(key[24:32], a[24:32])
	copy(iv[0:8], b[0:8])
	copy(iv[8:24], a[8:24])
	copy(iv[24:32], b[24:32])
	return key, iv
}

// QuickAckToken is the token the server returns for a quick-ack request: the first 32 bits of msg_key_large
// (read little-endian, as clients do) with the high bit set.
func QuickAckToken(msgKeyLarge [32]byte) uint32 {
	return binary.LittleEndian.Uint32(msgKeyLarge[0:4]) | 0x80000000
}

// EnvelopeKeyID reads auth_key_id from a frame; ok is false if the frame is shorter than 8 bytes.
func EnvelopeKeyID(frame []byte) (id int64, ok bool) {
	if len(frame) < 8 {
		return 0, false
	}
	return int64(binary.LittleEndian.Uint64(frame)), true
}

// DecryptMessage checks and decrypts an encrypted frame (auth_key_id, msg_key, encrypted_data) in place and
// returns its inner message, whose Body aliases frame, and the quick-ack token of the plaintext.
func DecryptMessage(k *AuthKey, side Side, frame []byte) (Message, uint32, error) {
	data := frame[min(len(frame), EnvelopeHeader):]
	if len(frame) < EnvelopeHeader+InnerHeader+minPadding || len(data)%16 != 0 {
		return Message{}, 0, ErrShortMessage
	}
	if id, _ := EnvelopeKeyID(frame); id != k.ID {
		return Message{}, 0, ErrKeyID
	}
	msgKey := frame[8:24]
	key, iv := MessageAESKeys(k, side, msgKey)
	if err := DecryptIGE(key[:], iv[:], data); err != nil {
		return Message{}, 0, fmt.Errorf("crypto: decrypt message: %w", err)
	}
	// The msg_key check comes first and always runs: no other check may leak timing before it.
	large := MsgKeyLarge(k, side, data)
	if subtle.ConstantTimeCompare(large[8:24], msgKey) != 1 {
		return Message{}, 0, ErrMsgKey
	}
	m := Message{
		Salt:      int64(binary.LittleEndian.Uint64(data[0:])),
		SessionID: int64(binary.LittleEndian.Uint64(data[8:])),
		MsgID:     int64(binary.LittleEndian.Uint64(data[16:])),
		SeqNo:     int32(binary.LittleEndian.Uint32(data[24:])),
	}
	n := binary.LittleEndian.Uint32(data[28:])
	rest := uint32(len(data) - InnerHeader)
	if n%4 != 0 || n > rest || rest-n < minPadding || rest-n > maxPadding {
		return Message{}, 0, ErrInnerLength
	}
	m.Body = data[InnerHeader : InnerHeader+n]
	return m, QuickAckToken(large), nil
}

// paddingFor returns a padding length in 12..1024 that makes InnerHeader+bodyLen+pad a multiple of 16; extra
// random whole blocks (0..3) vary the length a little.
func paddingFor(bodyLen int, rnd io.Reader) (int, error) {
	pad := minPadding + (16-(InnerHeader+bodyLen+minPadding)%16)%16
	var b [1]byte
	if _, err := io.ReadFull(rnd, b[:]); err != nil {
		return 0, fmt.Errorf("crypto: padding: %w", err)
	}
	return pad + 16*int(b[0]&3), nil
}

// EncryptMessage appends the encrypted frame for m to dst and returns it. m.Body must be a multiple of 4 bytes.
func EncryptMessage(dst []byte, k *AuthKey, side Side, m Message, rnd io.Reader) ([]byte, error) {
	if len(m.Body)%4 != 0 {
		return dst, fmt.Errorf("crypto: message body length %d is not a multiple of 4", len(m.Body))
	}
	pad, err := paddingFor(len(m.Body), rnd)
	if err != nil {
		return dst, err
	}
	start := len(dst)
	total := EnvelopeHeader + InnerHeader + len(m.Body) + pad
	dst = grow(dst, total)
	out := dst[start : start+total]
	binary.LittleEndian.PutUint64(out[0:], uint64(k.ID))
	data := out[EnvelopeHeader:]
	binary.LittleEndian.PutUint64(data[0:], uint64(m.Salt))
	binary.LittleEndian.PutUint64(data[8:], uint64(m.SessionID))
	binary.LittleEndian.PutUint64(data[16:], uint64(m.MsgID))
	binary.LittleEndian.PutUint32(data[24:], uint32(m.SeqNo))
	binary.LittleEndian.PutUint32(data[28:], uint32(len(m.Body)))
	copy(data[InnerHeader:], m.Body)
	if _, err := io.ReadFull(rnd, data[InnerHeader+len(m.Body):]); err != nil {
		return dst[:start], fmt.Errorf("crypto: padding: %w", err)
	}
	large := MsgKeyLarge(k, side, data)
	copy(out[8:24], large[8:24])
	key, iv := MessageAESKeys(k, side, out[8:24])
	if err := EncryptIGE(key[:], iv[:], data); err != nil {
		return dst[:start], err
	}
	return dst, nil
}

func grow(b []byte, n int) []byte {
	if cap(b)-len(b) < n {
		nb := make([]byte, len(b), len(b)+n)
		copy(nb, b)
		b = nb
	}
	return b[:len(b)+n]
}
