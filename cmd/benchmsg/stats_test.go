package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, 50 * time.Millisecond}, {99, 99 * time.Millisecond}, {100, 100 * time.Millisecond}, {1, time.Millisecond}} {
		if got := percentile(ds, c.p); got != c.want {
			t.Errorf("p%v = %v, want %v", c.p, got, c.want)
		}
	}
	if percentile(nil, 50) != 0 {
		t.Error("empty")
	}
	if ds[0] != 100*time.Millisecond {
		t.Error("percentile sorted its input in place")
	}
}

func TestPrintTable(t *testing.T) {
	var b bytes.Buffer
	printTable(&b, []result{{pairs: 10, elapsed: 2 * time.Second, acked: 5000, ack: []time.Duration{time.Millisecond},
		push: []time.Duration{3 * time.Millisecond}}})
	if !strings.Contains(b.String(), "2500.0") || !strings.Contains(b.String(), "3.00") {
		t.Fatalf("table:\n%s", b.String())
	}
}

func TestPairUp(t *testing.T) {
	var ms []*member
	for i, s := range []uint32{0, 1, 2, 0, 1, 2, 0, 1} {
		ms = append(ms, &member{id: int64(i), shard: s})
	}
	pairs := pairUp(ms, 4)
	seen := map[int64]bool{}
	for i, p := range pairs {
		for _, m := range p {
			if seen[m.id] {
				t.Fatalf("member %d in two pairs", m.id)
			}
			seen[m.id] = true
		}
		if same := p[0].shard == p[1].shard; same != (i%2 == 0) {
			t.Errorf("pair %d: shards %d and %d", i, p[0].shard, p[1].shard)
		}
	}
	if len(seen) != 8 {
		t.Fatalf("%d members paired", len(seen))
	}
}
