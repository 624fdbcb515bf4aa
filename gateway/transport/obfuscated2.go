package transport

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"fmt"
	"io"
)

// ObfuscatedInitLen is the length of the obfuscated2 init a client sends first.
const ObfuscatedInitLen = 64

// Protocol tags as they appear at bytes 56-59 of a decrypted obfuscated2 init (and, for the two 4-byte ones,
// as the first bytes of a plain connection).
var (
	TagAbridged     = [4]byte{0xef, 0xef, 0xef, 0xef}
	TagIntermediate = [4]byte{0xee, 0xee, 0xee, 0xee}
	TagPadded       = [4]byte{0xdd, 0xdd, 0xdd, 0xdd}
)

// Obfuscated wraps an abridged, intermediate or padded codec in obfuscated2's AES-256-CTR streams.
type Obfuscated struct {
	inner Codec
	dec   cipher.Stream // client to server; reader side only
	enc   cipher.Stream // server to client; writer side only
	dc    int16
	name  string
}

// AcceptObfuscated parses a client's 64-byte obfuscated2 init. It derives both CTR streams (client to server:
// key init[8:40], iv init[40:56]; server to client: the same 48 bytes reversed), decrypts the init to read
// the protocol tag (bytes 56-59) and DC id (60-61, little-endian, any value accepted), and returns the codec
// for the tagged transport. The decrypting stream has consumed exactly the 64 init bytes.
func AcceptObfuscated(init []byte, maxFrame int, rand io.Reader) (*Obfuscated, error) {
	if len(init) != ObfuscatedInitLen {
		return nil, fmt.Errorf("obfuscated2: init is %d bytes, want %d", len(init), ObfuscatedInitLen)
	}
	dec, err := newCTR(init[8:40], init[40:56])
	if err != nil {
		return nil, err
	}
	var rev [48]byte
	for i := range rev {
		rev[i] = init[55-i]
	}
	enc, err := newCTR(rev[:32], rev[32:])
	if err != nil {
		return nil, err
	}
	var plain [ObfuscatedInitLen]byte
	dec.XORKeyStream(plain[:], init)
	var tag [4]byte
	copy(tag[:], plain[56:60])
	var inner Codec
	switch tag {
	case TagAbridged:
		inner = NewAbridged(maxFrame)
	case TagIntermediate:
		inner = NewIntermediate(maxFrame)
	case TagPadded:
		inner = NewPadded(maxFrame, rand)
	default:
		return nil, fmt.Errorf("obfuscated2: %w: tag %x", ErrUnknown, tag)
	}
	return &Obfuscated{
		inner: inner,
		dec:   dec,
		enc:   enc,
		dc:    int16(binary.LittleEndian.Uint16(plain[60:62])),
		name:  inner.Name() + "+obfuscated",
	}, nil
}

func newCTR(key, iv []byte) (cipher.Stream, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("obfuscated2: %w", err)
	}
	return cipher.NewCTR(b, iv), nil
}

func (o *Obfuscated) Name() string { return o.name }

// DC is the DC id the client wrote into its init; negative values mean a media DC. It is informational:
// GramJS and mtcute leave it random.
func (o *Obfuscated) DC() int16 { return o.dc }

// Decode decrypts all of p in place, then decodes it: the CTR stream advances by exactly the bytes consumed.
func (o *Obfuscated) Decode(p []byte, emit EmitFunc) error {
	o.dec.XORKeyStream(p, p)
	return o.inner.Decode(p, emit)
}

func (o *Obfuscated) AppendFrame(dst, payload []byte) []byte {
	n := len(dst)
	dst = o.inner.AppendFrame(dst, payload)
	o.enc.XORKeyStream(dst[n:], dst[n:])
	return dst
}

func (o *Obfuscated) AppendQuickAck(dst []byte, token uint32) ([]byte, error) {
	n := len(dst)
	dst, err := o.inner.AppendQuickAck(dst, token)
	if err != nil {
		return dst, err
	}
	o.enc.XORKeyStream(dst[n:], dst[n:])
	return dst, nil
}
