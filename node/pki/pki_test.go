package pki

import (
	"crypto/rand"
	"strings"
	"testing"
	"time"
)

func TestTokenRoundTripAndVerify(t *testing.T) {
	ca, err := NewCA("c", time.Now(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("0123456789abcdef0123456789abcdef")
	s, err := NewToken(secret, ca.Cert.Raw, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := ParseToken(s)
	if err != nil {
		t.Fatal(err)
	}
	if tok.String() != s {
		t.Fatalf("round trip: %s != %s", tok, s)
	}
	if err := tok.Verify(secret, ca.Cert.Raw); err != nil {
		t.Fatal(err)
	}
	if err := tok.Verify([]byte("another secret, same length....."), ca.Cert.Raw); err == nil {
		t.Fatal("token verified with the wrong secret")
	}
	other, _ := NewCA("d", time.Now(), rand.Reader)
	if err := tok.Verify(secret, other.Cert.Raw); err == nil {
		t.Fatal("token verified against another CA")
	}
	forged := tok
	forged.Nonce[0] ^= 1
	if err := forged.Verify(secret, ca.Cert.Raw); err == nil {
		t.Fatal("forged nonce verified")
	}
	for _, bad := range []string{"", "a.b", "zz.zz.zz", strings.Repeat("0", 32) + ".00." + strings.Repeat("0", 64)} {
		if _, err := ParseToken(bad); err == nil {
			t.Fatalf("ParseToken(%q) accepted", bad)
		}
	}
}

func TestIdentityRejectsForeignCert(t *testing.T) {
	ca, _ := NewCA("c", time.Now(), rand.Reader)
	evil, _ := NewCA("e", time.Now(), rand.Reader)
	key, keyPEM, err := GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := evil.Issue("n1", key.Public(), time.Now(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LoadIdentity(ca, cert, keyPEM); err == nil {
		t.Fatal("identity accepted a certificate of another CA")
	}
	good, err := ca.Issue("n1", key.Public(), time.Now(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, err := LoadIdentity(ca, good, keyPEM)
	if err != nil || id.ID != "n1" {
		t.Fatalf("identity: %v %v", id, err)
	}
}
