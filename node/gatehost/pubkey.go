package gatehost

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	gwcrypto "github.com/raftgram/raftgram/gateway/crypto"
	"github.com/raftgram/raftgram/node"
)

// PublicKeyFile is the name of the server's public RSA key (PKCS#1 "RSA PUBLIC KEY" PEM) in a data dir, next
// to the private server_rsa.pem: what client libraries are configured with.
const PublicKeyFile = "server_rsa.pub.pem"

// WritePublicKey writes the data dir's public RSA key to PublicKeyFile unless a file with the same content is
// there, and returns its path and the key's fingerprint. A different file in its place is an error (it would
// point clients at the wrong key).
func WritePublicKey(dd *node.DataDir) (path string, fingerprint int64, err error) {
	k, err := gwcrypto.ParsePrivatePEM(dd.RSAPEM)
	if err != nil {
		return "", 0, fmt.Errorf("gatehost: server RSA key: %w", err)
	}
	pub := gwcrypto.EncodePublicPEM(&k.Private.PublicKey)
	// Absolute, since it is printed for operators to paste into client configuration.
	path, err = filepath.Abs(filepath.Join(dd.Path, PublicKeyFile))
	if err != nil {
		return "", 0, fmt.Errorf("gatehost: %w", err)
	}
	cur, err := os.ReadFile(path)
	switch {
	case err == nil && bytes.Equal(cur, pub):
		return path, k.Fingerprint, nil
	case err == nil:
		return "", 0, fmt.Errorf("gatehost: %s does not hold this cluster's public key", path)
	case !errors.Is(err, fs.ErrNotExist):
		return "", 0, fmt.Errorf("gatehost: %w", err)
	}
	if err := os.WriteFile(path, pub, 0o644); err != nil {
		return "", 0, fmt.Errorf("gatehost: write public key: %w", err)
	}
	return path, k.Fingerprint, nil
}
