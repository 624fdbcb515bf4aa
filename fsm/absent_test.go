package fsm

import (
	"bytes"
	"encoding/binary"
	"io"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/hashicorp/raft"
)

// TestAbsentFilterNoFalseNegatives: every added key stays a member through the layers' growth, few absent keys
// are taken for members, and keys outside the prefixes (or before a build) are never ruled out.
func TestAbsentFilterNoFalseNegatives(t *testing.T) {
	f := absentFilter{prefixes: []string{"r"}}
	key := func(i uint64) []byte { return binary.BigEndian.AppendUint64([]byte("r"), i*0x9e3779b97f4a7c15) }
	if f.excludes(key(1)) {
		t.Fatal("an unbuilt filter ruled a key out")
	}
	f.built = true
	const n = 100_000 // several layers
	for i := range uint64(n) {
		f.add(string(key(i)))
	}
	if len(f.layers) < 3 {
		t.Fatalf("%d layers for %d keys", len(f.layers), n)
	}
	for i := range uint64(n) {
		if f.excludes(key(i)) {
			t.Fatalf("key %d was added but is ruled out", i)
		}
	}
	fp := 0
	for i := uint64(n); i < 2*n; i++ {
		if !f.excludes(key(i)) {
			fp++
		}
	}
	if fp > n/20 {
		t.Errorf("%d false positives in %d absent keys", fp, n)
	}
	if f.excludes([]byte("x-not-filtered")) {
		t.Error("a key outside the prefixes was ruled out")
	}
	f.off()
	if f.excludes(key(n + 1)) {
		t.Error("a filter switched off ruled a key out")
	}
}

// filteredKV is the KV Applier with the absent-key filter on for keys starting with "k".
type filteredKV struct{ Applier }

func (filteredKV) AbsentKeyPrefixes() [][]byte { return [][]byte{[]byte("k")} }

// TestAbsentFilterAfterRestoreAndDrop: a key that arrives by snapshot restore is found by the next Get (the
// filter is rebuilt from what the restore wrote), and a dropped shard forgets its keys; in one batch, a key put
// by an earlier entry is found by a later one.
func TestAbsentFilterAfterRestoreAndDrop(t *testing.T) {
	src := openState(t, vfs.NewMem(), "src")
	defer src.Close()
	dst := openState(t, vfs.NewMem(), "dst")
	defer dst.Close()
	for _, st := range []*State{src, dst} {
		for _, typ := range []CommandType{TypeKVPut, TypeKVGet} {
			st.Register(typ, filteredKV{st.applier(typ)})
		}
	}
	get := func(k string) Command { return Command{Type: TypeKVGet, Time: 1000, Payload: EncodeKVGet([]byte(k))} }
	found := func(r Result) bool {
		t.Helper()
		if r.Err != nil {
			t.Fatalf("get: %v", r.Err)
		}
		_, ok := DecodeKVGetResult(r.Value)
		return ok
	}
	applyAll(t, src.Shard(1), []*raft.Log{entry(t, 1, put("k1", "v"))})
	r := applyAll(t, dst.Shard(1), []*raft.Log{entry(t, 1, get("k1")), entry(t, 2, put("k2", "v"), get("k2"))})
	if found(r[0].Results[0]) || !found(r[1].Results[1]) {
		t.Fatalf("before restore: %s / %s", resultsString(r[0]), resultsString(r[1]))
	}
	if err := dst.Shard(1).Restore(io.NopCloser(bytes.NewReader(persist(t, src.Shard(1))))); err != nil {
		t.Fatal(err)
	}
	r = applyAll(t, dst.Shard(1), []*raft.Log{entry(t, 2, get("k1"), get("k2"))})
	if !found(r[0].Results[0]) || found(r[0].Results[1]) {
		t.Fatalf("after restore: %s", resultsString(r[0]))
	}
	if err := dst.DropShard(1); err != nil {
		t.Fatal(err)
	}
	r = applyAll(t, dst.Shard(1), []*raft.Log{entry(t, 1, get("k1"), put("k3", "v"), get("k3"))})
	if found(r[0].Results[0]) || !found(r[0].Results[2]) {
		t.Fatalf("after drop: %s", resultsString(r[0]))
	}
}

func TestPrefixEnd(t *testing.T) {
	for _, c := range []struct{ in, want []byte }{
		{[]byte("ab"), []byte("ac")},
		{[]byte{'a', 0xff}, []byte("b")},
		{[]byte{0xff, 0xff}, nil},
		{nil, nil},
	} {
		if got := PrefixEnd(c.in); !bytes.Equal(got, c.want) || (got == nil) != (c.want == nil) {
			t.Errorf("PrefixEnd(%x) = %x, want %x", c.in, got, c.want)
		}
	}
	p := []byte("ab")
	_ = PrefixEnd(p)
	if string(p) != "ab" {
		t.Error("PrefixEnd changed its argument")
	}
}
