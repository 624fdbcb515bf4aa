package node

import (
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/raftgram/raftgram/shard"
)

// FormatStatus renders ClusterStatus as the `raftgram status` table: the nodes, then one row per group with
// its leader, term, commit index and each replica's applied index and lag (leader commit - replica applied).
func FormatStatus(st []NodeStatus) string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NODE\tADDR\tREADY\tERROR")
	for _, n := range st {
		fmt.Fprintf(w, "%s\t%s\t%v\t%s\n", n.ID, n.Addr, n.Ready, n.Error)
	}
	w.Flush()
	b.WriteString("\n")
	type rep struct {
		node string
		gs   shard.GroupStatus
	}
	groups := map[uint32][]rep{}
	for _, n := range st {
		for _, g := range n.Groups {
			groups[g.Group] = append(groups[g.Group], rep{n.ID, g})
		}
	}
	ids := make([]uint32, 0, len(groups))
	for id := range groups {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	w = tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "GROUP\tLEADER\tTERM\tCOMMIT\tREPLICAS (applied/lag)")
	for _, id := range ids {
		reps := groups[id]
		var leader string
		var term, commit uint64
		for _, r := range reps {
			if r.gs.State == "Leader" {
				leader, term, commit = r.node, r.gs.Term, r.gs.CommitIndex
			}
		}
		if leader == "" && len(reps) > 0 {
			leader, term = "?"+reps[0].gs.LeaderID, reps[0].gs.Term
		}
		var parts []string
		for _, r := range reps {
			lag := int64(commit) - int64(r.gs.AppliedIndex)
			if commit == 0 {
				lag = 0
			}
			parts = append(parts, fmt.Sprintf("%s:%d/%d", r.node, r.gs.AppliedIndex, lag))
		}
		name := fmt.Sprint(id)
		if id == shard.MetaGroup {
			name = "meta"
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%s\n", name, leader, term, commit, strings.Join(parts, " "))
	}
	w.Flush()
	return b.String()
}
