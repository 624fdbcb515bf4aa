package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"fmt"
)

// ErrBlockSize is returned when IGE input is not a whole number of AES blocks.
var ErrBlockSize = errors.New("crypto: data is not a multiple of the AES block size")

// IGE is AES-256 in Infinite Garble Extension mode as MTProto uses it: the 32-byte IV is the first previous
// ciphertext block followed by the first previous plaintext block.
type IGE struct {
	b  cipher.Block
	iv [32]byte
}

// NewIGE returns an IGE cipher for a 32-byte key and a 32-byte IV.
func NewIGE(key, iv []byte) (*IGE, error) {
	if len(key) != 32 || len(iv) != 32 {
		return nil, fmt.Errorf("crypto: IGE needs a 32-byte key and IV, got %d and %d", len(key), len(iv))
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("crypto: aes: %w", err)
	}
	c := &IGE{b: b}
	copy(c.iv[:], iv)
	return c, nil
}

// Encrypt encrypts src into dst (they may be the same slice); len(src) must be a multiple of 16.
func (c *IGE) Encrypt(dst, src []byte) error {
	if len(src)%aes.BlockSize != 0 || len(dst) < len(src) {
		return ErrBlockSize
	}
	var prevC, prevP, tmp, in [aes.BlockSize]byte
	copy(prevC[:], c.iv[:16])
	copy(prevP[:], c.iv[16:])
	for i := 0; i < len(src); i += aes.BlockSize {
		copy(in[:], src[i:i+aes.BlockSize])
		for j := range tmp {
			tmp[j] = in[j] ^ prevC[j]
		}
		c.b.Encrypt(tmp[:], tmp[:])
		for j := range tmp {
			tmp[j] ^= prevP[j]
		}
		copy(dst[i:], tmp[:])
		prevC, prevP = tmp, in
	}
	return nil
}

// Decrypt decrypts src into dst (they may be the same slice); len(src) must be a multiple of 16.
func (c *IGE) Decrypt(dst, src []byte) error {
	if len(src)%aes.BlockSize != 0 || len(dst) < len(src) {
		return ErrBlockSize
	}
	var prevC, prevP, tmp, in [aes.BlockSize]byte
	copy(prevC[:], c.iv[:16])
	copy(prevP[:], c.iv[16:])
	for i := 0; i < len(src); i += aes.BlockSize {
		copy(in[:], src[i:i+aes.BlockSize])
		for j := range tmp {
			tmp[j] = in[j] ^ prevP[j]
		}
		c.b.Decrypt(tmp[:], tmp[:])
		for j := range tmp {
			tmp[j] ^= prevC[j]
		}
		copy(dst[i:], tmp[:])
		prevC, prevP = in, tmp
	}
	return nil
}

// EncryptIGE is a one-shot AES-256-IGE encryption in place.
func EncryptIGE(key, iv, data []byte) error {
	c, err := NewIGE(key, iv)
	if err != nil {
		return err
	}
	return c.Encrypt(data, data)
}

// DecryptIGE is a one-shot AES-256-IGE decryption in place.
func DecryptIGE(key, iv, data []byte) error {
	c, err := NewIGE(key, iv)
	if err != nil {
		return err
	}
	return c.Decrypt(data, data)
}
