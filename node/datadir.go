package node

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	gwcrypto "github.com/raftgram/raftgram/gateway/crypto"
	"github.com/raftgram/raftgram/node/pki"
	"github.com/raftgram/raftgram/shard"
)

// Data dir layout (format version 1):
//
//	node.json        NodeFile: cluster id, node id, shard count, addresses, pending join
//	secret           cluster secret (hex), 0600
//	tls/ca.crt       cluster CA certificate; tls/ca.key its key (0600)
//	tls/node.crt     this node's certificate; tls/node.key its key (0600)
//	server_rsa.pem   MTProto server RSA key (PKCS#1, shared by all nodes), 0600
//	raftlog/         shared Raft log store (shard/raftlog)
//	state/           applied state of all shards (fsm)
//	raft/            per-group stable stores and snapshots (shard); raft/incarnation (raft server ID suffix)
const dataDirVersion = 1

// NodeFile is node.json.
type NodeFile struct {
	Version   int    `json:"version"`
	ClusterID string `json:"cluster_id"`
	NodeID    string `json:"node_id"`
	Shards    int    `json:"shards"`
	Listen    string `json:"listen"`
	Advertise string `json:"advertise"`
	Admin     string `json:"admin,omitempty"`
	// Bootstrap is true on the node created by init: its groups start as single-voter clusters.
	Bootstrap bool `json:"bootstrap,omitempty"`
	// JoinVia is set between `join` fetching credentials and the cluster adding this node as a voter.
	JoinVia []string `json:"join_via,omitempty"`
	// JoinShards are the shards the joining node will hold; it opens their groups before asking to be added.
	JoinShards []uint32 `json:"join_shards,omitempty"`
	// Held caches the shards the placement last gave this node, so a node whose state was lost opens their
	// groups at once (leaders then catch it up by snapshot) instead of after its meta replica caught up.
	Held []uint32 `json:"held,omitempty"`
	// Peers caches the other members' addresses (from the placement): a node that lost its raft state rejoins
	// through them.
	Peers []string `json:"peers,omitempty"`
	// Incarnation mirrors raft/incarnation, the suffix of this node's raft server ID. It is here only to tell
	// "raft state lost" (set here, file gone) from a data dir of an older binary (neither).
	Incarnation string `json:"incarnation,omitempty"`
}

// DataDir is an opened data directory's paths and credentials.
type DataDir struct {
	Path   string
	File   NodeFile
	Secret []byte
	ID     *pki.Identity
	RSAPEM []byte
}

func (d *DataDir) p(parts ...string) string {
	return filepath.Join(append([]string{d.Path}, parts...)...)
}

// InitOptions are the settings of `raftgram init`.
type InitOptions struct {
	Dir       string
	NodeID    string // default "n1"
	Shards    int    // default DefaultShards
	Listen    string // default 127.0.0.1:7400
	Advertise string // default Listen
	Admin     string // default 127.0.0.1:7401
	Rand      io.Reader
	Clock     func() time.Time
}

// DefaultShards is the shard count `init` uses when none is given (see shard/DESIGN.md for the measurement).
const DefaultShards = 3

// Init creates a new cluster's data dir: CA, node certificate, cluster secret, RSA key.
func Init(o InitOptions) (*DataDir, error) {
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.NodeID == "" {
		o.NodeID = "n1"
	}
	if o.Shards == 0 {
		o.Shards = DefaultShards
	}
	if o.Shards < 1 || o.Shards > shard.MaxShards {
		return nil, fmt.Errorf("shard count %d out of range 1..%d", o.Shards, shard.MaxShards)
	}
	if o.Listen == "" {
		o.Listen = "127.0.0.1:7400"
	}
	if o.Advertise == "" {
		o.Advertise = o.Listen
	}
	if err := checkEmpty(o.Dir); err != nil {
		return nil, err
	}
	var cid [8]byte
	if _, err := io.ReadFull(o.Rand, cid[:]); err != nil {
		return nil, fmt.Errorf("cluster id: %w", err)
	}
	secret := make([]byte, 32)
	if _, err := io.ReadFull(o.Rand, secret); err != nil {
		return nil, fmt.Errorf("cluster secret: %w", err)
	}
	ca, err := pki.NewCA(hex.EncodeToString(cid[:]), o.Clock(), o.Rand)
	if err != nil {
		return nil, err
	}
	rsaKey, err := gwcrypto.GenerateServerKey(o.Rand)
	if err != nil {
		return nil, err
	}
	f := NodeFile{Version: dataDirVersion, ClusterID: hex.EncodeToString(cid[:]), NodeID: o.NodeID,
		Shards: o.Shards, Listen: o.Listen, Advertise: o.Advertise, Admin: o.Admin, Bootstrap: true}
	creds := Credentials{CACert: ca.CertPEM, CAKey: ca.KeyPEM, Secret: secret, RSA: gwcrypto.EncodePrivatePEM(rsaKey.Private)}
	return writeDataDir(o.Dir, f, creds, o.Rand, o.Clock())
}

// Credentials are the cluster-wide secrets every member holds. A joining node receives them (CA key included,
// so any member can admit the next node) and issues its own certificate with the CA.
type Credentials struct {
	CACert []byte `json:"ca_cert"`
	CAKey  []byte `json:"ca_key"`
	Secret []byte `json:"secret"`
	RSA    []byte `json:"rsa"`
}

func writeDataDir(dir string, f NodeFile, c Credentials, rnd io.Reader, now time.Time) (*DataDir, error) {
	if err := os.MkdirAll(filepath.Join(dir, "tls"), 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	ca, err := pki.LoadCA(c.CACert, c.CAKey)
	if err != nil {
		return nil, err
	}
	key, keyPEM, err := pki.GenerateKey(rnd)
	if err != nil {
		return nil, err
	}
	certPEM, err := ca.Issue(f.NodeID, key.Public(), now, rnd)
	if err != nil {
		return nil, err
	}
	d := &DataDir{Path: dir}
	files := []struct {
		name string
		data []byte
		mode os.FileMode
	}{
		{d.p("tls", "ca.crt"), c.CACert, 0o644},
		{d.p("tls", "ca.key"), c.CAKey, 0o600},
		{d.p("tls", "node.crt"), certPEM, 0o644},
		{d.p("tls", "node.key"), keyPEM, 0o600},
		{d.p("secret"), []byte(hex.EncodeToString(c.Secret) + "\n"), 0o600},
		{d.p("server_rsa.pem"), c.RSA, 0o600},
	}
	for _, fl := range files {
		if err := os.WriteFile(fl.name, fl.data, fl.mode); err != nil {
			return nil, fmt.Errorf("write %s: %w", fl.name, err)
		}
	}
	if err := writeNodeFile(dir, f); err != nil {
		return nil, err
	}
	return OpenDataDir(dir)
}

func writeNodeFile(dir string, f NodeFile) error {
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, "node.json.tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write node.json: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "node.json")); err != nil {
		return fmt.Errorf("write node.json: %w", err)
	}
	return nil
}

// OpenDataDir loads an initialized data dir.
func OpenDataDir(dir string) (*DataDir, error) {
	d := &DataDir{Path: dir}
	b, err := os.ReadFile(d.p("node.json"))
	if err != nil {
		return nil, fmt.Errorf("data dir %s not initialized (run raftgram init or join): %w", dir, err)
	}
	if err := json.Unmarshal(b, &d.File); err != nil {
		return nil, fmt.Errorf("node.json: %w", err)
	}
	if d.File.Version != dataDirVersion {
		return nil, fmt.Errorf("node.json: data dir format %d, this binary reads %d", d.File.Version, dataDirVersion)
	}
	read := func(name ...string) []byte {
		if err != nil {
			return nil
		}
		var out []byte
		out, err = os.ReadFile(d.p(name...))
		return out
	}
	caCert, caKey := read("tls", "ca.crt"), read("tls", "ca.key")
	nodeCert, nodeKey := read("tls", "node.crt"), read("tls", "node.key")
	secretHex, rsaPEM := read("secret"), read("server_rsa.pem")
	if err != nil {
		return nil, fmt.Errorf("data dir %s: %w", dir, err)
	}
	ca, err := pki.LoadCA(caCert, caKey)
	if err != nil {
		return nil, err
	}
	if d.ID, err = pki.LoadIdentity(ca, nodeCert, nodeKey); err != nil {
		return nil, err
	}
	if d.Secret, err = hex.DecodeString(string(trimNL(secretHex))); err != nil || len(d.Secret) < 16 {
		return nil, errors.New("data dir: malformed cluster secret")
	}
	d.RSAPEM = rsaPEM
	return d, nil
}

// Credentials returns what a joining node receives.
func (d *DataDir) Credentials() Credentials {
	return Credentials{CACert: d.ID.CA.CertPEM, CAKey: d.ID.CA.KeyPEM, Secret: d.Secret, RSA: d.RSAPEM}
}

// NewToken mints a one-time join token for this cluster.
func (d *DataDir) NewToken(rnd io.Reader) (string, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	return pki.NewToken(d.Secret, d.ID.CA.Cert.Raw, rnd)
}

// Save rewrites node.json.
func (d *DataDir) Save() error { return writeNodeFile(d.Path, d.File) }

func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return b
}

func checkEmpty(dir string) error {
	if dir == "" {
		return errors.New("data dir required")
	}
	if _, err := os.Stat(filepath.Join(dir, "node.json")); err == nil {
		return fmt.Errorf("data dir %s already initialized", dir)
	}
	return nil
}
