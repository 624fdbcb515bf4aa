package fsm

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/hashicorp/raft"
)

// memSink is a raft.SnapshotSink into memory.
type memSink struct {
	bytes.Buffer
	closed, cancelled bool
}

func (s *memSink) ID() string    { return "mem" }
func (s *memSink) Cancel() error { s.cancelled = true; return nil }
func (s *memSink) Close() error  { s.closed = true; return nil }

func persist(t *testing.T, sm *ShardFSM) []byte {
	t.Helper()
	snap, err := sm.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Release()
	var sink memSink
	if err := snap.Persist(&sink); err != nil {
		t.Fatal(err)
	}
	if !sink.closed || sink.cancelled {
		t.Fatal("sink not closed")
	}
	return sink.Bytes()
}

// TestSnapshotRestore: a restored shard equals the source shard key for key (meta and applied index included),
// the target's other shards are untouched, and the snapshot is a point in time (later applies not in it).
func TestSnapshotRestore(t *testing.T) {
	src := openState(t, vfs.NewMem(), "src")
	defer src.Close()
	logs := randomLog(t, 11, 200)
	// Values big enough to need several frames.
	big := bytes.Repeat([]byte("v"), 5000)
	for i := 0; i < 40; i++ {
		logs = append(logs, entry(t, uint64(201+i), Command{Type: TypeKVPut, Payload: EncodeKVPut([]byte{'b', byte(i)}, big)}))
	}
	applyAll(t, src.Shard(5), logs)
	want := dump(t, src, 5)

	snap, err := src.Shard(5).Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	applyAll(t, src.Shard(5), []*raft.Log{entry(t, 241, put("after-snapshot", "1"))})
	var sink memSink
	if err := snap.Persist(&sink); err != nil {
		t.Fatal(err)
	}
	snap.Release()
	stream := sink.Bytes()

	dst := openState(t, vfs.NewMem(), "dst")
	defer dst.Close()
	applyAll(t, dst.Shard(4), []*raft.Log{entry(t, 1, put("neighbour", "4"))})
	applyAll(t, dst.Shard(6), []*raft.Log{entry(t, 1, put("neighbour", "6"))})
	applyAll(t, dst.Shard(5), []*raft.Log{entry(t, 1, put("stale", "x")), entry(t, 2, put("zzz", "x"))})
	n4, n6 := dump(t, dst, 4), dump(t, dst, 6)

	if err := dst.Shard(5).Restore(io.NopCloser(bytes.NewReader(stream))); err != nil {
		t.Fatal(err)
	}
	if got := dump(t, dst, 5); !reflect.DeepEqual(got, want) {
		t.Fatalf("restored shard differs: %d keys vs %d", len(got), len(want))
	}
	if dst.Shard(5).AppliedIndex() != 240 {
		t.Fatalf("applied after restore %d", dst.Shard(5).AppliedIndex())
	}
	if !reflect.DeepEqual(dump(t, dst, 4), n4) || !reflect.DeepEqual(dump(t, dst, 6), n6) {
		t.Fatal("neighbour shards changed")
	}
	// A restored replica continues like the source.
	next := entry(t, 241, put("after-snapshot", "1"))
	applyAll(t, dst.Shard(5), []*raft.Log{next})
	if !reflect.DeepEqual(dump(t, dst, 5), dump(t, src, 5)) {
		t.Fatal("replicas diverge after restore")
	}
}

func TestDropShard(t *testing.T) {
	st := openState(t, vfs.NewMem(), "s")
	defer st.Close()
	applyAll(t, st.Shard(1), randomLog(t, 2, 30))
	applyAll(t, st.Shard(2), randomLog(t, 3, 30))
	other := dump(t, st, 2)
	if err := st.DropShard(1); err != nil {
		t.Fatal(err)
	}
	if len(dump(t, st, 1)) != 0 || st.Shard(1).AppliedIndex() != 0 {
		t.Fatal("shard not dropped")
	}
	if !reflect.DeepEqual(dump(t, st, 2), other) {
		t.Fatal("other shard changed")
	}
}

func TestRestoreRejectsBadStreams(t *testing.T) {
	src := openState(t, vfs.NewMem(), "src")
	defer src.Close()
	applyAll(t, src.Shard(1), randomLog(t, 5, 60))
	stream := persist(t, src.Shard(1))

	dst := openState(t, vfs.NewMem(), "dst")
	defer dst.Close()
	applyAll(t, dst.Shard(1), []*raft.Log{entry(t, 1, put("keep", "me"))})
	before := dump(t, dst, 1)
	flip := func(i int) []byte {
		b := append([]byte(nil), stream...)
		b[i] ^= 0x40
		return b
	}
	for name, bad := range map[string][]byte{
		"truncated": stream[:len(stream)-3],
		"magic":     flip(0),
		"body bit":  flip(len(stream) / 2),
		"empty":     nil,
		"no end":    stream[:len(snapMagic)+20],
		"end count": flip(len(stream) - 1),
	} {
		if err := dst.Shard(1).Restore(io.NopCloser(bytes.NewReader(bad))); !errors.Is(err, ErrBadSnapshot) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	if err := dst.Shard(2).Restore(io.NopCloser(bytes.NewReader(stream))); !errors.Is(err, ErrBadSnapshot) {
		t.Errorf("wrong shard: %v", err)
	}
	if !reflect.DeepEqual(dump(t, dst, 1), before) || dst.Shard(1).AppliedIndex() != 1 {
		t.Fatal("failed restore changed the shard")
	}
}

// FuzzRestore: hostile snapshot streams never panic, and a rejected stream leaves the shard as it was.
func FuzzRestore(f *testing.F) {
	src, err := Open("src", Options{FS: vfs.NewMem()})
	if err != nil {
		f.Fatal(err)
	}
	defer src.Close()
	src.Shard(1).ApplyBatch([]*raft.Log{entry(f, 1, put("a", "1"), put("b", "2"))})
	snap, _ := src.Shard(1).Snapshot()
	var sink memSink
	_ = snap.Persist(&sink)
	snap.Release()
	f.Add(sink.Bytes())
	f.Add([]byte(snapMagic + "\x00\x00\x00\x01"))
	dst, err := Open("dst", Options{FS: vfs.NewMem()})
	if err != nil {
		f.Fatal(err)
	}
	defer dst.Close()
	f.Fuzz(func(t *testing.T, data []byte) {
		before := dump(t, dst, 1)
		if err := dst.Shard(1).Restore(io.NopCloser(bytes.NewReader(data))); err != nil {
			if !reflect.DeepEqual(dump(t, dst, 1), before) {
				t.Fatal("failed restore changed the shard")
			}
		}
	})
}
