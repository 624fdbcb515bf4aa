package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"time"
)

// ServerName is the DNS name every node certificate carries; peers verify it instead of an IP, so nodes can
// move addresses without new certificates.
const ServerName = "raftgram-node"

// CA is the cluster certificate authority.
type CA struct {
	Cert    *x509.Certificate
	CertPEM []byte
	Key     crypto.Signer
	KeyPEM  []byte
}

// NewCA creates a self-signed cluster CA valid for ten years from now.
func NewCA(cluster string, now time.Time, rnd io.Reader) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rnd)
	if err != nil {
		return nil, fmt.Errorf("generate CA key: %w", err)
	}
	serial, err := serialNumber(rnd)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "raftgram cluster CA " + cluster, Organization: []string{"raftgram"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rnd, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("self-sign CA: %w", err)
	}
	keyPEM, err := MarshalKey(key)
	if err != nil {
		return nil, err
	}
	return LoadCA(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyPEM)
}

// LoadCA parses a CA written by NewCA. keyPEM may be nil for a CA that can verify but not issue.
func LoadCA(certPEM, keyPEM []byte) (*CA, error) {
	cert, err := ParseCert(certPEM)
	if err != nil {
		return nil, fmt.Errorf("CA certificate: %w", err)
	}
	if !cert.IsCA {
		return nil, errors.New("CA certificate is not a CA")
	}
	ca := &CA{Cert: cert, CertPEM: certPEM, KeyPEM: keyPEM}
	if keyPEM != nil {
		k, err := ParseKey(keyPEM)
		if err != nil {
			return nil, fmt.Errorf("CA key: %w", err)
		}
		ca.Key = k
	}
	return ca, nil
}

// Pool returns a cert pool holding only this CA.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// Issue signs a node certificate for nodeID over pub, usable as both TLS server and client.
func (ca *CA) Issue(nodeID string, pub crypto.PublicKey, now time.Time, rnd io.Reader) ([]byte, error) {
	if ca.Key == nil {
		return nil, errors.New("issue certificate: CA has no private key")
	}
	if nodeID == "" || len(nodeID) > 64 {
		return nil, fmt.Errorf("issue certificate: bad node id %q", nodeID)
	}
	serial, err := serialNumber(rnd)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: nodeID, Organization: []string{"raftgram"}},
		DNSNames:     []string{ServerName},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(5, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rnd, tmpl, ca.Cert, pub, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("sign node certificate: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

// GenerateKey creates a node key pair.
func GenerateKey(rnd io.Reader) (*ecdsa.PrivateKey, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rnd)
	if err != nil {
		return nil, nil, fmt.Errorf("generate node key: %w", err)
	}
	p, err := MarshalKey(key)
	return key, p, err
}

// MarshalKey encodes a private key as PKCS#8 PEM.
func MarshalKey(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("marshal key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParseKey decodes a PKCS#8 PEM private key.
func ParseKey(p []byte) (crypto.Signer, error) {
	b, _ := pem.Decode(p)
	if b == nil {
		return nil, errors.New("no PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse key: %w", err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, errors.New("key cannot sign")
	}
	return s, nil
}

// ParseCert decodes one PEM certificate.
func ParseCert(p []byte) (*x509.Certificate, error) {
	b, _ := pem.Decode(p)
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM certificate")
	}
	return x509.ParseCertificate(b.Bytes)
}

// Identity is a node's certificate and key plus the CA that signed it.
type Identity struct {
	CA   *CA
	Cert tls.Certificate
	ID   string
}

// LoadIdentity builds an identity from PEM files' contents.
func LoadIdentity(ca *CA, certPEM, keyPEM []byte) (*Identity, error) {
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("node key pair: %w", err)
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("node certificate: %w", err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return nil, fmt.Errorf("node certificate not signed by cluster CA: %w", err)
	}
	c.Leaf = leaf
	// Send the CA along so a joining node can match it against the hash in its token.
	c.Certificate = append(c.Certificate, ca.Cert.Raw)
	return &Identity{CA: ca, Cert: c, ID: leaf.Subject.CommonName}, nil
}

// ServerTLS is the listener side: a client certificate is verified when given; callers decide per stream
// whether one was required (only the join stream may go without).
func (id *Identity) ServerTLS() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{id.Cert},
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    id.CA.Pool(),
	}
}

// ClientTLS is the dialer side between members: both ends prove cluster membership.
func (id *Identity) ClientTLS() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{id.Cert},
		RootCAs:      id.CA.Pool(),
		ServerName:   ServerName,
	}
}

// JoinTLS is the dialer side for a node that has no certificate yet: it trusts the server only if the server's
// chain contains a CA whose SHA-256 equals caHash (taken from the join token) and the leaf verifies against it.
func JoinTLS(caHash [32]byte) *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS13,
		InsecureSkipVerify: true, // replaced by VerifyConnection below: pinned CA hash from the token
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) < 2 {
				return errors.New("join: server sent no CA certificate")
			}
			for _, c := range cs.PeerCertificates[1:] {
				if CAHash(c.Raw) != caHash {
					continue
				}
				pool := x509.NewCertPool()
				pool.AddCert(c)
				_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: pool, DNSName: ServerName,
					KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
				if err != nil {
					return fmt.Errorf("join: server certificate: %w", err)
				}
				return nil
			}
			return errors.New("join: server CA does not match the token")
		},
	}
}

// WriteFile0600 writes secret material readable only by the owner.
func WriteFile0600(path string, data []byte) error {
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func serialNumber(rnd io.Reader) (*big.Int, error) {
	n, err := rand.Int(rnd, new(big.Int).Lsh(big.NewInt(1), 126))
	if err != nil {
		return nil, fmt.Errorf("serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}
