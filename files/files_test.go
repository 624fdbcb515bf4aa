package files

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

func randomPart(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// Every layout decodes from any k of its shards.
func TestCodecAnyKShards(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for nodes := 1; nodes <= MaxShards+2; nodes++ {
		l := LayoutFor(nodes)
		if l.Shards() > min(nodes, MaxShards) || (nodes > 1 && l.M < 1) {
			t.Fatalf("LayoutFor(%d) = %v", nodes, l)
		}
		for _, size := range []int{1, l.K, l.K + 1, 1023, MaxPart} {
			part := randomPart(r, size)
			for trial := range 4 {
				shards, err := encode(part, l)
				if err != nil {
					t.Fatal(err)
				}
				for _, i := range r.Perm(l.Shards())[:l.M] { // lose m shards, a different m each trial
					shards[i] = nil
				}
				got, err := decode(shards, l, size)
				if err != nil || !bytes.Equal(got, part) {
					t.Fatalf("layout %v size %d trial %d: err %v, equal %v", l, size, trial, err, bytes.Equal(got, part))
				}
			}
			shards, _ := encode(part, l)
			for i := range l.M + 1 {
				shards[i] = nil
			}
			if _, err := decode(shards, l, size); !errors.Is(err, errTooFewShards) {
				t.Fatalf("layout %v with %d shards lost: %v", l, l.M+1, err)
			}
		}
	}
}

func TestShardEncoding(t *testing.T) {
	s := &Shard{Key: Key{Owner: 7, File: -3, Part: 12}, Gen: 99, K: 2, M: 1, Index: 2, Size: 5, PartCRC: 0xdeadbeef,
		Data: []byte{1, 2, 3}}
	b := s.Encode(nil)
	got, err := DecodeShard(b)
	if err != nil || got.Key != s.Key || got.Gen != s.Gen || !got.sameWrite(s) || got.Index != 2 || !bytes.Equal(got.Data, s.Data) {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	for i := range b { // every flipped byte is caught by a check or the checksum
		c := bytes.Clone(b)
		c[i] ^= 0x40
		if _, err := DecodeShard(c); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("byte %d flipped: %v", i, err)
		}
	}
	for _, n := range []int{0, 1, len(b) - 1} {
		if _, err := DecodeShard(b[:n]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("cut to %d: %v", n, err)
		}
	}
	bad := *s
	bad.Index = 3
	if _, err := DecodeShard(bad.Encode(nil)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("index out of layout: %v", err)
	}
}

// FuzzDecodeShard: hostile bytes give an error or a shard that re-encodes to the same bytes, never a panic or
// an allocation from a claimed size.
func FuzzDecodeShard(f *testing.F) {
	f.Add((&Shard{Key: Key{1, 2, 3}, Gen: 4, K: 2, M: 1, Index: 0, Size: 3, PartCRC: 5, Data: []byte{1, 2}}).Encode(nil))
	f.Add((&Shard{Key: Key{1, 2, 0}, Gen: 1, K: 1, M: 0, Size: 1, Data: []byte{9}}).Encode(nil))
	f.Add([]byte{shardVersion})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := DecodeShard(b)
		if err != nil {
			return
		}
		if !bytes.Equal(s.Encode(nil), b) {
			t.Fatalf("re-encoding differs")
		}
	})
}

func openLocal(t *testing.T, dir string) *Local {
	t.Helper()
	l, err := OpenLocal(dir, LocalOptions{OnFatal: func(err error) { t.Errorf("fatal: %v", err) }})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestLocalPutShardsTrimReopen(t *testing.T) {
	dir := t.TempDir()
	l := openLocal(t, dir)
	k := Key{Owner: 1, File: 2, Part: 3}
	other := Key{Owner: 1, File: 2, Part: 4}
	enc := func(k Key, gen uint64) []byte {
		return (&Shard{Key: k, Gen: gen, K: 1, M: 1, Index: 0, Size: 2, Data: []byte{byte(gen), 0}}).Encode(nil)
	}
	for g := uint64(1); g <= MaxWritesPerKey; g++ {
		if err := l.Put(enc(k, g)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Put(enc(k, 1)); err != nil { // the same shard again
		t.Fatal(err)
	}
	if err := l.Put(enc(k, 100)); !errors.Is(err, ErrTooManyWrites) {
		t.Fatalf("ninth write: %v", err)
	}
	if err := l.Put(enc(other, 1)); err != nil {
		t.Fatal(err)
	}
	if err := l.Put([]byte("junk")); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("junk: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Put(enc(k, 1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
	l = openLocal(t, dir)
	defer l.Close()
	got, skipped, err := l.Shards(k)
	if err != nil || skipped != 0 || len(got) != MaxWritesPerKey {
		t.Fatalf("after reopen: %d shards, %d skipped, %v", len(got), skipped, err)
	}
	if err := l.Trim(k, 8); err != nil {
		t.Fatal(err)
	}
	got, _, _ = l.Shards(k)
	if s, err := DecodeShard(got[0]); len(got) != 1 || err != nil || s.Gen != 8 {
		t.Fatalf("after trim: %d shards", len(got))
	}
	if got, _, _ := l.Shards(other); len(got) != 1 {
		t.Fatalf("trim reached another part: %d", len(got))
	}
}

// fakeNode is a node's Local behind switches that make it refuse (down) or never answer (hung: a partition).
type fakeNode struct {
	Self
	down atomic.Bool
	hung atomic.Bool
	puts atomic.Int32
}

var errDown = errors.New("node down")

func (n *fakeNode) PutShard(ctx context.Context, b []byte) error {
	n.puts.Add(1)
	if n.hung.Load() {
		<-ctx.Done()
		return ctx.Err()
	}
	if n.down.Load() {
		return errDown
	}
	return n.Self.PutShard(ctx, b)
}

func (n *fakeNode) Shards(ctx context.Context, k Key) ([][]byte, error) {
	if n.hung.Load() {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if n.down.Load() {
		return nil, errDown
	}
	return n.Self.Shards(ctx, k)
}

func (n *fakeNode) Trim(ctx context.Context, k Key, gen uint64) error {
	if n.down.Load() {
		return errDown
	}
	return n.Self.Trim(ctx, k, gen)
}

func cluster(t *testing.T, size int) ([]*fakeNode, *Store) {
	return clusterWith(t, size, StoreOptions{})
}

func clusterWith(t *testing.T, size int, o StoreOptions) ([]*fakeNode, *Store) {
	t.Helper()
	var nodes []*fakeNode
	for i := range size {
		l := openLocal(t, filepath.Join(t.TempDir(), fmt.Sprint(i)))
		t.Cleanup(func() { l.Close() })
		nodes = append(nodes, &fakeNode{Self: Self{NodeID: fmt.Sprint("n", i), Local: l}})
	}
	o.Nodes = func() []Node {
		out := make([]Node, len(nodes))
		for i, n := range nodes {
			out[i] = n
		}
		return out
	}
	s := NewStore(o)
	t.Cleanup(s.Close)
	return nodes, s
}

func (n *fakeNode) writes(t *testing.T, k Key) map[uint64]int {
	t.Helper()
	got, _, err := n.Local.Shards(k)
	if err != nil {
		t.Fatal(err)
	}
	out := map[uint64]int{}
	for _, b := range got {
		s, _ := DecodeShard(b)
		out[s.Gen]++
	}
	return out
}

func mustGet(t *testing.T, s *Store, k Key, want []byte) {
	t.Helper()
	mustGetCtx(t, context.Background(), s, k, want)
}

func mustGetCtx(t *testing.T, ctx context.Context, s *Store, k Key, want []byte) {
	t.Helper()
	got, err := s.Get(ctx, k)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("get %v: %d bytes, equal %v, %v", k, len(got), bytes.Equal(got, want), err)
	}
}

// Invariant 1: an acknowledged part survives the loss of any one node; each node holds one shard of it.
func TestStoreSurvivesAnyOneNode(t *testing.T) {
	ctx := context.Background()
	nodes, s := cluster(t, 3)
	r := rand.New(rand.NewPCG(3, 4))
	parts := map[Key][]byte{}
	for i := range 12 {
		k := Key{Owner: 5, File: 6, Part: int32(i)}
		parts[k] = randomPart(r, 1+r.IntN(MaxPart))
		if err := s.Put(ctx, k, parts[k]); err != nil {
			t.Fatal(err)
		}
		for _, n := range nodes {
			if w := n.writes(t, k); len(w) != 1 {
				t.Fatalf("%s holds %v of %v", n.ID(), w, k)
			}
		}
	}
	for _, dead := range nodes {
		dead.down.Store(true)
		for k, want := range parts {
			mustGet(t, s, k, want)
		}
		dead.down.Store(false)
	}
	if _, err := s.Get(ctx, Key{Owner: 5, File: 6, Part: 99}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing part: %v", err)
	}
	nodes[0].down.Store(true)
	nodes[1].down.Store(true)
	if _, err := s.Get(ctx, Key{Owner: 5, File: 6, Part: 0}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("two nodes down: %v", err)
	}
	if err := s.Put(ctx, Key{Owner: 5, File: 6, Part: 50}, []byte("x")); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("put with one node of three: %v", err)
	}
}

// Invariant 4: with a node down the write becomes a mirror on the other two, which survives the loss of either
// of them once the third is back (without the part).
func TestStoreDegradedWrite(t *testing.T) {
	ctx := context.Background()
	nodes, s := cluster(t, 3)
	k := Key{Owner: 1, File: 1, Part: 0}
	part := []byte("degraded but durable")
	nodes[2].down.Store(true)
	if err := s.Put(ctx, k, part); err != nil {
		t.Fatal(err)
	}
	nodes[2].down.Store(false)
	for _, dead := range nodes[:2] {
		dead.down.Store(true)
		mustGet(t, s, k, part)
		dead.down.Store(false)
	}
}

// Invariant 2: a torn overwrite (the new write stored on one node only, then failed) leaves the acknowledged
// write readable after any one node dies; a complete overwrite wins and trims the old one everywhere.
func TestStoreTornOverwriteKeepsAcknowledged(t *testing.T) {
	ctx := context.Background()
	nodes, s := cluster(t, 3)
	k := Key{Owner: 2, File: 9, Part: 1}
	v1, v2, v3 := bytes.Repeat([]byte("1"), 1000), bytes.Repeat([]byte("2"), 1000), bytes.Repeat([]byte("3"), 999)
	if err := s.Put(ctx, k, v1); err != nil {
		t.Fatal(err)
	}
	nodes[1].down.Store(true)
	nodes[2].down.Store(true)
	if err := s.Put(ctx, k, v2); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("torn write acknowledged: %v", err)
	}
	if w := nodes[0].writes(t, k); len(w) != 2 {
		t.Fatalf("node 0 holds %v: the torn write replaced the acknowledged one", w)
	}
	nodes[1].down.Store(false)
	mustGet(t, s, k, v1) // v2 has one shard of k=2: not decodable
	nodes[2].down.Store(false)
	nodes[1].down.Store(true)
	mustGet(t, s, k, v1)
	nodes[1].down.Store(false)

	if err := s.Put(ctx, k, v3); err != nil {
		t.Fatal(err)
	}
	mustGet(t, s, k, v3)
	s.bg.Wait() // the trims
	for _, n := range nodes {
		if w := n.writes(t, k); len(w) != 1 {
			t.Fatalf("%s holds %v after a complete overwrite", n.ID(), w)
		}
	}
	mustGet(t, s, k, v3)
}

// A node that never answers (a partition, not a refusal): reads do not wait for it (the two others show a whole
// write and nothing newer), and after one write has waited for it, the next writes leave it out (a mirror on
// the two others) instead of waiting again.
func TestStorePastAHungNode(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a read waiting for the hung node fails
	defer cancel()
	nodes, s := clusterWith(t, 3, StoreOptions{Timeout: time.Hour})
	k := Key{Owner: 1, File: 1, Part: 0}
	if err := s.Put(ctx, k, []byte("before the partition")); err != nil {
		t.Fatal(err)
	}
	nodes[1].hung.Store(true)
	mustGetCtx(t, ctx, s, k, []byte("before the partition"))

	_, w := clusterWith(t, 3, StoreOptions{Timeout: 50 * time.Millisecond})
	wn := w.opts.Nodes()
	wn[2].(*fakeNode).hung.Store(true)
	for i := range 5 {
		if err := w.Put(ctx, Key{Owner: 1, File: 2, Part: int32(i)}, []byte("during")); err != nil {
			t.Fatal(err)
		}
	}
	if n := wn[2].(*fakeNode).puts.Load(); n != 1 {
		t.Fatalf("the hung node was asked %d times, want once", n)
	}
	for i := range 5 {
		mustGetCtx(t, ctx, w, Key{Owner: 1, File: 2, Part: int32(i)}, []byte("during"))
	}
}

func TestStoreSingleNode(t *testing.T) {
	nodes, s := cluster(t, 1)
	k := Key{Owner: 1, File: 2, Part: 3}
	if err := s.Put(context.Background(), k, []byte("one")); err != nil {
		t.Fatal(err)
	}
	mustGet(t, s, k, []byte("one"))
	if w := nodes[0].writes(t, k); len(w) != 1 {
		t.Fatalf("%v", w)
	}
	if err := s.Put(context.Background(), k, nil); err == nil {
		t.Fatal("empty part stored")
	}
}

// benchStore is a Store over three nodes' Locals in this process (no network).
func benchStore(b *testing.B) *Store {
	var nodes []Node
	for i := range 3 {
		l, err := OpenLocal(filepath.Join(b.TempDir(), fmt.Sprint(i)), LocalOptions{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { l.Close() })
		nodes = append(nodes, Self{NodeID: fmt.Sprint("n", i), Local: l})
	}
	s := NewStore(StoreOptions{Nodes: func() []Node { return nodes }})
	b.Cleanup(s.Close)
	return s
}

// BenchmarkStorePut: one 512 KiB part (Reed-Solomon 2+1, three synced Pebble writes).
func BenchmarkStorePut(b *testing.B) {
	s := benchStore(b)
	part := randomPart(rand.New(rand.NewPCG(1, 1)), MaxPart)
	b.SetBytes(MaxPart)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := s.Put(context.Background(), Key{Owner: 1, File: 1, Part: int32(i)}, part); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStoreGet reads a 512 KiB part back from its three shards (both data shards present: no
// reconstruction).
func BenchmarkStoreGet(b *testing.B) {
	s := benchStore(b)
	part := randomPart(rand.New(rand.NewPCG(1, 1)), MaxPart)
	k := Key{Owner: 1, File: 1, Part: 0}
	if err := s.Put(context.Background(), k, part); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(MaxPart)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Get(context.Background(), k); err != nil {
			b.Fatal(err)
		}
	}
}
