package crypto

import (
	"crypto/sha1" //nolint:gosec // the key exchange is defined with SHA-1.
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
)

// dhPrimeHex is Telegram's standard 2048-bit safe prime. Clients recognise it (mtcute skips its primality checks
// only for this prime), so the server always uses it with g = 3 (p mod 3 = 2, so 3 generates the q-subgroup).
const dhPrimeHex = "c71caeb9c6b1c9048e6c522f70f13f73980d40238e3e21c14934d037563d930f48198a0aa7c14058229493d22530f4db" +
	"fa336f6e0ac925139543aed44cce7c3720fd51f69458705ac68cd4fe6b6b13abdc9746512969328454f18faf8c595f642477fe96" +
	"bb2a941d5bcd1d4ac8cc49880708fa9b378e3c4f3a9060bee67cf9a4a4a695811051907e162753b56b0f6b410dba74d8a84b2a14" +
	"b3144e0ef1284754fd17ed950d5965b4b9dd46582db1178d169c6bc465b0d6ff9ca3928fef5b9ae4e418fc15e83ebea0f87fa9ff" +
	"5eed70050ded2849f47bf959d956850ce929851f0d8115f635b105ee2e4e15d04b2454bf6f4fadf034b10403119cd8e3b92fcc5b"

// DHG is the generator sent with the standard prime.
const DHG = 3

// DefaultExponentBits is the size of the server's secret exponent a. For a safe-prime group of 2048 bits,
// NIST SP 800-56A rev. 3 (5.6.1.1.4) asks for at least 2s = 224 bits; 256 bits keeps the two modular
// exponentiations of a handshake near 0.7 ms each instead of about 5 ms for a full-size exponent.
const DefaultExponentBits = 256

var (
	dhPrime     *big.Int
	dhPrimeRaw  []byte
	dhRangeLow  *big.Int // 2^{2048-64}
	dhRangeHigh *big.Int // p - 2^{2048-64}
)

func init() {
	raw, err := hex.DecodeString(dhPrimeHex)
	if err != nil || len(raw) != 256 {
		panic("crypto: bad built-in DH prime") // a constant: cannot happen at run time
	}
	dhPrimeRaw = raw
	dhPrime = new(big.Int).SetBytes(raw)
	dhRangeLow = new(big.Int).Lsh(big.NewInt(1), 2048-64)
	dhRangeHigh = new(big.Int).Sub(dhPrime, dhRangeLow)
}

// DHPrime returns a copy of the standard prime.
func DHPrime() *big.Int { return new(big.Int).Set(dhPrime) }

// DHPrimeBytes returns the standard prime as 256 big-endian bytes (the caller must not modify them).
func DHPrimeBytes() []byte { return dhPrimeRaw }

// ErrDHRange is returned for a g_a or g_b outside 2^{2048-64} .. p - 2^{2048-64}.
var ErrDHRange = errors.New("crypto: DH value out of the allowed range")

// CheckDHValue checks 1 < x < p-1 and 2^{2048-64} <= x <= p - 2^{2048-64}, as the spec requires of g_a and g_b.
func CheckDHValue(x *big.Int) error {
	if x.Cmp(dhRangeLow) < 0 || x.Cmp(dhRangeHigh) > 0 {
		return ErrDHRange
	}
	return nil
}

// DHSecret is the server's half of one exchange.
type DHSecret struct {
	A  *big.Int // secret exponent
	GA *big.Int // g^a mod p
}

// NewDHSecret draws an exponent of bits bits (DefaultExponentBits if 0) and computes g_a, retrying until g_a is
// in range.
func NewDHSecret(rnd io.Reader, bits int) (DHSecret, error) {
	if bits <= 0 {
		bits = DefaultExponentBits
	}
	if bits > 2048 {
		bits = 2048
	}
	buf := make([]byte, (bits+7)/8)
	g := big.NewInt(DHG)
	for range 32 {
		if _, err := io.ReadFull(rnd, buf); err != nil {
			return DHSecret{}, fmt.Errorf("crypto: random: %w", err)
		}
		a := new(big.Int).SetBytes(buf)
		if a.BitLen() < 64 {
			continue
		}
		ga := new(big.Int).Exp(g, a, dhPrime)
		if CheckDHValue(ga) == nil {
			return DHSecret{A: a, GA: ga}, nil
		}
	}
	return DHSecret{}, errors.New("crypto: could not draw a DH exponent")
}

// GB returns g^a as the other side sees it (the same value as GA; named for client code).
func (s DHSecret) GB() *big.Int { return s.GA }

// SharedKey checks g_b and returns auth_key = g_b^a mod p as 256 bytes.
func (s DHSecret) SharedKey(gb []byte) ([256]byte, error) {
	var out [256]byte
	if len(gb) > 256 {
		return out, ErrDHRange
	}
	b := new(big.Int).SetBytes(gb)
	if err := CheckDHValue(b); err != nil {
		return out, err
	}
	new(big.Int).Exp(b, s.A, dhPrime).FillBytes(out[:])
	return out, nil
}

// TmpAESKey derives tmp_aes_key and tmp_aes_iv from new_nonce and server_nonce (fixed-width byte strings:
// no leading byte is ever dropped).
func TmpAESKey(newNonce [32]byte, serverNonce [16]byte) (key, iv [32]byte) {
	ns := sha1Concat(newNonce[:], serverNonce[:])
	sn := sha1Concat(serverNonce[:], newNonce[:])
	nn := sha1Concat(newNonce[:], newNonce[:])
	copy(key[0:20], ns[:])
	copy(key[20:32], sn[0:12])
	copy(iv[0:8], sn[12:20])
	copy(iv[8:28], nn[:])
	copy(iv[28:32], newNonce[0:4])
	return key, iv
}

// NewNonceHash returns new_nonce_hash{n}: the low 128 bits of SHA1(new_nonce + byte(n) + auth_key_aux_hash).
func NewNonceHash(newNonce [32]byte, n byte, auxHash uint64) [16]byte {
	var buf [32 + 1 + 8]byte
	copy(buf[:], newNonce[:])
	buf[32] = n
	binary.LittleEndian.PutUint64(buf[33:], auxHash)
	h := sha1.Sum(buf[:]) //nolint:gosec
	var out [16]byte
	copy(out[:], h[4:20])
	return out
}

// InitialSalt is substr(new_nonce, 0, 8) XOR substr(server_nonce, 0, 8).
func InitialSalt(newNonce [32]byte, serverNonce [16]byte) int64 {
	return int64(binary.LittleEndian.Uint64(newNonce[:8]) ^ binary.LittleEndian.Uint64(serverNonce[:8]))
}

// EncryptWithHash builds SHA1(answer) + answer + random padding to a multiple of 16 and encrypts it with
// AES-256-IGE (server_DH_inner_data -> encrypted_answer).
func EncryptWithHash(rnd io.Reader, key, iv [32]byte, answer []byte) ([]byte, error) {
	h := sha1.Sum(answer) //nolint:gosec
	n := 20 + len(answer)
	total := (n + 15) / 16 * 16
	out := make([]byte, total)
	copy(out, h[:])
	copy(out[20:], answer)
	if _, err := io.ReadFull(rnd, out[n:]); err != nil {
		return nil, fmt.Errorf("crypto: random: %w", err)
	}
	if err := EncryptIGE(key[:], iv[:], out); err != nil {
		return nil, err
	}
	return out, nil
}

// DecryptWithHash decrypts an IGE block of SHA1(data) + data + padding (client_DH_inner_data) and returns the
// hash and the rest; the caller checks the hash over exactly the bytes it decoded (padding is 0..15 bytes).
func DecryptWithHash(key, iv [32]byte, encrypted []byte) (hash, rest []byte, err error) {
	if len(encrypted) < 32 || len(encrypted)%16 != 0 {
		return nil, nil, ErrBlockSize
	}
	buf := make([]byte, len(encrypted))
	copy(buf, encrypted)
	if err := DecryptIGE(key[:], iv[:], buf); err != nil {
		return nil, nil, err
	}
	return buf[:20], buf[20:], nil
}

func sha1Concat(a, b []byte) [20]byte {
	h := sha1.New() //nolint:gosec
	h.Write(a)
	h.Write(b)
	var out [20]byte
	h.Sum(out[:0])
	return out
}
