package testclient

import (
	"bytes"
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"math/big"
	"math/bits"

	"github.com/raftgram/raftgram/gateway/crypto"
	"github.com/raftgram/raftgram/tl"
	"github.com/raftgram/raftgram/tl/mt"
)

// RoundTrip sends one unencrypted request body and returns the unencrypted answer body.
type RoundTrip func(ctx context.Context, body []byte) ([]byte, error)

// KeyOptions tune CreateKey.
type KeyOptions struct {
	DC        int32
	ExpiresIn int32 // > 0 asks for a temporary key (p_q_inner_data_temp_dc)
	Legacy    bool  // send plain p_q_inner_data with the pre-RSA_PAD encryption (old clients)
	Rand      io.Reader
}

// KeyResult is what a finished exchange gives the client.
type KeyResult struct {
	Key        crypto.AuthKey
	Salt       int64
	ServerTime int32
}

var reg = tl.NewRegistry(mt.New)

func call(ctx context.Context, rt RoundTrip, req tl.Object) (tl.Object, error) {
	b, err := tl.Marshal(req)
	if err != nil {
		return nil, err
	}
	ans, err := rt(ctx, b)
	if err != nil {
		return nil, err
	}
	return tl.DecodeObject(ans, reg)
}

// CreateKey runs the client side of the exchange against pub.
func CreateKey(ctx context.Context, rt RoundTrip, pub *rsa.PublicKey, o KeyOptions) (KeyResult, error) {
	rnd := o.Rand
	var nonce tl.Int128
	if _, err := io.ReadFull(rnd, nonce[:]); err != nil {
		return KeyResult{}, err
	}
	obj, err := call(ctx, rt, &mt.ReqPqMultiRequest{Nonce: nonce})
	if err != nil {
		return KeyResult{}, fmt.Errorf("req_pq_multi: %w", err)
	}
	res, ok := obj.(*mt.ResPQ)
	if !ok || res.Nonce != nonce {
		return KeyResult{}, fmt.Errorf("unexpected answer to req_pq_multi: %v", obj)
	}
	fp := crypto.Fingerprint(pub)
	found := false
	for _, f := range res.ServerPublicKeyFingerprints {
		found = found || f == fp
	}
	if !found {
		return KeyResult{}, errors.New("server does not offer our key")
	}
	pq := new(big.Int).SetBytes(res.Pq).Uint64()
	p, q := factor(pq)
	var newNonce tl.Int256
	if _, err := io.ReadFull(rnd, newNonce[:]); err != nil {
		return KeyResult{}, err
	}
	pb, qb := new(big.Int).SetUint64(p).Bytes(), new(big.Int).SetUint64(q).Bytes()
	var inner tl.Object
	switch {
	case o.Legacy:
		inner = &mt.PQInnerData{Pq: res.Pq, P: pb, Q: qb, Nonce: nonce, ServerNonce: res.ServerNonce, NewNonce: newNonce}
	case o.ExpiresIn > 0:
		inner = &mt.PQInnerDataTempDC{Pq: res.Pq, P: pb, Q: qb, Nonce: nonce, ServerNonce: res.ServerNonce,
			NewNonce: newNonce, DC: o.DC, ExpiresIn: o.ExpiresIn}
	default:
		inner = &mt.PQInnerDataDC{Pq: res.Pq, P: pb, Q: qb, Nonce: nonce, ServerNonce: res.ServerNonce,
			NewNonce: newNonce, DC: o.DC}
	}
	data, err := tl.Marshal(inner)
	if err != nil {
		return KeyResult{}, err
	}
	var enc []byte
	if o.Legacy {
		enc, err = crypto.EncryptRSALegacy(rnd, pub, data)
	} else {
		enc, err = crypto.EncryptRSAPad(rnd, pub, data)
	}
	if err != nil {
		return KeyResult{}, err
	}
	obj, err = call(ctx, rt, &mt.ReqDHParamsRequest{Nonce: nonce, ServerNonce: res.ServerNonce, P: pb, Q: qb,
		PublicKeyFingerprint: fp, EncryptedData: enc})
	if err != nil {
		return KeyResult{}, fmt.Errorf("req_DH_params: %w", err)
	}
	ok2, isOK := obj.(*mt.ServerDHParamsOk)
	if !isOK || ok2.Nonce != nonce || ok2.ServerNonce != res.ServerNonce {
		return KeyResult{}, fmt.Errorf("unexpected answer to req_DH_params: %v", obj)
	}
	tkey, tiv := crypto.TmpAESKey(newNonce, res.ServerNonce)
	hash, rest, err := crypto.DecryptWithHash(tkey, tiv, ok2.EncryptedAnswer)
	if err != nil {
		return KeyResult{}, err
	}
	d := tl.NewDecoder(rest, reg)
	sdh, isInner := d.Object().(*mt.ServerDHInnerData)
	if d.Err() != nil || !isInner || !crypto.CheckSHA1Prefix(hash, rest[:d.Pos()]) {
		return KeyResult{}, errors.New("bad server_DH_inner_data")
	}
	// The standard prime is trusted by value instead of being re-checked (gotd re-checks it: slow).
	if !bytes.Equal(sdh.DhPrime, crypto.DHPrimeBytes()) || sdh.G != crypto.DHG {
		return KeyResult{}, errors.New("server uses an unknown DH group")
	}
	ga := new(big.Int).SetBytes(sdh.GA)
	if err := crypto.CheckDHValue(ga); err != nil {
		return KeyResult{}, err
	}
	var retryID int64
	for attempt := 0; attempt < 4; attempt++ {
		b, err := crypto.NewDHSecret(rnd, 256)
		if err != nil {
			return KeyResult{}, err
		}
		keyValue, err := b.SharedKey(sdh.GA)
		if err != nil {
			return KeyResult{}, err
		}
		ak := crypto.NewAuthKey(keyValue)
		cdh, err := tl.Marshal(&mt.ClientDHInnerData{Nonce: nonce, ServerNonce: res.ServerNonce, RetryID: retryID, GB: b.GB().Bytes()})
		if err != nil {
			return KeyResult{}, err
		}
		encCDH, err := crypto.EncryptWithHash(rnd, tkey, tiv, cdh)
		if err != nil {
			return KeyResult{}, err
		}
		obj, err = call(ctx, rt, &mt.SetClientDHParamsRequest{Nonce: nonce, ServerNonce: res.ServerNonce, EncryptedData: encCDH})
		if err != nil {
			return KeyResult{}, fmt.Errorf("set_client_DH_params: %w", err)
		}
		switch v := obj.(type) {
		case *mt.DhGenOk:
			if v.NewNonceHash1 != crypto.NewNonceHash(newNonce, 1, ak.AuxHash) {
				return KeyResult{}, errors.New("bad new_nonce_hash1")
			}
			return KeyResult{Key: ak, Salt: crypto.InitialSalt(newNonce, res.ServerNonce), ServerTime: sdh.ServerTime}, nil
		case *mt.DhGenRetry:
			if v.NewNonceHash2 != crypto.NewNonceHash(newNonce, 2, ak.AuxHash) {
				return KeyResult{}, errors.New("bad new_nonce_hash2")
			}
			retryID = int64(ak.AuxHash)
		case *mt.DhGenFail:
			return KeyResult{}, errors.New("dh_gen_fail")
		default:
			return KeyResult{}, fmt.Errorf("unexpected answer to set_client_DH_params: %v", obj)
		}
	}
	return KeyResult{}, errors.New("too many dh_gen_retry")
}

// factor splits a product of two primes with Pollard's rho on 64-bit arithmetic.
func factor(n uint64) (uint64, uint64) {
	if n%2 == 0 {
		return 2, n / 2
	}
	mulmod := func(a, b uint64) uint64 {
		hi, lo := bits.Mul64(a, b)
		return bits.Rem64(hi, lo, n)
	}
	gcd := func(a, b uint64) uint64 {
		for b != 0 {
			a, b = b, a%b
		}
		return a
	}
	for c := uint64(1); c < 1000; c++ {
		f := func(v uint64) uint64 { return (mulmod(v, v) + c) % n }
		x, y, d := uint64(2), uint64(2), uint64(1)
		for d == 1 {
			x = f(x)
			y = f(f(y))
			diff := x - y
			if x < y {
				diff = y - x
			}
			d = gcd(diff, n)
		}
		if d != n {
			p, q := d, n/d
			if p > q {
				p, q = q, p
			}
			return p, q
		}
	}
	return 1, n
}
