package shard

import (
	"testing"
)

// TestOfIsPinned: the partition function is persistent data; these values must never change.
func TestOfIsPinned(t *testing.T) {
	got := []uint32{Of(0, 6), Of(1, 6), Of(42, 6), Of(-7, 6), Of(1<<40, 1024), Of(123456789, 16), Of(5, 1)}
	want := pinned
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Of changed: got %v want %v", got, want)
		}
	}
}

func TestOfSpreads(t *testing.T) {
	const n = 8
	counts := make([]int, n)
	for id := int64(1); id <= 80000; id++ {
		counts[Of(id, n)]++
	}
	for s, c := range counts {
		if c < 9000 || c > 11000 {
			t.Fatalf("shard %d got %d of 80000 ids: %v", s, c, counts)
		}
	}
	if Of(5, 0) != 0 || Of(5, MaxShards+1) != 0 {
		t.Fatal("out-of-range shard counts must map to 0")
	}
}

func TestPlacement(t *testing.T) {
	nodes := []NodeInfo{{"n3", "c"}, {"n1", "a"}, {"n2", "b"}}
	p, err := NewPlacement(6, nodes)
	if err != nil {
		t.Fatal(err)
	}
	lead := map[string]int{}
	for s := uint32(0); s < 6; s++ {
		for _, n := range []string{"n1", "n2", "n3"} {
			if !p.Holds(n, s) {
				t.Fatalf("3 nodes: %s must hold shard %d", n, s)
			}
		}
		lead[p.Preferred(s)]++
	}
	for _, n := range []string{"n1", "n2", "n3"} {
		if lead[n] != 2 {
			t.Fatalf("preferred leaders not spread: %v", lead)
		}
	}
	q := p.WithNode(NodeInfo{"n4", "d"})
	held := 0
	for s := uint32(0); s < 6; s++ {
		if len(q.Replicas[s]) != 3 {
			t.Fatalf("shard %d: %v", s, q.Replicas[s])
		}
		if q.Holds("n4", s) {
			held++
		}
	}
	if held != 18/4 {
		t.Fatalf("a 4th node takes its fair share of replicas: holds %d, want %d", held, 18/4)
	}
	r := p.WithoutNode("n2")
	for s := uint32(0); s < 6; s++ {
		if r.Holds("n2", s) || len(r.Replicas[s]) != 2 {
			t.Fatalf("remove: %v", r.Replicas)
		}
	}
	back := r.WithNode(NodeInfo{"n5", "e"})
	for s := uint32(0); s < 6; s++ {
		if !back.Holds("n5", s) {
			t.Fatalf("replacement node must fill the missing replica of shard %d", s)
		}
	}
	b, _ := back.Marshal()
	dec, err := UnmarshalPlacement(b)
	if err != nil || len(dec.Nodes) != 3 {
		t.Fatalf("round trip: %v %v", dec, err)
	}
	if _, err := UnmarshalPlacement([]byte(`{"shards":2,"replicas":[[]]}`)); err == nil {
		t.Fatal("inconsistent placement accepted")
	}
	single, _ := NewPlacement(3, []NodeInfo{{"dev", "x"}})
	if single.Preferred(2) != "dev" || len(single.Replicas[2]) != 1 {
		t.Fatalf("single node placement: %v", single.Replicas)
	}
}

var pinned = []uint32{1, 0, 3, 5, 794, 9, 0}

// TestPlacementGrownByJoinsSpreadsLeaders: a cluster built by init + joins ends with the same spread of
// preferred leaders as one placed at once.
func TestPlacementGrownByJoinsSpreadsLeaders(t *testing.T) {
	p, _ := NewPlacement(6, []NodeInfo{{"n1", "a"}})
	p = p.WithNode(NodeInfo{"n2", "b"}).WithNode(NodeInfo{"n3", "c"})
	lead := map[string]int{}
	for s := uint32(0); s < 6; s++ {
		lead[p.Preferred(s)]++
	}
	if lead["n1"] != 2 || lead["n2"] != 2 || lead["n3"] != 2 {
		t.Fatalf("preferred leaders after joins: %v (%v)", lead, p.Replicas)
	}
}

// TestPlacementSpreadsOverLargerClusters: joins beyond the replication factor take over replicas, so that each
// node holds about shards*3/nodes of them and every shard keeps exactly 3.
func TestPlacementSpreadsOverLargerClusters(t *testing.T) {
	p, _ := NewPlacement(12, []NodeInfo{{"n1", "a"}})
	for _, id := range []string{"n2", "n3", "n4", "n5"} {
		p = p.WithNode(NodeInfo{id, id})
	}
	load := map[string]int{}
	for s, rs := range p.Replicas {
		if len(rs) != ReplicationFactor {
			t.Fatalf("shard %d has %d replicas", s, len(rs))
		}
		seen := map[string]bool{}
		for _, r := range rs {
			if seen[r] {
				t.Fatalf("shard %d lists %s twice", s, r)
			}
			seen[r] = true
			load[r]++
		}
	}
	for id, n := range load {
		if n < 36/5 || n > 36/5+2 {
			t.Fatalf("node %s holds %d of 36 replicas: %v", id, n, load)
		}
	}
	lead := map[string]int{}
	for s := uint32(0); s < 12; s++ {
		lead[p.Preferred(s)]++
	}
	if len(lead) < 4 {
		t.Fatalf("preferred leaders on %d nodes only: %v", len(lead), lead)
	}
}

func TestRaftIDCarriesIncarnation(t *testing.T) {
	for _, c := range []struct{ id, inc, raft string }{
		{"n3", "0123456789abcdef", "n3~0123456789abcdef"},
		{"n3", "", "n3"}, // data dirs from before incarnations
		{"node-1.a_b", "ff", "node-1.a_b~ff"},
	} {
		if got := RaftID(c.id, c.inc); got != c.raft {
			t.Fatalf("RaftID(%q, %q) = %q, want %q", c.id, c.inc, got, c.raft)
		}
		if got := NodeOf(c.raft); got != c.id {
			t.Fatalf("NodeOf(%q) = %q, want %q", c.raft, got, c.id)
		}
	}
}
