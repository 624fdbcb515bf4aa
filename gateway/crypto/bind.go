package crypto

import (
	"crypto/sha1" //nolint:gosec // auth.bindTempAuthKey's message uses the MTProto 1.0 KDF, built on SHA-1.
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"io"
)

// ErrBindMessage is returned for an auth.bindTempAuthKey encrypted_message that does not check out.
var ErrBindMessage = errors.New("crypto: invalid binding message")

// BindMessage is the decrypted envelope of auth.bindTempAuthKey's encrypted_message.
type BindMessage struct {
	MsgID int64
	SeqNo int32
	Body  []byte // TL bind_auth_key_inner
}

// keysV1 is the MTProto 1.0 KDF with x = 0, which the binding message still uses.
func keysV1(k *AuthKey, msgKey []byte) (key, iv [32]byte) {
	sum := func(parts ...[]byte) [20]byte {
		h := sha1.New() //nolint:gosec
		for _, p := range parts {
			h.Write(p)
		}
		var out [20]byte
		h.Sum(out[:0])
		return out
	}
	v := k.Value[:]
	a := sum(msgKey, v[0:32])
	b := sum(v[32:48], msgKey, v[48:64])
	c := sum(v[64:96], msgKey)
	d := sum(msgKey, v[96:128])
	copy(key[0:8], a[0:8])
	copy(key[8:20], b[8:20])
	copy(key[20:32], c[4:16])
	copy(iv[0:12], a[8:20])
	copy(iv[12:20], b[0:8])
	copy(iv[20:24], c[16:20])
	copy(iv[24:32], d[0:8])
	return key, iv
}

// DecryptBindMessage checks and decrypts perm_auth_key_id + msg_key + encrypted_data as
// auth.bindTempAuthKey carries it: random(16) + msg_id + seq_no + length + bind_auth_key_inner + padding,
// with msg_key = SHA1(everything before the padding)[4:20] and the MTProto 1.0 KDF on the permanent key.
func DecryptBindMessage(perm *AuthKey, msg []byte) (BindMessage, error) {
	if len(msg) < EnvelopeHeader+32 || (len(msg)-EnvelopeHeader)%16 != 0 || len(msg) > 1024 {
		return BindMessage{}, ErrBindMessage
	}
	if int64(binary.LittleEndian.Uint64(msg)) != perm.ID {
		return BindMessage{}, ErrBindMessage
	}
	msgKey := msg[8:24]
	data := append([]byte(nil), msg[EnvelopeHeader:]...)
	key, iv := keysV1(perm, msgKey)
	if err := DecryptIGE(key[:], iv[:], data); err != nil {
		return BindMessage{}, ErrBindMessage
	}
	n := binary.LittleEndian.Uint32(data[28:])
	if uint64(n) > uint64(len(data)-32) || len(data)-32-int(n) > 15 {
		return BindMessage{}, ErrBindMessage
	}
	h := sha1.Sum(data[:32+n]) //nolint:gosec
	if subtle.ConstantTimeCompare(h[4:20], msgKey) != 1 {
		return BindMessage{}, ErrBindMessage
	}
	return BindMessage{
		MsgID: int64(binary.LittleEndian.Uint64(data[16:])),
		SeqNo: int32(binary.LittleEndian.Uint32(data[24:])),
		Body:  data[32 : 32+n],
	}, nil
}

// EncryptBindMessage is the client side of DecryptBindMessage (for tests).
func EncryptBindMessage(rnd io.Reader, perm *AuthKey, msgID int64, seqNo int32, body []byte) ([]byte, error) {
	plain := make([]byte, 32, 32+len(body)+16)
	if _, err := io.ReadFull(rnd, plain[:16]); err != nil {
		return nil, err
	}
	binary.LittleEndian.PutUint64(plain[16:], uint64(msgID))
	binary.LittleEndian.PutUint32(plain[24:], uint32(seqNo))
	binary.LittleEndian.PutUint32(plain[28:], uint32(len(body)))
	plain = append(plain, body...)
	h := sha1.Sum(plain) //nolint:gosec
	if pad := (16 - len(plain)%16) % 16; pad > 0 {
		p := make([]byte, pad)
		if _, err := io.ReadFull(rnd, p); err != nil {
			return nil, err
		}
		plain = append(plain, p...)
	}
	key, iv := keysV1(perm, h[4:20])
	if err := EncryptIGE(key[:], iv[:], plain); err != nil {
		return nil, err
	}
	out := binary.LittleEndian.AppendUint64(make([]byte, 0, EnvelopeHeader+len(plain)), uint64(perm.ID))
	out = append(out, h[4:20]...)
	return append(out, plain...), nil
}
