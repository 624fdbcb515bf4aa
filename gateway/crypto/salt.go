package crypto

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"time"
)

// Salts derives server salts without storing or replicating them: the salt of auth key K in time window i is
// the first 8 bytes of HMAC-SHA256(cluster secret, K || i). Every node that knows the secret computes the same
// current and future salts.
type Salts struct {
	secret []byte
	window time.Duration
	grace  time.Duration
}

// FutureSalt is one salt with its validity, as future_salt carries it.
type FutureSalt struct {
	ValidSince int32
	ValidUntil int32
	Salt       int64
}

// NewSalts returns a salt deriver. window is the lifetime of one salt (default 30 min); grace is how long the
// previous window's salt stays accepted after it ends (default 5 min, bounded by window).
func NewSalts(secret []byte, window, grace time.Duration) (*Salts, error) {
	if len(secret) < 16 {
		return nil, errors.New("crypto: salt secret must have at least 16 bytes")
	}
	if window <= 0 {
		window = 30 * time.Minute
	}
	if grace <= 0 {
		grace = 5 * time.Minute
	}
	grace = min(grace, window)
	return &Salts{secret: append([]byte(nil), secret...), window: window, grace: grace}, nil
}

func (s *Salts) index(now time.Time) int64 { return now.Unix() / int64(s.window/time.Second) }

// At returns the salt of window idx for an auth key.
func (s *Salts) At(authKeyID, idx int64) int64 {
	m := hmac.New(sha256.New, s.secret)
	var buf [16]byte
	binary.LittleEndian.PutUint64(buf[0:], uint64(authKeyID))
	binary.LittleEndian.PutUint64(buf[8:], uint64(idx))
	m.Write(buf[:])
	var sum [32]byte
	return int64(binary.LittleEndian.Uint64(m.Sum(sum[:0])))
}

// Current returns the salt a client should use now.
func (s *Salts) Current(authKeyID int64, now time.Time) int64 {
	return s.At(authKeyID, s.index(now))
}

// Valid reports whether salt is acceptable now: the current window's, the next one's (a client that switched a
// little early by its own clock), or the previous one's during the grace period.
func (s *Salts) Valid(authKeyID, salt int64, now time.Time) bool {
	i := s.index(now)
	if salt == s.At(authKeyID, i) || salt == s.At(authKeyID, i+1) {
		return true
	}
	start := time.Unix(i*int64(s.window/time.Second), 0)
	return now.Sub(start) < s.grace && salt == s.At(authKeyID, i-1)
}

// Future returns n salts starting with the current one (n is clamped to 1..64, as the spec caps it).
func (s *Salts) Future(authKeyID int64, now time.Time, n int) []FutureSalt {
	n = max(1, min(n, 64))
	w := int64(s.window / time.Second)
	i := s.index(now)
	out := make([]FutureSalt, 0, n)
	for k := range int64(n) {
		since := (i + k) * w
		out = append(out, FutureSalt{
			ValidSince: int32(since),
			ValidUntil: int32(since + w + int64(s.grace/time.Second)),
			Salt:       s.At(authKeyID, i+k),
		})
	}
	return out
}
