package node

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/raftgram/raftgram/shard"
)

// incarnationFile lives inside raft/, beside the groups' stable stores (term and vote): whatever loses those
// loses this file too, and the node then comes back under a new raft server ID (DESIGN.md invariant 6).
const incarnationFile = "incarnation"

// loadIncarnation returns this node's raft server ID, creating a new incarnation when the raft stable state is
// gone. A node that was a member and lost it is set to rejoin through its known peers (JoinVia = Peers): its
// groups stay closed until the cluster has removed its old incarnation (completeJoin).
func (n *Node) loadIncarnation() (string, error) {
	f := &n.dd.File
	dir := filepath.Join(n.dd.Path, "raft")
	path := filepath.Join(dir, incarnationFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		inc := strings.TrimSpace(string(b))
		if _, herr := hex.DecodeString(inc); herr != nil || len(inc) != 16 {
			return "", fmt.Errorf("%s: malformed incarnation %q", path, inc)
		}
		if f.Incarnation != inc {
			f.Incarnation = inc
			if err := n.dd.Save(); err != nil {
				return "", err
			}
		}
		return shard.RaftID(f.NodeID, inc), nil
	case !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("read incarnation: %w", err)
	}
	if f.Incarnation == "" {
		// A data dir from before incarnations: its stable stores remember votes cast under the bare node id.
		if groups, _ := filepath.Glob(filepath.Join(dir, "group-*")); len(groups) > 0 {
			return f.NodeID, nil
		}
	}
	var raw [8]byte
	if _, err := io.ReadFull(n.cfg.Rand, raw[:]); err != nil {
		return "", fmt.Errorf("new incarnation: %w", err)
	}
	inc := hex.EncodeToString(raw[:])
	// A member (not the init node before its cluster exists, not a node in the middle of joining) that has no
	// raft state lost it: it may have voted in terms it no longer remembers.
	wasMember := !f.Bootstrap && len(f.JoinVia) == 0
	if wasMember {
		if len(f.Peers) == 0 {
			return "", fmt.Errorf("data dir %s lost its raft state and records no peers to rejoin through: "+
				"remove it, then `raftgram join` it again with a token", n.dd.Path)
		}
		n.log.Warn("raft state lost (wiped data dir): rejoining as a new raft member",
			"old_raft_id", shard.RaftID(f.NodeID, f.Incarnation), "new_raft_id", shard.RaftID(f.NodeID, inc),
			"via", f.Peers)
		f.JoinVia = append([]string(nil), f.Peers...)
		f.JoinShards = append([]uint32(nil), f.Held...)
	}
	// node.json first: a crash before the incarnation file exists just makes a new incarnation next time.
	f.Incarnation = inc
	if err := n.dd.Save(); err != nil {
		return "", err
	}
	if err := writeSynced(dir, incarnationFile, []byte(inc+"\n")); err != nil {
		return "", err
	}
	return shard.RaftID(f.NodeID, inc), nil
}

// writeSynced writes dir/name durably (temp file, fsync, rename, fsync of the directory).
func writeSynced(dir, name string, data []byte) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	tmp := filepath.Join(dir, name+".tmp")
	fl, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	_, err = fl.Write(data)
	if err == nil {
		err = fl.Sync()
	}
	if cerr := fl.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err == nil {
		var d *os.File
		if d, err = os.Open(dir); err == nil {
			err = d.Sync()
			_ = d.Close()
		}
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}
