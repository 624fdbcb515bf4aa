package crypto

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"math/big"
	mrand "math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/gotd/td/bin"
	gcrypto "github.com/gotd/td/crypto"
)

// detRand is a deterministic byte source for reproducible tests.
type detRand struct{ r *mrand.ChaCha8 }

func newDetRand(seed byte) *detRand {
	var s [32]byte
	s[0] = seed
	return &detRand{r: mrand.NewChaCha8(s)}
}

func (d *detRand) Read(p []byte) (int, error) { return d.r.Read(p) }

func randomAuthKey(t testing.TB, seed byte) AuthKey {
	t.Helper()
	var v [256]byte
	_, _ = newDetRand(seed).Read(v[:])
	return NewAuthKey(v)
}

func gotdKey(k AuthKey) gcrypto.AuthKey {
	var gk gcrypto.Key
	copy(gk[:], k.Value[:])
	return gk.WithID()
}

func TestAuthKeyIDMatchesGotd(t *testing.T) {
	for seed := range byte(8) {
		k := randomAuthKey(t, seed)
		gk := gotdKey(k)
		if gk.IntID() != k.ID {
			t.Fatalf("id %x, gotd %x", k.ID, gk.IntID())
		}
		aux := gk.Value.AuxHash()
		if binary.LittleEndian.Uint64(aux[:]) != k.AuxHash {
			t.Fatalf("aux hash differs")
		}
		if AuthKeyID(k.Value[:]) != k.ID {
			t.Fatal("AuthKeyID differs from NewAuthKey")
		}
	}
}

func TestIGERoundTrip(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	iv := bytes.Repeat([]byte{9}, 32)
	for _, n := range []int{16, 32, 160, 4096} {
		src := make([]byte, n)
		_, _ = newDetRand(byte(n)).Read(src)
		buf := append([]byte(nil), src...)
		if err := EncryptIGE(key, iv, buf); err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(buf, src) {
			t.Fatal("encryption did nothing")
		}
		if err := DecryptIGE(key, iv, buf); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf, src) {
			t.Fatalf("round trip failed for %d bytes", n)
		}
	}
	if err := EncryptIGE(key, iv, make([]byte, 15)); !errors.Is(err, ErrBlockSize) {
		t.Fatalf("want ErrBlockSize, got %v", err)
	}
	if _, err := NewIGE(key[:16], iv); err == nil {
		t.Fatal("short key accepted")
	}
}

// TestMessageInteropWithGotd encrypts with gotd's client cipher and decrypts with ours, and the reverse, which
// checks the KDF, msg_key, IGE and the envelope layout against an independent implementation.
func TestMessageInteropWithGotd(t *testing.T) {
	k := randomAuthKey(t, 1)
	gk := gotdKey(k)
	client := gcrypto.NewClientCipher(newDetRand(2))
	for _, size := range []int{0, 4, 100, 1024, 70000} {
		body := make([]byte, size)
		_, _ = newDetRand(byte(size)).Read(body)
		in := gcrypto.EncryptedMessageData{
			Salt: 11, SessionID: 22, MessageID: 33 << 2, SeqNo: 5,
			MessageDataLen: int32(size), MessageDataWithPadding: body,
		}
		var b bin.Buffer
		if err := client.Encrypt(gk, in, &b); err != nil {
			t.Fatal(err)
		}
		m, token, err := DecryptMessage(&k, ClientToServer, b.Buf)
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		if m.Salt != 11 || m.SessionID != 22 || m.MsgID != 33<<2 || m.SeqNo != 5 || !bytes.Equal(m.Body, body) {
			t.Fatalf("size %d: fields differ: %+v", size, m)
		}
		if token&0x80000000 == 0 {
			t.Fatal("quick ack token without high bit")
		}

		out, err := EncryptMessage(nil, &k, ServerToClient, Message{Salt: 1, SessionID: 2, MsgID: 3<<2 | 1, SeqNo: 1, Body: body}, newDetRand(3))
		if err != nil {
			t.Fatal(err)
		}
		got, err := client.DecryptFromBuffer(gk, &bin.Buffer{Buf: out})
		if err != nil {
			t.Fatalf("gotd cannot decrypt our message of %d bytes: %v", size, err)
		}
		if got.MessageID != 3<<2|1 || !bytes.Equal(got.Data(), body) {
			t.Fatalf("gotd read back other data")
		}
	}
}

func TestDecryptMessageRejects(t *testing.T) {
	k := randomAuthKey(t, 4)
	other := randomAuthKey(t, 5)
	good, err := EncryptMessage(nil, &k, ClientToServer, Message{MsgID: 4, Body: make([]byte, 40)}, newDetRand(6))
	if err != nil {
		t.Fatal(err)
	}
	clone := func() []byte { return append([]byte(nil), good...) }

	flipped := clone()
	flipped[len(flipped)-1] ^= 1
	if _, _, err := DecryptMessage(&k, ClientToServer, flipped); !errors.Is(err, ErrMsgKey) {
		t.Fatalf("flipped ciphertext: %v", err)
	}
	badKey := clone()
	badKey[10] ^= 1
	if _, _, err := DecryptMessage(&k, ClientToServer, badKey); !errors.Is(err, ErrMsgKey) {
		t.Fatalf("flipped msg_key: %v", err)
	}
	if _, _, err := DecryptMessage(&other, ClientToServer, clone()); !errors.Is(err, ErrKeyID) {
		t.Fatalf("other key: %v", err)
	}
	if _, _, err := DecryptMessage(&k, ServerToClient, clone()); !errors.Is(err, ErrMsgKey) {
		t.Fatalf("wrong direction: %v", err)
	}
	for _, n := range []int{0, 7, 24, 40, len(good) - 1} {
		if _, _, err := DecryptMessage(&k, ClientToServer, clone()[:n]); !errors.Is(err, ErrShortMessage) {
			t.Fatalf("truncated to %d: %v", n, err)
		}
	}
	// A correctly keyed message whose inner length lies: built by hand with a valid msg_key.
	plain := make([]byte, InnerHeader+16+12+4)
	binary.LittleEndian.PutUint32(plain[28:], 1000)
	frame := sealRaw(&k, ClientToServer, plain)
	if _, _, err := DecryptMessage(&k, ClientToServer, frame); !errors.Is(err, ErrInnerLength) {
		t.Fatalf("lying length: %v", err)
	}
	binary.LittleEndian.PutUint32(plain[28:], 17) // not a multiple of 4
	if _, _, err := DecryptMessage(&k, ClientToServer, sealRaw(&k, ClientToServer, plain)); !errors.Is(err, ErrInnerLength) {
		t.Fatalf("unaligned length: %v", err)
	}
	binary.LittleEndian.PutUint32(plain[28:], 16+4+12) // padding 0 < 12
	if _, _, err := DecryptMessage(&k, ClientToServer, sealRaw(&k, ClientToServer, plain)); !errors.Is(err, ErrInnerLength) {
		t.Fatalf("short padding: %v", err)
	}
}

// sealRaw encrypts an arbitrary plaintext (a multiple of 16 bytes) with a correct msg_key.
func sealRaw(k *AuthKey, side Side, plain []byte) []byte {
	data := append([]byte(nil), plain...)
	large := MsgKeyLarge(k, side, data)
	out := make([]byte, 8, 24+len(data))
	binary.LittleEndian.PutUint64(out, uint64(k.ID))
	out = append(out, large[8:24]...)
	key, iv := MessageAESKeys(k, side, large[8:24])
	_ = EncryptIGE(key[:], iv[:], data)
	return append(out, data...)
}

func TestPaddingBounds(t *testing.T) {
	r := newDetRand(7)
	for n := 0; n < 200; n += 4 {
		p, err := paddingFor(n, r)
		if err != nil {
			t.Fatal(err)
		}
		if p < 12 || p > 1024 || (InnerHeader+n+p)%16 != 0 {
			t.Fatalf("body %d: padding %d", n, p)
		}
	}
}

var (
	testKeyOnce sync.Once
	testKey     *ServerKey
)

// serverKey generates one RSA key for the whole test binary (2048-bit generation takes a while).
func serverKey(t testing.TB) *ServerKey {
	t.Helper()
	testKeyOnce.Do(func() {
		k, err := GenerateServerKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		testKey = k
	})
	return testKey
}

func TestServerKeyFingerprintAndPEM(t *testing.T) {
	k := serverKey(t)
	if uint64(k.Fingerprint)>>60 == 0 {
		t.Fatalf("fingerprint %x starts with 0", uint64(k.Fingerprint))
	}
	if k.Fingerprint != gcrypto.RSAFingerprint(&k.Private.PublicKey) {
		t.Fatal("fingerprint differs from gotd's")
	}
	pemPub := EncodePublicPEM(&k.Private.PublicKey)
	if !bytes.Contains(pemPub, []byte("BEGIN RSA PUBLIC KEY")) {
		t.Fatalf("not PKCS#1: %s", pemPub)
	}
	pub, err := ParsePublicPEM(pemPub)
	if err != nil || pub.N.Cmp(k.Private.N) != 0 || pub.E != k.Private.E {
		t.Fatalf("public PEM round trip: %v", err)
	}
	gotdKeys, err := gcrypto.ParseRSAPublicKeys(pemPub)
	if err != nil || len(gotdKeys) != 1 || gotdKeys[0].N.Cmp(pub.N) != 0 {
		t.Fatalf("gotd cannot read our PEM: %v", err)
	}
	k2, err := ParsePrivatePEM(EncodePrivatePEM(k.Private))
	if err != nil || k2.Fingerprint != k.Fingerprint {
		t.Fatalf("private PEM round trip: %v", err)
	}
	if _, err := ParsePublicPEM([]byte("garbage")); err == nil {
		t.Fatal("garbage PEM accepted")
	}
}

// TestFingerprintKnownAnswer uses the key and fingerprint from gotd's own test (a fixed published value).
func TestFingerprintKnownAnswer(t *testing.T) {
	const testKey = `-----BEGIN PUBLIC KEY-----
MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQCJhOrkbrOi7/fFQRN2+8W5+Inx
bdxo7XH5DDKgFvXPDDe8cQINO3/kFat7KlpC2n2sS8ApZQkmREANg0XpImL9lCHB
v1FgQmL0xtnaURKo7FzaoaL4jCf5556NQr1th9F3oeN67mR4+BF0vPP9Gu6GY5Z1
BSqi+FEREW/2aWSgSwIDAQAB
-----END PUBLIC KEY-----`
	b, _ := pem.Decode([]byte(testKey))
	k, err := x509.ParsePKIXPublicKey(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if got := Fingerprint(k.(*rsa.PublicKey)); got != 1914007313702140277 {
		t.Fatalf("fingerprint %d", got)
	}
}

func TestRSAPadInteropWithGotd(t *testing.T) {
	k := serverKey(t)
	data := make([]byte, 144)
	_, _ = newDetRand(8).Read(data)

	enc, err := gcrypto.RSAPad(data, &k.Private.PublicKey, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	got, err := k.DecryptRSAPad(rand.Reader, enc)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 192 || !bytes.Equal(got[:144], data) {
		t.Fatal("decrypted data differs")
	}

	ours, err := EncryptRSAPad(rand.Reader, &k.Private.PublicKey, data[:100])
	if err != nil {
		t.Fatal(err)
	}
	back, err := gcrypto.DecodeRSAPad(ours, k.Private)
	if err != nil || !bytes.Equal(back[:100], data[:100]) {
		t.Fatalf("gotd cannot decode our RSA_PAD: %v", err)
	}

	enc[100] ^= 1
	if _, err := k.DecryptRSAPad(rand.Reader, enc); err == nil {
		t.Fatal("tampered RSA_PAD accepted")
	}
	if _, err := k.DecryptRSAPad(rand.Reader, enc[:255]); !errors.Is(err, ErrRSABlock) {
		t.Fatalf("short block: %v", err)
	}
	if _, err := k.DecryptRSAPad(rand.Reader, bytes.Repeat([]byte{0xff}, 256)); !errors.Is(err, ErrRSABlock) {
		t.Fatalf("block >= n: %v", err)
	}
}

func TestRSALegacy(t *testing.T) {
	k := serverKey(t)
	data := []byte("p_q_inner_data stand-in, any length up to 235 bytes")
	enc, err := EncryptRSALegacy(rand.Reader, &k.Private.PublicKey, data)
	if err != nil {
		t.Fatal(err)
	}
	hash, rest, err := k.DecryptRSALegacy(rand.Reader, enc)
	if err != nil {
		t.Fatal(err)
	}
	if !CheckSHA1Prefix(hash, rest[:len(data)]) || !bytes.Equal(rest[:len(data)], data) {
		t.Fatal("legacy decrypt mismatch")
	}
	if CheckSHA1Prefix(hash, rest[:len(data)-1]) {
		t.Fatal("hash matched a wrong length")
	}
}

func TestDHPrimeIsSafe(t *testing.T) {
	p := DHPrime()
	if p.BitLen() != 2048 {
		t.Fatal("prime is not 2048 bits")
	}
	if err := gcrypto.CheckDH(DHG, p); err != nil {
		t.Fatalf("gotd rejects the prime: %v", err)
	}
	if new(big.Int).Mod(p, big.NewInt(3)).Int64() != 2 {
		t.Fatal("p mod 3 != 2: g=3 is not a quadratic residue generator")
	}
}

func TestDHSharedKeyAndRange(t *testing.T) {
	r := newDetRand(9)
	a, err := NewDHSecret(r, 0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewDHSecret(r, 2048)
	if err != nil {
		t.Fatal(err)
	}
	k1, err := a.SharedKey(b.GA.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	k2, err := b.SharedKey(a.GA.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if k1 != k2 {
		t.Fatal("shared keys differ")
	}
	if err := gcrypto.CheckDHParams(DHPrime(), big.NewInt(DHG), a.GA, b.GA); err != nil {
		t.Fatalf("gotd rejects our values: %v", err)
	}
	p := DHPrime()
	bad := []*big.Int{
		big.NewInt(1), big.NewInt(2),
		new(big.Int).Sub(p, big.NewInt(1)),
		new(big.Int).Sub(dhRangeLow, big.NewInt(1)),
		new(big.Int).Add(dhRangeHigh, big.NewInt(1)),
		new(big.Int).Add(p, big.NewInt(5)),
	}
	for _, v := range bad {
		if _, err := a.SharedKey(v.Bytes()); !errors.Is(err, ErrDHRange) {
			t.Fatalf("value %x accepted", v)
		}
	}
	if _, err := a.SharedKey(make([]byte, 257)); !errors.Is(err, ErrDHRange) {
		t.Fatal("257-byte g_b accepted")
	}
	if CheckDHValue(dhRangeLow) != nil || CheckDHValue(dhRangeHigh) != nil {
		t.Fatal("range bounds must be inclusive")
	}
}

func TestTmpAESKeyMatchesGotd(t *testing.T) {
	r := newDetRand(10)
	for range 20 {
		var nn [32]byte
		var sn [16]byte
		_, _ = r.Read(nn[:])
		_, _ = r.Read(sn[:])
		nn[0] |= 1 // gotd derives from big.Int bytes, which drop leading zeros
		sn[0] |= 1
		key, iv := TmpAESKey(nn, sn)
		gk, giv := gcrypto.TempAESKeys(new(big.Int).SetBytes(nn[:]), new(big.Int).SetBytes(sn[:]))
		if !bytes.Equal(key[:], gk) || !bytes.Equal(iv[:], giv) {
			t.Fatal("tmp_aes_key/iv differ from gotd")
		}
	}
}

func TestNonceHashAndSaltMatchGotd(t *testing.T) {
	k := randomAuthKey(t, 11)
	var nn bin.Int256
	var sn bin.Int128
	_, _ = newDetRand(12).Read(nn[:])
	_, _ = newDetRand(13).Read(sn[:])
	got := NewNonceHash(nn, 1, k.AuxHash)
	want := gcrypto.NonceHash1(nn, gotdKey(k).Value)
	if got != want {
		t.Fatalf("new_nonce_hash1 %x, gotd %x", got, want)
	}
	if InitialSalt(nn, sn) != gcrypto.ServerSalt(nn, sn) {
		t.Fatal("initial salt differs from gotd")
	}
}

func TestEncryptWithHashRoundTrip(t *testing.T) {
	var key, iv [32]byte
	key[0], iv[0] = 1, 2
	for n := range 40 {
		answer := bytes.Repeat([]byte{byte(n)}, n*4)
		enc, err := EncryptWithHash(newDetRand(1), key, iv, answer)
		if err != nil {
			t.Fatal(err)
		}
		hash, rest, err := DecryptWithHash(key, iv, enc)
		if err != nil {
			t.Fatal(err)
		}
		if len(rest)-len(answer) > 15 || !CheckSHA1Prefix(hash, rest[:len(answer)]) {
			t.Fatalf("answer of %d bytes", len(answer))
		}
	}
	if _, _, err := DecryptWithHash(key, iv, make([]byte, 17)); err == nil {
		t.Fatal("unaligned input accepted")
	}
}

func TestSalts(t *testing.T) {
	s1, err := NewSalts([]byte("0123456789abcdef-cluster"), 30*time.Minute, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	s2, _ := NewSalts([]byte("0123456789abcdef-cluster"), 30*time.Minute, 5*time.Minute)
	other, _ := NewSalts([]byte("another-secret-0123456"), 30*time.Minute, 5*time.Minute)
	if _, err := NewSalts([]byte("short"), 0, 0); err == nil {
		t.Fatal("short secret accepted")
	}
	base := time.Unix(1800*1000, 0) // start of a window
	const key = 42
	cur := s1.Current(key, base.Add(time.Minute))
	if cur != s2.Current(key, base.Add(29*time.Minute)) {
		t.Fatal("two nodes disagree on the salt of one window")
	}
	if cur == other.Current(key, base) || cur == s1.Current(key+1, base) {
		t.Fatal("salt does not depend on the secret and the key")
	}
	next := s1.Current(key, base.Add(31*time.Minute))
	if next == cur {
		t.Fatal("salt did not change between windows")
	}
	if !s1.Valid(key, cur, base.Add(10*time.Minute)) || !s1.Valid(key, next, base.Add(10*time.Minute)) {
		t.Fatal("current/next salt rejected")
	}
	if !s1.Valid(key, cur, base.Add(33*time.Minute)) {
		t.Fatal("previous salt rejected inside the grace period")
	}
	if s1.Valid(key, cur, base.Add(36*time.Minute)) {
		t.Fatal("previous salt accepted after the grace period")
	}
	if s1.Valid(key, cur+1, base) {
		t.Fatal("random salt accepted")
	}
	fs := s1.Future(key, base.Add(time.Minute), 100)
	if len(fs) != 64 || fs[0].Salt != cur || fs[1].Salt != next {
		t.Fatalf("future salts: %d", len(fs))
	}
	for i := 1; i < len(fs); i++ {
		if fs[i].ValidSince <= fs[i-1].ValidSince || fs[i].ValidSince >= fs[i-1].ValidUntil {
			t.Fatal("future salts do not overlap in order")
		}
	}
}

func FuzzDecryptMessage(f *testing.F) {
	k := NewAuthKey([256]byte{1, 2, 3})
	good, _ := EncryptMessage(nil, &k, ClientToServer, Message{MsgID: 4, Body: make([]byte, 8)}, newDetRand(1))
	f.Add(good)
	f.Add([]byte{})
	f.Add(make([]byte, 72))
	f.Fuzz(func(t *testing.T, frame []byte) {
		if len(frame) >= 8 {
			binary.LittleEndian.PutUint64(frame, uint64(k.ID))
		}
		m, _, err := DecryptMessage(&k, ClientToServer, frame)
		if err == nil && len(m.Body) > len(frame) {
			t.Fatal("body longer than the frame")
		}
	})
}

func TestBindMessageInteropWithGotd(t *testing.T) {
	perm := randomAuthKey(t, 20)
	inner := &gcrypto.BindAuthKeyInner{Nonce: 1, TempAuthKeyID: 2, PermAuthKeyID: perm.ID, TempSessionID: 3, ExpiresAt: 4}
	enc, err := gcrypto.EncryptBindMessage(rand.Reader, gotdKey(perm), 1234<<2, inner)
	if err != nil {
		t.Fatal(err)
	}
	m, err := DecryptBindMessage(&perm, enc)
	if err != nil {
		t.Fatal(err)
	}
	var want bin.Buffer
	_ = inner.Encode(&want)
	if m.MsgID != 1234<<2 || !bytes.Equal(m.Body, want.Buf) {
		t.Fatalf("bind message: %+v", m)
	}
	ours, err := EncryptBindMessage(rand.Reader, &perm, 8, 0, want.Buf)
	if err != nil {
		t.Fatal(err)
	}
	if m2, err := DecryptBindMessage(&perm, ours); err != nil || !bytes.Equal(m2.Body, want.Buf) {
		t.Fatalf("own round trip: %v", err)
	}
	enc[40] ^= 1
	if _, err := DecryptBindMessage(&perm, enc); !errors.Is(err, ErrBindMessage) {
		t.Fatalf("tampered: %v", err)
	}
	other := randomAuthKey(t, 21)
	if _, err := DecryptBindMessage(&other, ours); !errors.Is(err, ErrBindMessage) {
		t.Fatalf("other key: %v", err)
	}
}

func BenchmarkDecryptMessage(b *testing.B) {
	k := randomAuthKey(b, 30)
	body := make([]byte, 256)
	frame, _ := EncryptMessage(nil, &k, ClientToServer, Message{MsgID: 4, Body: body}, newDetRand(1))
	buf := make([]byte, len(frame))
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		copy(buf, frame)
		if _, _, err := DecryptMessage(&k, ClientToServer, buf); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncryptMessage(b *testing.B) {
	k := randomAuthKey(b, 31)
	body := make([]byte, 256)
	r := newDetRand(2)
	out := make([]byte, 0, 1024)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if out, err = EncryptMessage(out[:0], &k, ServerToClient, Message{MsgID: 5, Body: body}, r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRSAPadDecrypt(b *testing.B) {
	k := serverKey(b)
	enc, _ := EncryptRSAPad(rand.Reader, &k.Private.PublicKey, make([]byte, 100))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.DecryptRSAPad(rand.Reader, enc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDHServerSide(b *testing.B) {
	client, _ := NewDHSecret(rand.Reader, 256)
	b.ReportAllocs()
	for b.Loop() {
		s, err := NewDHSecret(rand.Reader, 0)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.SharedKey(client.GA.Bytes()); err != nil {
			b.Fatal(err)
		}
	}
}
