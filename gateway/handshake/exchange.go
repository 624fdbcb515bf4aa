package handshake

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"time"

	"github.com/raftgram/raftgram/gateway/crypto"
	"github.com/raftgram/raftgram/tl"
	"github.com/raftgram/raftgram/tl/mt"
)

// Options configure a Server.
type Options struct {
	Key          *crypto.ServerKey // required
	Store        AuthKeyStore      // required
	Rand         io.Reader         // default crypto/rand.Reader
	Now          func() time.Time  // default time.Now
	ExponentBits int               // size of the secret DH exponent; default crypto.DefaultExponentBits
	MaxTempTTL   time.Duration     // cap on expires_in of temporary keys; default 7 days
	MaxRetries   int               // dh_gen_retry answers per exchange; default 3
	MaxExchanges int               // exchanges started per connection; default 4
	PQPrimeBits  int               // size of p and q in resPQ's pq (the client's proof of work); default 31
	Log          *slog.Logger      // default discards
	OnKey        func(k AuthKey)   // optional: called after a key is stored
}

func (o *Options) setDefaults() {
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxTempTTL <= 0 {
		o.MaxTempTTL = 7 * 24 * time.Hour
	}
	if o.MaxRetries <= 0 {
		o.MaxRetries = 3
	}
	if o.MaxExchanges <= 0 {
		o.MaxExchanges = 4
	}
	if o.PQPrimeBits < 16 || o.PQPrimeBits > 31 {
		o.PQPrimeBits = 31
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}

// Server holds what all exchanges share. It is safe for concurrent use.
type Server struct {
	opts Options
	reg  *tl.Registry
}

// NewServer checks the options and returns a Server.
func NewServer(opts Options) (*Server, error) {
	if opts.Key == nil || opts.Store == nil {
		return nil, errors.New("handshake: Options.Key and Options.Store are required")
	}
	opts.setDefaults()
	return &Server{opts: opts, reg: tl.NewRegistry(mt.New)}, nil
}

// Fingerprint returns the fingerprint the server advertises in resPQ.
func (s *Server) Fingerprint() int64 { return s.opts.Key.Fingerprint }

type state uint8

const (
	stateIdle  state = iota // waiting for req_pq(_multi)
	stateResPQ              // resPQ sent, waiting for req_DH_params
	stateDH                 // server_DH_params_ok sent, waiting for set_client_DH_params
)

// Exchange is one connection's exchange state. It is not safe for concurrent use: callers serialise the
// frames of a connection.
type Exchange struct {
	s           *Server
	st          state
	exchanges   int
	retries     int
	nonce       tl.Int128
	serverNonce tl.Int128
	newNonce    tl.Int256
	p, q        uint64
	dc          int32
	temp        bool
	expiresIn   int32
	secret      crypto.DHSecret
	lastAux     uint64 // aux hash of the key from the previous attempt (retry_id)
}

// NewExchange returns the state for a new connection.
func (s *Server) NewExchange() *Exchange { return &Exchange{s: s} }

// Errors that end an exchange; the connection should be closed.
var (
	ErrUnexpected   = errors.New("handshake: unexpected message for the exchange state")
	ErrNonce        = errors.New("handshake: nonce or server_nonce mismatch")
	ErrTooMany      = errors.New("handshake: too many exchanges or retries on one connection")
	ErrFingerprint  = errors.New("handshake: unknown public key fingerprint")
	ErrPQ           = errors.New("handshake: p/q do not match")
	ErrInnerData    = errors.New("handshake: bad inner data")
	ErrClientDHHash = errors.New("handshake: client_DH_inner_data hash mismatch")
)

// Result is reported when the exchange created a key.
type Result struct {
	Key  AuthKey
	Salt int64 // the initial server salt the client will use (new_nonce ^ server_nonce)
}

// Handle processes one unencrypted message body and returns the answer to send (nil for none) and, when a key
// was created, the Result. A non-nil error means the exchange failed and the connection should be closed.
func (x *Exchange) Handle(ctx context.Context, body []byte) (tl.Object, *Result, error) {
	d := tl.NewDecoder(body, x.s.reg)
	obj := d.Object()
	if err := d.End(); err != nil {
		return nil, nil, fmt.Errorf("handshake: decode: %w", err)
	}
	switch req := obj.(type) {
	case *mt.ReqPqMultiRequest:
		a, err := x.reqPQ(req.Nonce)
		return a, nil, err
	case *mt.ReqPqRequest:
		a, err := x.reqPQ(req.Nonce)
		return a, nil, err
	case *mt.ReqDHParamsRequest:
		a, err := x.reqDHParams(req)
		if err != nil {
			x.reset()
		}
		return a, nil, err
	case *mt.SetClientDHParamsRequest:
		a, res, err := x.setClientDHParams(ctx, req)
		if err != nil {
			x.reset()
		}
		return a, res, err
	default:
		return nil, nil, fmt.Errorf("%w: %s", ErrUnexpected, tl.Name(obj))
	}
}

func (x *Exchange) reset() {
	*x = Exchange{s: x.s, exchanges: x.exchanges}
}

func (x *Exchange) reqPQ(nonce tl.Int128) (tl.Object, error) {
	if x.exchanges >= x.s.opts.MaxExchanges {
		return nil, ErrTooMany
	}
	x.reset()
	x.exchanges++
	x.nonce = nonce
	if err := x.randomServerNonce(); err != nil {
		return nil, err
	}
	p, q, err := randomPQ(x.s.opts.Rand, x.s.opts.PQPrimeBits)
	if err != nil {
		return nil, err
	}
	x.p, x.q = p, q
	x.st = stateResPQ
	return &mt.ResPQ{
		Nonce:                       x.nonce,
		ServerNonce:                 x.serverNonce,
		Pq:                          new(big.Int).SetUint64(p * q).Bytes(),
		ServerPublicKeyFingerprints: []int64{x.s.opts.Key.Fingerprint},
	}, nil
}

// randomServerNonce draws a server_nonce that does not start with 0x00: clients that hash big integers without
// their leading zero bytes (gotd v0.93) would otherwise derive a different temporary AES key.
func (x *Exchange) randomServerNonce() error {
	for {
		if _, err := io.ReadFull(x.s.opts.Rand, x.serverNonce[:]); err != nil {
			return fmt.Errorf("handshake: random: %w", err)
		}
		if x.serverNonce[0] != 0 {
			return nil
		}
	}
}

func (x *Exchange) checkNonces(nonce, serverNonce tl.Int128) error {
	if nonce != x.nonce || serverNonce != x.serverNonce {
		return ErrNonce
	}
	return nil
}

func (x *Exchange) reqDHParams(req *mt.ReqDHParamsRequest) (tl.Object, error) {
	if x.st != stateResPQ {
		return nil, ErrUnexpected
	}
	if err := x.checkNonces(req.Nonce, req.ServerNonce); err != nil {
		return nil, err
	}
	if req.PublicKeyFingerprint != x.s.opts.Key.Fingerprint {
		return nil, ErrFingerprint
	}
	if !equalUint(req.P, x.p) || !equalUint(req.Q, x.q) {
		return nil, ErrPQ
	}
	inner, err := x.decryptInner(req.EncryptedData)
	if err != nil {
		return nil, err
	}
	if err := x.acceptInner(inner); err != nil {
		return nil, err
	}
	secret, err := crypto.NewDHSecret(x.s.opts.Rand, x.s.opts.ExponentBits)
	if err != nil {
		return nil, err
	}
	x.secret = secret
	answer, err := tl.Marshal(&mt.ServerDHInnerData{
		Nonce:       x.nonce,
		ServerNonce: x.serverNonce,
		G:           crypto.DHG,
		DhPrime:     crypto.DHPrimeBytes(),
		GA:          secret.GA.Bytes(),
		ServerTime:  int32(x.s.opts.Now().Unix()),
	})
	if err != nil {
		return nil, fmt.Errorf("handshake: encode server_DH_inner_data: %w", err)
	}
	key, iv := crypto.TmpAESKey(x.newNonce, x.serverNonce)
	enc, err := crypto.EncryptWithHash(x.s.opts.Rand, key, iv, answer)
	if err != nil {
		return nil, err
	}
	x.st = stateDH
	return &mt.ServerDHParamsOk{Nonce: x.nonce, ServerNonce: x.serverNonce, EncryptedAnswer: enc}, nil
}

// decryptInner tries RSA_PAD first (every current client) and falls back to the legacy SHA1-prefixed block.
func (x *Exchange) decryptInner(enc []byte) (tl.Object, error) {
	key := x.s.opts.Key
	if len(enc) == 256 {
		data, err := key.DecryptRSAPad(x.s.opts.Rand, enc)
		if err == nil {
			d := tl.NewDecoder(data, x.s.reg)
			obj := d.Object()
			if d.Err() == nil {
				return obj, nil
			}
		}
	}
	hash, rest, err := key.DecryptRSALegacy(x.s.opts.Rand, enc)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInnerData, err)
	}
	d := tl.NewDecoder(rest, x.s.reg)
	obj := d.Object()
	if d.Err() != nil || !crypto.CheckSHA1Prefix(hash, rest[:d.Pos()]) {
		return nil, ErrInnerData
	}
	return obj, nil
}

func (x *Exchange) acceptInner(obj tl.Object) error {
	var pq, p, q []byte
	var nonce, serverNonce tl.Int128
	switch v := obj.(type) {
	case *mt.PQInnerData:
		pq, p, q, nonce, serverNonce, x.newNonce = v.Pq, v.P, v.Q, v.Nonce, v.ServerNonce, v.NewNonce
	case *mt.PQInnerDataDC:
		pq, p, q, nonce, serverNonce, x.newNonce = v.Pq, v.P, v.Q, v.Nonce, v.ServerNonce, v.NewNonce
		x.dc = v.DC
	case *mt.PQInnerDataTemp:
		pq, p, q, nonce, serverNonce, x.newNonce = v.Pq, v.P, v.Q, v.Nonce, v.ServerNonce, v.NewNonce
		x.temp, x.expiresIn = true, v.ExpiresIn
	case *mt.PQInnerDataTempDC:
		pq, p, q, nonce, serverNonce, x.newNonce = v.Pq, v.P, v.Q, v.Nonce, v.ServerNonce, v.NewNonce
		x.dc, x.temp, x.expiresIn = v.DC, true, v.ExpiresIn
	default:
		return fmt.Errorf("%w: %s", ErrInnerData, tl.Name(obj))
	}
	if err := x.checkNonces(nonce, serverNonce); err != nil {
		return err
	}
	if !equalUint(pq, x.p*x.q) || !equalUint(p, x.p) || !equalUint(q, x.q) {
		return ErrPQ
	}
	if x.temp && x.expiresIn <= 0 {
		return fmt.Errorf("%w: expires_in %d", ErrInnerData, x.expiresIn)
	}
	return nil
}

func (x *Exchange) setClientDHParams(ctx context.Context, req *mt.SetClientDHParamsRequest) (tl.Object, *Result, error) {
	if x.st != stateDH {
		return nil, nil, ErrUnexpected
	}
	if err := x.checkNonces(req.Nonce, req.ServerNonce); err != nil {
		return nil, nil, err
	}
	tkey, tiv := crypto.TmpAESKey(x.newNonce, x.serverNonce)
	hash, rest, err := crypto.DecryptWithHash(tkey, tiv, req.EncryptedData)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrInnerData, err)
	}
	d := tl.NewDecoder(rest, x.s.reg)
	obj := d.Object()
	if d.Err() != nil || len(rest)-d.Pos() > 15 || !crypto.CheckSHA1Prefix(hash, rest[:d.Pos()]) {
		return nil, nil, ErrClientDHHash
	}
	inner, ok := obj.(*mt.ClientDHInnerData)
	if !ok {
		return nil, nil, fmt.Errorf("%w: %s", ErrInnerData, tl.Name(obj))
	}
	if err := x.checkNonces(inner.Nonce, inner.ServerNonce); err != nil {
		return nil, nil, err
	}
	if uint64(inner.RetryID) != x.lastAux {
		return nil, nil, fmt.Errorf("%w: retry_id", ErrInnerData)
	}
	value, err := x.secret.SharedKey(inner.GB)
	if err != nil {
		return nil, nil, err
	}
	ak := crypto.NewAuthKey(value)
	now := x.s.opts.Now()
	key := AuthKey{ID: ak.ID, Key: value, Temp: x.temp, CreatedAt: now, DC: x.dc}
	if x.temp {
		ttl := min(time.Duration(x.expiresIn)*time.Second, x.s.opts.MaxTempTTL)
		key.ExpiresAt = now.Add(ttl)
	}
	err = x.s.opts.Store.Put(ctx, key)
	switch {
	case errors.Is(err, ErrKeyExists):
		if x.retries >= x.s.opts.MaxRetries {
			return nil, nil, ErrTooMany
		}
		x.retries++
		x.lastAux = ak.AuxHash
		return &mt.DhGenRetry{Nonce: x.nonce, ServerNonce: x.serverNonce,
			NewNonceHash2: crypto.NewNonceHash(x.newNonce, 2, ak.AuxHash)}, nil, nil
	case err != nil:
		x.s.opts.Log.Warn("auth key store put failed", "err", err)
		ans := &mt.DhGenFail{Nonce: x.nonce, ServerNonce: x.serverNonce,
			NewNonceHash3: crypto.NewNonceHash(x.newNonce, 3, ak.AuxHash)}
		x.reset()
		return ans, nil, nil
	}
	res := &Result{Key: key, Salt: crypto.InitialSalt(x.newNonce, x.serverNonce)}
	ans := &mt.DhGenOk{Nonce: x.nonce, ServerNonce: x.serverNonce,
		NewNonceHash1: crypto.NewNonceHash(x.newNonce, 1, ak.AuxHash)}
	if x.s.opts.OnKey != nil {
		x.s.opts.OnKey(key)
	}
	x.reset()
	return ans, res, nil
}

// equalUint compares a minimal-length (or zero-padded) big-endian byte string with v.
func equalUint(s []byte, v uint64) bool {
	b := bytes.TrimLeft(s, "\x00")
	if len(b) > 8 {
		return false
	}
	var u uint64
	for i := 0; i < len(b); i++ {
		u = u<<8 | uint64(b[i])
	}
	return u == v
}

// randomPQ returns two distinct random primes p < q in [2^(bits-1), 2^bits); with the default 31 bits
// pq < 2^62, as Telegram's are.
func randomPQ(rnd io.Reader, bits int) (p, q uint64, err error) {
	var buf [4]byte
	next := func() (uint64, error) {
		for {
			if _, err := io.ReadFull(rnd, buf[:]); err != nil {
				return 0, fmt.Errorf("handshake: random: %w", err)
			}
			v := uint64(buf[0])<<24 | uint64(buf[1])<<16 | uint64(buf[2])<<8 | uint64(buf[3])
			v = (v & (1<<(bits-1) - 1)) | 1<<(bits-1) | 1
			if new(big.Int).SetUint64(v).ProbablyPrime(0) {
				return v, nil
			}
		}
	}
	for p == q {
		if p, err = next(); err != nil {
			return 0, 0, err
		}
		if q, err = next(); err != nil {
			return 0, 0, err
		}
	}
	if p > q {
		p, q = q, p
	}
	return p, q, nil
}
