package shard

import (
	"encoding/json"
	"fmt"
	"sort"
)

// ReplicationFactor is how many nodes hold each shard when the cluster has at least that many nodes.
const ReplicationFactor = 3

// NodeInfo names a cluster member: its stable id and the address of its one TLS port.
type NodeInfo struct {
	ID   string `json:"id"`
	Addr string `json:"addr"`
}

// Placement says which nodes hold which shard. It is data kept in the meta group, not a function of the node
// list, so that adding a node does not silently move shards.
type Placement struct {
	Shards int        `json:"shards"`
	Nodes  []NodeInfo `json:"nodes"`
	// Replicas[s] lists the node ids holding shard s; the order is the leadership preference order.
	Replicas [][]string `json:"replicas"`
}

// NewPlacement spreads n shards over nodes: shard s goes to ReplicationFactor consecutive nodes (sorted by id)
// starting at s mod len(nodes), so both replicas and preferred leaderships are spread evenly.
func NewPlacement(n int, nodes []NodeInfo) (*Placement, error) {
	if n < 1 || n > MaxShards {
		return nil, fmt.Errorf("shard count %d out of range 1..%d", n, MaxShards)
	}
	if len(nodes) == 0 {
		return nil, fmt.Errorf("placement needs at least one node")
	}
	p := &Placement{Shards: n, Nodes: append([]NodeInfo(nil), nodes...)}
	p.sortNodes()
	p.Replicas = make([][]string, n)
	for s := 0; s < n; s++ {
		p.Replicas[s] = p.pick(s)
	}
	return p, nil
}

func (p *Placement) sortNodes() {
	sort.Slice(p.Nodes, func(i, j int) bool { return p.Nodes[i].ID < p.Nodes[j].ID })
}

func (p *Placement) pick(s int) []string {
	k := min(ReplicationFactor, len(p.Nodes))
	out := make([]string, 0, k)
	for i := 0; i < k; i++ {
		out = append(out, p.Nodes[(s+i)%len(p.Nodes)].ID)
	}
	return out
}

// Node returns the node with the given id.
func (p *Placement) Node(id string) (NodeInfo, bool) {
	for _, n := range p.Nodes {
		if n.ID == id {
			return n, true
		}
	}
	return NodeInfo{}, false
}

// Holds reports whether node id holds shard s.
func (p *Placement) Holds(id string, s uint32) bool {
	if int(s) >= len(p.Replicas) {
		return false
	}
	for _, r := range p.Replicas[s] {
		if r == id {
			return true
		}
	}
	return false
}

// Preferred returns the preferred leader of shard s.
func (p *Placement) Preferred(s uint32) string {
	if int(s) >= len(p.Replicas) || len(p.Replicas[s]) == 0 {
		return ""
	}
	return p.Replicas[s][0]
}

// WithNode returns a copy with node added. Shards that have fewer than ReplicationFactor replicas gain the
// new node; then, while the new node holds fewer replicas than its fair share (total replicas / nodes, rounded
// down), it takes over a replica from the node that holds the most, so a 5- or 7-node cluster spreads its shards.
// Each take-over is one shard moving one replica: the caller adds the new voter before removing the old one.
func (p *Placement) WithNode(n NodeInfo) *Placement {
	q := p.clone()
	if _, ok := q.Node(n.ID); ok {
		for i := range q.Nodes {
			if q.Nodes[i].ID == n.ID {
				q.Nodes[i].Addr = n.Addr
			}
		}
		return q
	}
	q.Nodes = append(q.Nodes, n)
	q.sortNodes()
	for s := range q.Replicas {
		if len(q.Replicas[s]) < ReplicationFactor {
			q.Replicas[s] = append(q.Replicas[s], n.ID)
		}
	}
	q.spreadTo(n.ID)
	q.orderReplicas()
	return q
}

// spreadTo moves replicas to node id until it holds its fair share. Deterministic: shards in order, the most
// loaded holder (ties: lowest id) gives up its replica.
func (p *Placement) spreadTo(id string) {
	load := map[string]int{}
	total := 0
	for _, rs := range p.Replicas {
		for _, r := range rs {
			load[r]++
			total++
		}
	}
	fair := total / len(p.Nodes)
	for s := range p.Replicas {
		if load[id] >= fair {
			return
		}
		if p.Holds(id, uint32(s)) {
			continue
		}
		victim := ""
		for _, r := range p.Replicas[s] {
			if load[r] > load[id]+1 && (victim == "" || load[r] > load[victim] || load[r] == load[victim] && r < victim) {
				victim = r
			}
		}
		if victim == "" {
			continue
		}
		for i, r := range p.Replicas[s] {
			if r == victim {
				p.Replicas[s][i] = id
			}
		}
		load[victim]--
		load[id]++
	}
}

// WithoutNode returns a copy with node id removed from the node list and from every shard.
func (p *Placement) WithoutNode(id string) *Placement {
	q := p.clone()
	nodes := q.Nodes[:0]
	for _, n := range q.Nodes {
		if n.ID != id {
			nodes = append(nodes, n)
		}
	}
	q.Nodes = nodes
	for s, rs := range q.Replicas {
		out := rs[:0]
		for _, r := range rs {
			if r != id {
				out = append(out, r)
			}
		}
		q.Replicas[s] = out
	}
	q.orderReplicas()
	return q
}

// orderReplicas sorts each shard's replicas into leadership preference order: by node position (sorted ids)
// rotated by the shard number, so that preferred leaderships stay spread as nodes come and go.
func (p *Placement) orderReplicas() {
	pos := map[string]int{}
	for i, n := range p.Nodes {
		pos[n.ID] = i
	}
	nn := len(p.Nodes)
	if nn == 0 {
		return
	}
	for s, rs := range p.Replicas {
		rank := func(id string) int { return ((pos[id]-s)%nn + nn) % nn }
		sort.SliceStable(rs, func(i, j int) bool { return rank(rs[i]) < rank(rs[j]) })
	}
}

func (p *Placement) clone() *Placement {
	q := &Placement{Shards: p.Shards, Nodes: append([]NodeInfo(nil), p.Nodes...)}
	q.Replicas = make([][]string, len(p.Replicas))
	for i, r := range p.Replicas {
		q.Replicas[i] = append([]string(nil), r...)
	}
	return q
}

// Marshal encodes the placement for the meta group.
func (p *Placement) Marshal() ([]byte, error) { return json.Marshal(p) }

// UnmarshalPlacement decodes a placement written by Marshal.
func UnmarshalPlacement(b []byte) (*Placement, error) {
	var p Placement
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("decode placement: %w", err)
	}
	if p.Shards < 1 || p.Shards > MaxShards || len(p.Replicas) != p.Shards {
		return nil, fmt.Errorf("decode placement: %d shards with %d replica lists", p.Shards, len(p.Replicas))
	}
	return &p, nil
}
