package node

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/raftgram/raftgram/node/mux"
	"github.com/raftgram/raftgram/node/pki"
	"github.com/raftgram/raftgram/node/rpc"
	"github.com/raftgram/raftgram/shard"
)

// The join protocol, in two steps:
//
//  1. Credentials (join stream, no client certificate): the joiner dials any member, trusting it only if the
//     member's CA hashes to the token's CA hash, and sends {token, node id, address}. The member checks the
//     token's MAC with the cluster secret, consumes its nonce in the meta group (compare-and-set: a token works
//     once; the same node may retry), and answers with the cluster credentials and the current placement.
//  2. Admission (RPC with the new certificate), in two calls. Prepare: the member removes every other raft
//     incarnation of the node id from the meta group and every shard group (a node that lost its raft state
//     rejoins under a new incarnation; its old one forgot its votes). Only then does the joiner open its groups:
//     until its old incarnation is out of every configuration, a candidate may still ask this address for the
//     old incarnation's vote. Admit: the member checks that the caller's certificate names the node being
//     added, adds its raft ID as a voter of the meta group, records it in the placement, and adds it as a
//     voter of every shard the placement gives it.

type joinReq struct {
	Token  string `json:"token"`
	NodeID string `json:"node_id"`
	Addr   string `json:"addr"`
}

type joinResp struct {
	ClusterID   string          `json:"cluster_id"`
	Shards      int             `json:"shards"`
	Credentials Credentials     `json:"credentials"`
	Placement   json.RawMessage `json:"placement"`
}

// admitReq is the body of methodJoinCommit.
type admitReq struct {
	ID      string `json:"id"`
	Addr    string `json:"addr"`
	RaftID  string `json:"raft_id,omitempty"` // default ID (a node of an older binary)
	Prepare bool   `json:"prepare,omitempty"` // only drop other incarnations of ID (step 2, first call)
}

func (r admitReq) raftID() string {
	if r.RaftID == "" {
		return r.ID
	}
	return r.RaftID
}

type peerKey struct{}

// peerID is the node id in the verified client certificate of the RPC stream ctx belongs to.
func peerID(ctx context.Context) string {
	s, _ := ctx.Value(peerKey{}).(string)
	return s
}

func (n *Node) serveRPCConn(c net.Conn, peer *x509.Certificate) {
	n.rpcSrv.ServeConn(context.WithValue(n.ctx, peerKey{}, peer.Subject.CommonName), c)
}

func (n *Node) serveJoin(c net.Conn, _ *x509.Certificate) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(60 * time.Second))
	br := bufio.NewReader(io.LimitReader(c, 64<<10))
	_, body, err := rpc.ReadFrame(br)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(n.ctx, 45*time.Second)
	defer cancel()
	resp, err := n.handleJoin(ctx, body)
	status := rpc.StatusOK
	if err != nil {
		n.log.Warn("join refused", "remote", c.RemoteAddr(), "err", err)
		status, resp = rpc.StatusBadToken, []byte(err.Error())
	}
	_ = rpc.WriteFrame(c, status, resp)
}

func (n *Node) handleJoin(ctx context.Context, body []byte) ([]byte, error) {
	var req joinReq
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, fmt.Errorf("join request: %w", err)
	}
	if err := validNodeID(req.NodeID); err != nil {
		return nil, err
	}
	tok, err := pki.ParseToken(req.Token)
	if err != nil {
		return nil, err
	}
	if err := tok.Verify(n.dd.Secret, n.dd.ID.CA.Cert.Raw); err != nil {
		return nil, err
	}
	key := keyTokenPrefix + hex.EncodeToString(tok.Nonce[:])
	swapped, cur, err := n.casMeta(ctx, key, nil, []byte(req.NodeID))
	if err != nil {
		return nil, fmt.Errorf("consume token: %w", err)
	}
	if !swapped && string(cur) != req.NodeID {
		return nil, errors.New("join token already used")
	}
	p := n.shards.Placement()
	if p == nil {
		return nil, errors.New("cluster has no placement yet")
	}
	if _, taken := p.Node(req.NodeID); taken && !swapped && string(cur) != req.NodeID {
		return nil, fmt.Errorf("node id %q already in the cluster", req.NodeID)
	}
	pb, _ := p.Marshal()
	return json.Marshal(joinResp{ClusterID: n.dd.File.ClusterID, Shards: n.dd.File.Shards,
		Credentials: n.dd.Credentials(), Placement: pb})
}

// forgetIncarnations is the prepare call of step 2 on the member side: every raft incarnation of req.ID but
// req.RaftID leaves the meta group and every shard group (a no-op for a node id new to the cluster).
func (n *Node) forgetIncarnations(ctx context.Context, req admitReq) error {
	if id := peerID(ctx); id != req.ID || shard.NodeOf(req.raftID()) != req.ID {
		return fmt.Errorf("join prepare: certificate of %q cannot prepare %q (%q)", id, req.ID, req.raftID())
	}
	groups := []uint32{shard.MetaGroup}
	for s := 0; s < n.dd.File.Shards; s++ {
		groups = append(groups, uint32(s))
	}
	errs := make([]error, len(groups))
	var wg sync.WaitGroup
	for i, g := range groups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = n.shards.ChangeConfig(ctx, g, shard.ConfigChange{ID: req.ID, Except: req.raftID()})
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("drop old incarnations of %s: %w", req.ID, err)
	}
	return nil
}

// admitNode is step 2 on the member side.
func (n *Node) admitNode(ctx context.Context, req admitReq) (*shard.Placement, error) {
	ni := shard.NodeInfo{ID: req.ID, Addr: req.Addr}
	if id := peerID(ctx); id != ni.ID || shard.NodeOf(req.raftID()) != ni.ID {
		return nil, fmt.Errorf("join commit: certificate of %q cannot admit %q (%q)", id, ni.ID, req.raftID())
	}
	if err := n.shards.ChangeConfig(ctx, shard.MetaGroup, shard.ConfigChange{Add: true, ID: req.raftID(), Addr: ni.Addr}); err != nil {
		return nil, fmt.Errorf("add %s to meta group: %w", ni.ID, err)
	}
	var before *shard.Placement
	q, err := n.updatePlacement(ctx, func(p *shard.Placement) *shard.Placement {
		before = p
		return p.WithNode(ni)
	})
	if err != nil {
		return nil, err
	}
	var wg sync.WaitGroup
	errs := make([]error, q.Shards)
	for s := 0; s < q.Shards; s++ {
		if !q.Holds(ni.ID, uint32(s)) {
			continue
		}
		var gone []string // replicas this shard moves to the new node
		for _, r := range before.Replicas[s] {
			if !q.Holds(r, uint32(s)) {
				gone = append(gone, r)
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			// New voter first, old one after: the group never drops below its replica count.
			if err := n.shards.ChangeConfig(ctx, uint32(s), shard.ConfigChange{Add: true, ID: req.raftID(), Addr: ni.Addr}); err != nil {
				errs[s] = err
				return
			}
			for _, r := range gone {
				if err := n.shards.ChangeConfig(ctx, uint32(s), shard.ConfigChange{ID: r}); err != nil {
					errs[s] = err
					return
				}
				n.closeRemote(ctx, before, r, uint32(s))
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("add %s to shard groups: %w", ni.ID, err)
	}
	n.log.Info("node admitted", "id", ni.ID, "addr", ni.Addr)
	return q, nil
}

// closeRemote tells node id to shut down its replica of shard s, which was just removed from the group (a
// removed replica never hears of its removal from Raft). Best effort: the node's placement watcher is the
// fallback.
func (n *Node) closeRemote(ctx context.Context, p *shard.Placement, id string, s uint32) {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], s)
	if id == n.ID() {
		if err := n.shards.CloseGroup(s); err != nil {
			n.log.Warn("close moved group", "group", s, "err", err)
		}
		return
	}
	if ni, ok := p.Node(id); ok {
		if _, err := n.rpcCli.Call(ctx, ni.Addr, methodCloseGroup, b[:]); err != nil {
			n.log.Warn("close moved group on peer", "group", s, "node", id, "err", err)
		}
	}
}

// RemoveNode takes node id out of every group and the placement (replacing a dead node: remove it, then join
// a new one and the shards re-replicate to it).
func (n *Node) RemoveNode(ctx context.Context, id string) error {
	p := n.shards.Placement()
	if p == nil {
		return errors.New("no placement")
	}
	if _, ok := p.Node(id); !ok {
		return fmt.Errorf("node %q not in the cluster", id)
	}
	var wg sync.WaitGroup
	errs := make([]error, p.Shards)
	for s := 0; s < p.Shards; s++ {
		if !p.Holds(id, uint32(s)) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[s] = n.shards.ChangeConfig(ctx, uint32(s), shard.ConfigChange{ID: id})
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("remove %s from shard groups: %w", id, err)
	}
	if _, err := n.updatePlacement(ctx, func(p *shard.Placement) *shard.Placement { return p.WithoutNode(id) }); err != nil {
		return err
	}
	if err := n.shards.ChangeConfig(ctx, shard.MetaGroup, shard.ConfigChange{ID: id}); err != nil {
		return fmt.Errorf("remove %s from meta group: %w", id, err)
	}
	n.log.Info("node removed", "id", id)
	return nil
}

// updatePlacement applies f to the linearizably read placement with compare-and-set, retrying on races.
func (n *Node) updatePlacement(ctx context.Context, f func(*shard.Placement) *shard.Placement) (*shard.Placement, error) {
	for {
		old, ok, err := n.shards.Read(ctx, shard.MetaGroup, []byte(keyPlacement))
		if err != nil {
			return nil, fmt.Errorf("read placement: %w", err)
		}
		if !ok {
			return nil, errors.New("no placement in meta group")
		}
		p, err := shard.UnmarshalPlacement(old)
		if err != nil {
			return nil, err
		}
		q := f(p)
		nb, err := q.Marshal()
		if err != nil {
			return nil, err
		}
		swapped, _, err := n.casMeta(ctx, keyPlacement, old, nb)
		if err != nil {
			return nil, fmt.Errorf("write placement: %w", err)
		}
		if swapped {
			n.shards.SetPlacement(q)
			return q, nil
		}
	}
}

// JoinOptions are the settings of `raftgram join`.
type JoinOptions struct {
	Dir       string
	Via       string // address of any member
	Token     string
	NodeID    string
	Listen    string
	Advertise string
	Admin     string
}

// Join fetches the cluster credentials with a token and writes a data dir; the node admits itself when it
// first serves (step 2).
func Join(ctx context.Context, o JoinOptions) (*DataDir, error) {
	if err := checkEmpty(o.Dir); err != nil {
		return nil, err
	}
	if err := validNodeID(o.NodeID); err != nil {
		return nil, err
	}
	if o.Listen == "" {
		return nil, errors.New("join: --listen required")
	}
	if o.Advertise == "" {
		o.Advertise = o.Listen
	}
	tok, err := pki.ParseToken(o.Token)
	if err != nil {
		return nil, err
	}
	c, err := mux.DialJoin(ctx, o.Via, pki.JoinTLS(tok.CAHash))
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	body, _ := json.Marshal(joinReq{Token: o.Token, NodeID: o.NodeID, Addr: o.Advertise})
	if err := rpc.WriteFrame(c, 0, body); err != nil {
		return nil, fmt.Errorf("join: send: %w", err)
	}
	status, out, err := rpc.ReadFrame(bufio.NewReader(c))
	if err != nil {
		return nil, fmt.Errorf("join: receive: %w", err)
	}
	if status != rpc.StatusOK {
		return nil, fmt.Errorf("join refused: %s", out)
	}
	var resp joinResp
	if err := json.Unmarshal(out, &resp); err != nil {
		return nil, fmt.Errorf("join response: %w", err)
	}
	p, err := shard.UnmarshalPlacement(resp.Placement)
	if err != nil {
		return nil, err
	}
	q := p.WithNode(shard.NodeInfo{ID: o.NodeID, Addr: o.Advertise})
	f := NodeFile{Version: dataDirVersion, ClusterID: resp.ClusterID, NodeID: o.NodeID, Shards: resp.Shards,
		Listen: o.Listen, Advertise: o.Advertise, Admin: o.Admin, JoinVia: []string{o.Via}}
	for s := 0; s < q.Shards; s++ {
		if q.Holds(o.NodeID, uint32(s)) {
			f.JoinShards = append(f.JoinShards, uint32(s))
		}
	}
	for _, ni := range p.Nodes {
		if ni.Addr != o.Via {
			f.JoinVia = append(f.JoinVia, ni.Addr)
		}
	}
	return writeDataDir(o.Dir, f, resp.Credentials, rand.Reader, time.Now())
}

// completeJoin runs step 2 until a member admits this node: prepare, open the groups, admit.
func (n *Node) completeJoin() {
	defer n.wg.Done()
	req := admitReq{ID: n.ID(), Addr: n.Addr(), RaftID: n.raftID}
	n.fileMu.Lock()
	vias := append([]string(nil), n.dd.File.JoinVia...)
	joinShards := append([]uint32(nil), n.dd.File.JoinShards...)
	n.fileMu.Unlock()
	prep := req
	prep.Prepare = true
	if _, ok := n.callMembers(vias, "prepare", prep); !ok {
		return
	}
	if err := n.openGroups(nil, joinShards); err != nil {
		n.log.Error("join: open groups", "err", err)
		return
	}
	out, ok := n.callMembers(vias, "admission", req)
	if !ok {
		return
	}
	if p, err := shard.UnmarshalPlacement(out); err == nil {
		if err := n.openGroups(p, joinShards); err != nil {
			n.log.Error("join: open groups", "err", err)
		}
	}
	n.fileMu.Lock()
	n.dd.File.JoinVia, n.dd.File.JoinShards = nil, nil
	if err := n.dd.Save(); err != nil {
		n.log.Error("save node.json", "err", err)
	}
	n.fileMu.Unlock()
	n.log.Info("joined the cluster", "raft_id", n.raftID)
}

// callMembers sends a join commit request to the members in turn until one succeeds; false when the node
// closes first.
func (n *Node) callMembers(vias []string, what string, req admitReq) ([]byte, bool) {
	body, _ := json.Marshal(req)
	for {
		for _, via := range vias {
			ctx, cancel := context.WithTimeout(n.ctx, 90*time.Second)
			out, err := n.rpcCli.Call(ctx, via, methodJoinCommit, body)
			cancel()
			if err != nil {
				n.log.Warn("join: "+what+" failed, will retry", "via", via, "err", err)
				continue
			}
			return out, true
		}
		select {
		case <-n.ctx.Done():
			return nil, false
		case <-time.After(time.Second):
		}
	}
}

func validNodeID(id string) error {
	if id == "" || len(id) > 64 {
		return fmt.Errorf("node id %q: 1..64 characters required", id)
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return fmt.Errorf("node id %q: only letters, digits, '-', '_', '.'", id)
		}
	}
	return nil
}
