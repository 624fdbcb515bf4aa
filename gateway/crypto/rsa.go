package crypto

import (
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // fingerprints and the legacy padding are defined with SHA-1.
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
)

// RSAKeyBits is the size of the server RSA key clients accept.
const RSAKeyBits = 2048

const rsaBlock = RSAKeyBits / 8

// Errors of the RSA decryption paths. They all mean: answer nothing useful, drop the exchange.
var (
	ErrRSABlock = errors.New("crypto: RSA block out of range")
	ErrRSAHash  = errors.New("crypto: RSA payload hash mismatch")
)

// ServerKey is the server's RSA key pair with its MTProto fingerprint.
type ServerKey struct {
	Private     *rsa.PrivateKey
	Fingerprint int64
}

// NewServerKey wraps an existing private key.
func NewServerKey(k *rsa.PrivateKey) (*ServerKey, error) {
	if k.N.BitLen() != RSAKeyBits {
		return nil, fmt.Errorf("crypto: server RSA key has %d bits, want %d", k.N.BitLen(), RSAKeyBits)
	}
	k.Precompute()
	return &ServerKey{Private: k, Fingerprint: Fingerprint(&k.PublicKey)}, nil
}

// GenerateServerKey makes a 2048-bit key whose fingerprint, as unsigned hex, does not start with 0: mtcute
// 0.30.3 cannot find such keys.
func GenerateServerKey(rnd io.Reader) (*ServerKey, error) {
	for range 64 {
		k, err := rsa.GenerateKey(rnd, RSAKeyBits)
		if err != nil {
			return nil, fmt.Errorf("crypto: generate RSA key: %w", err)
		}
		if uint64(Fingerprint(&k.PublicKey))>>60 == 0 {
			continue
		}
		return NewServerKey(k)
	}
	return nil, errors.New("crypto: no RSA key with a usable fingerprint after 64 tries")
}

// Fingerprint is the last 8 bytes of SHA1(TL bytes n + TL bytes e) read as a little-endian int64.
func Fingerprint(pub *rsa.PublicKey) int64 {
	var buf []byte
	buf = appendTLBytes(buf, pub.N.Bytes())
	buf = appendTLBytes(buf, big.NewInt(int64(pub.E)).Bytes())
	h := sha1.Sum(buf) //nolint:gosec
	return int64(binary.LittleEndian.Uint64(h[12:20]))
}

// appendTLBytes encodes b as TL `bytes`, used only for the fingerprint so that this package stays TL-free.
func appendTLBytes(dst, b []byte) []byte {
	if len(b) < 254 {
		dst = append(dst, byte(len(b)))
	} else {
		dst = append(dst, 254, byte(len(b)), byte(len(b)>>8), byte(len(b)>>16))
	}
	dst = append(dst, b...)
	for len(dst)%4 != 0 {
		dst = append(dst, 0)
	}
	return dst
}

// EncodePublicPEM writes the public key as PKCS#1 "RSA PUBLIC KEY", the form client libraries are given.
func EncodePublicPEM(pub *rsa.PublicKey) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(pub)})
}

// ParsePublicPEM reads a PKCS#1 "RSA PUBLIC KEY" (or a PKIX "PUBLIC KEY" holding RSA).
func ParsePublicPEM(data []byte) (*rsa.PublicKey, error) {
	b, _ := pem.Decode(data)
	if b == nil {
		return nil, errors.New("crypto: no PEM block")
	}
	switch b.Type {
	case "RSA PUBLIC KEY":
		k, err := x509.ParsePKCS1PublicKey(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("crypto: parse PKCS#1 public key: %w", err)
		}
		return k, nil
	case "PUBLIC KEY":
		k, err := x509.ParsePKIXPublicKey(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("crypto: parse PKIX public key: %w", err)
		}
		rk, ok := k.(*rsa.PublicKey)
		if !ok {
			return nil, errors.New("crypto: PEM public key is not RSA")
		}
		return rk, nil
	default:
		return nil, fmt.Errorf("crypto: unexpected PEM block %q", b.Type)
	}
}

// EncodePrivatePEM writes the private key as PKCS#1 "RSA PRIVATE KEY" (for sharing it between cluster nodes).
func EncodePrivatePEM(k *rsa.PrivateKey) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
}

// ParsePrivatePEM reads a PKCS#1 "RSA PRIVATE KEY" and returns it as a ServerKey.
func ParsePrivatePEM(data []byte) (*ServerKey, error) {
	b, _ := pem.Decode(data)
	if b == nil || b.Type != "RSA PRIVATE KEY" {
		return nil, errors.New("crypto: no RSA PRIVATE KEY PEM block")
	}
	k, err := x509.ParsePKCS1PrivateKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("crypto: parse PKCS#1 private key: %w", err)
	}
	return NewServerKey(k)
}

// rawDecrypt computes c^d mod n with CRT and blinding (math/big is not constant time; blinding with a fresh r
// keeps the exponentiation's timing independent of the attacker's c). The result is left-padded to 256 bytes.
func (k *ServerKey) rawDecrypt(rnd io.Reader, block []byte) ([rsaBlock]byte, error) {
	var out [rsaBlock]byte
	if len(block) != rsaBlock {
		return out, ErrRSABlock
	}
	priv := k.Private
	c := new(big.Int).SetBytes(block)
	if c.Cmp(priv.N) >= 0 || c.Sign() == 0 {
		return out, ErrRSABlock
	}
	var r, rInv *big.Int
	for {
		var err error
		r, err = randInt(rnd, priv.N)
		if err != nil {
			return out, err
		}
		rInv = new(big.Int).ModInverse(r, priv.N)
		if rInv != nil {
			break
		}
	}
	e := big.NewInt(int64(priv.E))
	c.Mul(c, new(big.Int).Exp(r, e, priv.N))
	c.Mod(c, priv.N)

	p, q := priv.Primes[0], priv.Primes[1]
	pre := &priv.Precomputed
	m1 := new(big.Int).Exp(c, pre.Dp, p)
	m2 := new(big.Int).Exp(c, pre.Dq, q)
	m1.Sub(m1, m2)
	m1.Mul(m1, pre.Qinv)
	m1.Mod(m1, p)
	m1.Mul(m1, q)
	m1.Add(m1, m2)
	m1.Mul(m1, rInv)
	m1.Mod(m1, priv.N)
	m1.FillBytes(out[:])
	return out, nil
}

func randInt(rnd io.Reader, max *big.Int) (*big.Int, error) {
	var buf [rsaBlock]byte
	for {
		if _, err := io.ReadFull(rnd, buf[:]); err != nil {
			return nil, fmt.Errorf("crypto: random: %w", err)
		}
		v := new(big.Int).SetBytes(buf[:])
		if v.Sign() > 0 && v.Cmp(max) < 0 {
			return v, nil
		}
	}
}

// DecryptRSAPad undoes the client side of RSA_PAD and returns data_with_padding (192 bytes: the TL-encoded
// p_q_inner_data followed by random padding).
func (k *ServerKey) DecryptRSAPad(rnd io.Reader, encrypted []byte) ([]byte, error) {
	m, err := k.rawDecrypt(rnd, encrypted)
	if err != nil {
		return nil, err
	}
	// key_aes_encrypted = temp_key_xor (32) + aes_encrypted (224).
	var tempKey [32]byte
	aesEncrypted := m[32:]
	h := sha256.Sum256(aesEncrypted)
	for i := range tempKey {
		tempKey[i] = m[i] ^ h[i]
	}
	var zeroIV [32]byte
	dataWithHash := make([]byte, 224)
	copy(dataWithHash, aesEncrypted)
	if err := DecryptIGE(tempKey[:], zeroIV[:], dataWithHash); err != nil {
		return nil, err
	}
	// data_with_hash = reversed(data_with_padding) (192) + SHA256(temp_key + data_with_padding) (32).
	data := dataWithHash[:192]
	for i, j := 0, len(data)-1; i < j; i, j = i+1, j-1 {
		data[i], data[j] = data[j], data[i]
	}
	hh := sha256.New()
	hh.Write(tempKey[:])
	hh.Write(data)
	var sum [32]byte
	hh.Sum(sum[:0])
	if subtle.ConstantTimeCompare(sum[:], dataWithHash[192:]) != 1 {
		return nil, ErrRSAHash
	}
	return data, nil
}

// DecryptRSALegacy undoes the pre-RSA_PAD scheme: the block is SHA1(data) + data + random padding, 255 bytes
// encrypted as one integer. It returns the 20-byte hash and the rest; the caller decodes the TL value from the
// rest and checks the hash over exactly the bytes it consumed (see CheckSHA1Prefix).
func (k *ServerKey) DecryptRSALegacy(rnd io.Reader, encrypted []byte) (hash, rest []byte, err error) {
	if len(encrypted) > rsaBlock {
		return nil, nil, ErrRSABlock
	}
	var block [rsaBlock]byte
	copy(block[rsaBlock-len(encrypted):], encrypted)
	m, err := k.rawDecrypt(rnd, block[:])
	if err != nil {
		return nil, nil, err
	}
	if m[0] != 0 {
		return nil, nil, ErrRSABlock
	}
	out := make([]byte, rsaBlock-1)
	copy(out, m[1:])
	return out[:20], out[20:], nil
}

// CheckSHA1Prefix reports whether hash equals SHA1(data).
func CheckSHA1Prefix(hash, data []byte) bool {
	h := sha1.Sum(data) //nolint:gosec
	return subtle.ConstantTimeCompare(h[:], hash) == 1
}

// EncryptRSAPad is the client side of RSA_PAD (used by the project's test client and benchmarks). data must be
// at most 144 bytes.
func EncryptRSAPad(rnd io.Reader, pub *rsa.PublicKey, data []byte) ([]byte, error) {
	if len(data) > 144 {
		return nil, fmt.Errorf("crypto: RSA_PAD data too long: %d bytes", len(data))
	}
	withPadding := make([]byte, 192)
	copy(withPadding, data)
	if _, err := io.ReadFull(rnd, withPadding[len(data):]); err != nil {
		return nil, fmt.Errorf("crypto: random: %w", err)
	}
	for {
		var tempKey [32]byte
		if _, err := io.ReadFull(rnd, tempKey[:]); err != nil {
			return nil, fmt.Errorf("crypto: random: %w", err)
		}
		dataWithHash := make([]byte, 0, 224)
		for i := len(withPadding) - 1; i >= 0; i-- {
			dataWithHash = append(dataWithHash, withPadding[i])
		}
		h := sha256.New()
		h.Write(tempKey[:])
		h.Write(withPadding)
		dataWithHash = h.Sum(dataWithHash)
		var zeroIV [32]byte
		if err := EncryptIGE(tempKey[:], zeroIV[:], dataWithHash); err != nil {
			return nil, err
		}
		hs := sha256.Sum256(dataWithHash)
		keyAES := make([]byte, 0, rsaBlock)
		for i := range tempKey {
			keyAES = append(keyAES, tempKey[i]^hs[i])
		}
		keyAES = append(keyAES, dataWithHash...)
		x := new(big.Int).SetBytes(keyAES)
		if x.Cmp(pub.N) >= 0 {
			continue
		}
		x.Exp(x, big.NewInt(int64(pub.E)), pub.N)
		out := make([]byte, rsaBlock)
		x.FillBytes(out)
		return out, nil
	}
}

// EncryptRSALegacy is the client side of the pre-RSA_PAD scheme (for tests): SHA1(data) + data + padding to
// 255 bytes, raised to e.
func EncryptRSALegacy(rnd io.Reader, pub *rsa.PublicKey, data []byte) ([]byte, error) {
	if len(data) > 255-20 {
		return nil, fmt.Errorf("crypto: legacy RSA data too long: %d bytes", len(data))
	}
	h := sha1.Sum(data) //nolint:gosec
	block := make([]byte, 255)
	copy(block, h[:])
	copy(block[20:], data)
	if _, err := io.ReadFull(rnd, block[20+len(data):]); err != nil {
		return nil, fmt.Errorf("crypto: random: %w", err)
	}
	x := new(big.Int).SetBytes(block)
	x.Exp(x, big.NewInt(int64(pub.E)), pub.N)
	out := make([]byte, rsaBlock)
	x.FillBytes(out)
	return out, nil
}
