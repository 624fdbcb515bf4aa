package shard

import (
	"sort"
	"time"

	"github.com/hashicorp/raft"
)

// GroupStatus is one replica's view of its group.
type GroupStatus struct {
	Group        uint32   `json:"group"`
	Meta         bool     `json:"meta,omitempty"`
	State        string   `json:"state"`
	Term         uint64   `json:"term"`
	LeaderID     string   `json:"leader_id"` // node id
	LeaderRaftID string   `json:"leader_raft_id,omitempty"`
	LeaderAddr   string   `json:"leader_addr"`
	CommitIndex  uint64   `json:"commit_index"`
	AppliedIndex uint64   `json:"applied_index"` // handed to the FSM (raft's applied index)
	LastIndex    uint64   `json:"last_index"`
	Voters       []string `json:"voters"`                // node ids
	RaftVoters   []string `json:"raft_voters,omitempty"` // raft server ids (node id ~ incarnation)
}

// Status reports every open group.
func (m *Manager) Status() []GroupStatus {
	gs := m.Groups()
	out := make([]GroupStatus, 0, len(gs))
	for _, g := range gs {
		out = append(out, g.Status())
	}
	return out
}

// Status reports this replica's view.
func (g *Group) Status() GroupStatus {
	addr, id := g.r.LeaderWithID()
	st := GroupStatus{
		Group: g.id, Meta: g.id == MetaGroup, State: g.r.State().String(), Term: g.r.CurrentTerm(),
		LeaderID: NodeOf(string(id)), LeaderRaftID: string(id), LeaderAddr: string(addr), CommitIndex: g.r.CommitIndex(),
		AppliedIndex: max(g.sm.applied.Load(), g.r.AppliedIndex()), LastIndex: g.r.LastIndex(),
	}
	if f := g.r.GetConfiguration(); f.Error() == nil {
		for _, s := range f.Configuration().Servers {
			if s.Suffrage == raft.Voter {
				st.Voters = append(st.Voters, NodeOf(string(s.ID)))
				st.RaftVoters = append(st.RaftVoters, string(s.ID))
			}
		}
		sort.Strings(st.Voters)
		sort.Strings(st.RaftVoters)
	}
	return st
}

// balanceLoop moves leaderships to their preferred node (DESIGN.md invariant 7).
func (m *Manager) balanceLoop() {
	defer m.wg.Done()
	t := time.NewTicker(m.opts.BalanceInterval)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
		}
		m.balanceOnce()
	}
}

func (m *Manager) balanceOnce() {
	p := m.Placement()
	if p == nil {
		return
	}
	now := m.opts.Clock()
	for _, g := range m.Groups() {
		select {
		case <-m.stop:
			return
		default:
		}
		if g.r.State() != raft.Leader || now.Before(g.balanceAfter) {
			continue
		}
		want, wantRaft := m.preferred(p, g)
		if want == "" || want == m.opts.NodeID {
			continue
		}
		n, ok := p.Node(want)
		if !ok {
			continue
		}
		err := g.r.LeadershipTransferToServer(raft.ServerID(wantRaft), raft.ServerAddress(n.Addr)).Error()
		if err != nil {
			// The preferred node is down or behind: leave the leadership here for a while.
			g.balanceAfter = now.Add(10 * m.opts.BalanceInterval)
			m.log.Debug("leadership transfer failed", "group", g.id, "to", want, "err", err)
			continue
		}
		m.log.Info("leadership transferred", "group", g.id, "to", want)
	}
}

// preferred is the first voter of the group in placement order (shard groups) or node order (meta group): its
// node id and raft server ID.
func (m *Manager) preferred(p *Placement, g *Group) (string, string) {
	var order []string
	if g.id == MetaGroup {
		for _, n := range p.Nodes {
			order = append(order, n.ID)
		}
	} else if int(g.id) < len(p.Replicas) {
		order = p.Replicas[g.id]
	}
	f := g.r.GetConfiguration()
	if f.Error() != nil {
		return "", ""
	}
	voters := map[string]string{}
	for _, s := range f.Configuration().Servers {
		if s.Suffrage == raft.Voter {
			voters[NodeOf(string(s.ID))] = string(s.ID)
		}
	}
	for _, id := range order {
		if r, ok := voters[id]; ok {
			return id, r
		}
	}
	return "", ""
}
