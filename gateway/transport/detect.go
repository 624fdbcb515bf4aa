package transport

import (
	"fmt"
	"io"
)

// Config is what a codec needs from its server.
type Config struct {
	// MaxFrame limits a frame's payload; 0 means DefaultMaxFrame.
	MaxFrame int
	// Rand supplies padding bytes for the padded transport; nil sends no padding.
	Rand io.Reader
	// AllowHTTP lets the detector report a WebSocket upgrade ("GET ").
	AllowHTTP bool
	// OnlyObfuscated accepts nothing but an obfuscated2 init, as inside a WebSocket: web clients always
	// obfuscate there.
	OnlyObfuscated bool
}

// Detected is the outcome of detection.
type Detected struct {
	// Codec decodes the rest of the stream; nil when HTTP is set.
	Codec Codec
	// HTTP reports a request starting with "GET ", to be handled as a WebSocket upgrade.
	HTTP bool
	// Replay holds bytes the detector consumed that belong to what follows: they must be fed to Codec (or
	// the HTTP reader) before the rest of the input. It aliases the detector's buffer.
	Replay []byte
}

// Detector recognises the transport from a connection's first bytes (at most 64). It consumes exactly the
// bytes it needs, so the caller feeds the remainder of the same input to the detected codec. Its zero value
// is ready; drop it once detection is done.
type Detector struct {
	buf [ObfuscatedInitLen]byte
	n   uint8
}

// Prefixes of other protocols that clients are forbidden to start an obfuscated2 init with, and that we
// therefore reject at once rather than waiting for 64 bytes.
var rejected = [][4]byte{
	{'P', 'O', 'S', 'T'}, {'H', 'E', 'A', 'D'}, {'O', 'P', 'T', 'I'},
	{0x16, 0x03, 0x01, 0x02}, // TLS ClientHello
}

// Feed consumes bytes from p. It returns a non-nil result once the transport is known, with n the number of
// bytes of p consumed; before that, it has consumed all of p. An error means the stream is not MTProto.
func (d *Detector) Feed(p []byte, cfg Config) (res *Detected, n int, err error) {
	for {
		need := d.need()
		if int(d.n) < need {
			c := copy(d.buf[d.n:need], p[n:])
			d.n += uint8(c)
			n += c
			if int(d.n) < need {
				return nil, n, nil
			}
		}
		res, err := d.decide(cfg)
		if err != nil || res != nil {
			return res, n, err
		}
	}
}

// need is how many bytes the next decision needs.
func (d *Detector) need() int {
	switch {
	case d.n < 1:
		return 1
	case d.n < 4:
		return 4
	case d.n < 8:
		return 8
	default:
		return ObfuscatedInitLen
	}
}

// decide looks at the d.n bytes collected; nil, nil means "need more".
func (d *Detector) decide(cfg Config) (*Detected, error) {
	b := d.buf[:d.n]
	if cfg.OnlyObfuscated && len(b) < ObfuscatedInitLen {
		// Whatever plain transport these bytes announce is refused, at once.
		cfg.AllowHTTP = false
		if res, err := d.decideLen(b, cfg); err != nil || res != nil {
			return nil, fmt.Errorf("detect: %w: plain transport where only obfuscated2 is allowed", ErrUnknown)
		}
		return nil, nil
	}
	return d.decideLen(b, cfg)
}

func (d *Detector) decideLen(b []byte, cfg Config) (*Detected, error) {
	switch len(b) {
	case 1:
		if b[0] == 0xef {
			return &Detected{Codec: NewAbridged(cfg.MaxFrame)}, nil
		}
		return nil, nil
	case 4:
		tag := [4]byte(b)
		switch tag {
		case TagIntermediate:
			return &Detected{Codec: NewIntermediate(cfg.MaxFrame)}, nil
		case TagPadded:
			return &Detected{Codec: NewPadded(cfg.MaxFrame, cfg.Rand)}, nil
		case [4]byte{'G', 'E', 'T', ' '}:
			if cfg.AllowHTTP {
				return &Detected{HTTP: true, Replay: b}, nil
			}
		}
		for _, r := range rejected {
			if tag == r {
				return nil, fmt.Errorf("detect: %w: starts with %q", ErrUnknown, b)
			}
		}
		if tag == [4]byte{'G', 'E', 'T', ' '} {
			return nil, fmt.Errorf("detect: %w: HTTP not allowed here", ErrUnknown)
		}
		return nil, nil
	case 8:
		// The obfuscated2 init may not have zero bytes 4-7; the full transport's first seqno is zero.
		if b[4]|b[5]|b[6]|b[7] == 0 {
			return &Detected{Codec: NewFull(cfg.MaxFrame), Replay: b}, nil
		}
		return nil, nil
	default:
		o, err := AcceptObfuscated(b, cfg.MaxFrame, cfg.Rand)
		if err != nil {
			return nil, fmt.Errorf("detect: %w", err)
		}
		return &Detected{Codec: o}, nil
	}
}
