package pki

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
)

// A join token is "<nonce>.<mac>.<cahash>" in hex: a random 16-byte nonce, the first 16 bytes of
// HMAC-SHA256(cluster secret, "join"+nonce) and the SHA-256 of the CA certificate. Any member can check the MAC
// (all members hold the secret); the meta group records consumed nonces so a token works once; the CA hash lets
// the joiner authenticate the cluster before it has a certificate.

// Token is a parsed join token.
type Token struct {
	Nonce  [16]byte
	MAC    [16]byte
	CAHash [32]byte
}

// NewToken mints a join token.
func NewToken(secret []byte, caCertDER []byte, rnd io.Reader) (string, error) {
	var t Token
	if _, err := io.ReadFull(rnd, t.Nonce[:]); err != nil {
		return "", fmt.Errorf("token nonce: %w", err)
	}
	t.MAC = tokenMAC(secret, t.Nonce)
	t.CAHash = CAHash(caCertDER)
	return t.String(), nil
}

func (t Token) String() string {
	return hex.EncodeToString(t.Nonce[:]) + "." + hex.EncodeToString(t.MAC[:]) + "." + hex.EncodeToString(t.CAHash[:])
}

// ParseToken decodes a token; it does not verify it.
func ParseToken(s string) (Token, error) {
	var t Token
	parts := strings.Split(strings.TrimSpace(s), ".")
	if len(parts) != 3 {
		return t, errors.New("join token: want 3 dot-separated parts")
	}
	for i, dst := range [][]byte{t.Nonce[:], t.MAC[:], t.CAHash[:]} {
		b, err := hex.DecodeString(parts[i])
		if err != nil || len(b) != len(dst) {
			return t, fmt.Errorf("join token: part %d malformed", i+1)
		}
		copy(dst, b)
	}
	return t, nil
}

// Verify checks the token's MAC against the cluster secret and its CA hash against the CA.
func (t Token) Verify(secret []byte, caCertDER []byte) error {
	want := tokenMAC(secret, t.Nonce)
	if !hmac.Equal(want[:], t.MAC[:]) {
		return errors.New("join token: bad MAC")
	}
	if CAHash(caCertDER) != t.CAHash {
		return errors.New("join token: for another cluster")
	}
	return nil
}

// CAHash is the SHA-256 of a DER certificate.
func CAHash(der []byte) [32]byte { return sha256.Sum256(der) }

func tokenMAC(secret []byte, nonce [16]byte) [16]byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("join"))
	m.Write(nonce[:])
	var out [16]byte
	copy(out[:], m.Sum(nil))
	return out
}
