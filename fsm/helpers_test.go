package fsm

import (
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/hashicorp/raft"
)

func openState(t testing.TB, fs vfs.FS, dir string) *State {
	t.Helper()
	st, err := Open(dir, Options{FS: fs, OnFatal: func(err error) { t.Errorf("fatal: %v", err) }})
	if err != nil {
		t.Fatal(err)
	}
	registerTestAppliers(st)
	return st
}

// Test command types.
const (
	typeIncr CommandType = 100 // increments "counter", records "seen/<index>/<n>"; fails if already seen
	typeFail CommandType = 101 // writes, then fails: the write must vanish
)

func registerTestAppliers(st *State) {
	st.Register(typeIncr, ApplierFunc(func(tx *Tx, cmd Command) ([]byte, error) {
		seen := []byte("seen/" + string(cmd.Payload))
		if _, ok, err := tx.Get(seen); err != nil || ok {
			return nil, &ApplyError{Code: "REAPPLIED", Msg: string(cmd.Payload)}
		}
		v, _, err := tx.Get([]byte("counter"))
		if err != nil {
			return nil, err
		}
		var n uint64
		if len(v) == 8 {
			n = binary.BigEndian.Uint64(v)
		}
		n++
		out := binary.BigEndian.AppendUint64(nil, n)
		if err := tx.Set([]byte("counter"), out); err != nil {
			return nil, err
		}
		return out, tx.Set(seen, binary.BigEndian.AppendUint64(nil, uint64(cmd.Time)))
	}))
	st.Register(typeFail, ApplierFunc(func(tx *Tx, cmd Command) ([]byte, error) {
		if err := tx.Set([]byte("fail-wrote"), cmd.Payload); err != nil {
			return nil, err
		}
		return nil, &ApplyError{Code: "NOPE"}
	}))
}

func entry(t testing.TB, index uint64, cmds ...Command) *raft.Log {
	t.Helper()
	data, err := EncodeBatch(cmds)
	if err != nil {
		t.Fatal(err)
	}
	return &raft.Log{Index: index, Term: 1, Type: raft.LogCommand, Data: data}
}

func put(k, v string) Command {
	return Command{Type: TypeKVPut, Time: 1000, Payload: EncodeKVPut([]byte(k), []byte(v))}
}

// dump lists every key/value of a shard's whole range, meta included.
func dump(t testing.TB, st *State, shard uint32) []string {
	t.Helper()
	lo, hi := shardBounds(shard)
	it, err := st.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var out []string
	for ok := it.First(); ok; ok = it.Next() {
		out = append(out, fmt.Sprintf("%x=%x", it.Key(), it.Value()))
	}
	return out
}

func applyAll(t testing.TB, sm *ShardFSM, logs []*raft.Log) []*EntryResult {
	t.Helper()
	var out []*EntryResult
	for _, r := range sm.ApplyBatch(logs) {
		out = append(out, r.(*EntryResult))
	}
	return out
}
