package authkeys

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftgram/raftgram/fsm"
	"github.com/raftgram/raftgram/gateway/handshake"
)

func openState(t *testing.T) *fsm.State {
	t.Helper()
	st, err := fsm.Open(t.TempDir(), fsm.Options{OnFatal: func(err error) { t.Errorf("fatal: %v", err) }})
	if err != nil {
		t.Fatal(err)
	}
	for typ, a := range Appliers() {
		st.Register(typ, a)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func testKey(id int64, temp bool, fill byte) handshake.AuthKey {
	k := handshake.AuthKey{ID: id, Temp: temp, DC: 2, CreatedAt: time.UnixMilli(1_700_000_000_123)}
	if temp {
		k.ExpiresAt = time.UnixMilli(1_700_003_600_000)
	}
	for i := range k.Key {
		k.Key[i] = fill + byte(i)
	}
	return k
}

func cmd(payload []byte) fsm.Command { return fsm.Command{Type: TypeV1, Time: 1000, Payload: payload} }

// applyEntries applies cmds as raft entries starting at index, grouped into ApplyBatch calls of the given
// sizes (one command per entry), and returns each command's result.
func applyEntries(t *testing.T, sm *fsm.ShardFSM, index uint64, cmds []fsm.Command, group int) []fsm.Result {
	t.Helper()
	var out []fsm.Result
	for start := 0; start < len(cmds); start += group {
		var logs []*raft.Log
		for i := start; i < min(start+group, len(cmds)); i++ {
			logs = append(logs, &raft.Log{Index: index + uint64(i), Term: 1, Type: raft.LogCommand,
				Data: fsm.EncodeCommand(cmds[i])})
		}
		for _, r := range sm.ApplyBatch(logs) {
			er := r.(*fsm.EntryResult)
			if er.Err != nil {
				t.Fatalf("entry %d: %v", er.Index, er.Err)
			}
			out = append(out, er.Results...)
		}
	}
	return out
}

func errCode(r fsm.Result) string {
	var ae *fsm.ApplyError
	if errors.As(r.Err, &ae) {
		return ae.Code
	}
	if r.Err != nil {
		return r.Err.Error()
	}
	return ""
}

func readKey(t *testing.T, st *fsm.State, s uint32, id int64) (handshake.AuthKey, bool) {
	t.Helper()
	v, ok, err := st.Read(s, Key(id))
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		return handshake.AuthKey{}, false
	}
	k, err := DecodeRecord(id, v)
	if err != nil {
		t.Fatal(err)
	}
	return k, true
}

// TestApplierOps: every op's effect and deterministic rejection.
func TestApplierOps(t *testing.T) {
	st := openState(t)
	sm := st.Shard(0)
	perm, temp := testKey(11, false, 1), testKey(22, true, 2)
	other := testKey(11, false, 9) // same id, other key bytes
	cmds := []fsm.Command{
		cmd(EncodePut(perm)),         // 0 ok
		cmd(EncodePut(perm)),         // 1 the same key again: no-op
		cmd(EncodePut(other)),        // 2 KEY_EXISTS
		cmd(EncodePut(temp)),         // 3 ok
		cmd(EncodeBind(22, 11)),      // 4 ok
		cmd(EncodeBind(22, 11)),      // 5 same binding: ok
		cmd(EncodeBind(22, 33)),      // 6 TEMP_AUTH_KEY_ALREADY_BOUND
		cmd(EncodeBind(11, 22)),      // 7 KEY_NOT_TEMPORARY
		cmd(EncodeBind(44, 11)),      // 8 KEY_NOT_FOUND
		cmd(EncodeSetUser(11, 777)),  // 9 ok
		cmd(EncodeSetUser(22, 777)),  // 10 KEY_TEMPORARY
		cmd(EncodeSetUser(44, 777)),  // 11 KEY_NOT_FOUND
		cmd(EncodeGet(11)),           // 12 record
		cmd(EncodeGet(44)),           // 13 empty
		cmd(EncodeDelete(44)),        // 14 ok (absent)
		cmd([]byte{}),                // 15 PAYLOAD_INVALID
		cmd([]byte{99, 1, 2}),        // 16 PAYLOAD_INVALID (unknown op)
		cmd(EncodePut(perm)[:100]),   // 17 PAYLOAD_INVALID (truncated)
		cmd(append(EncodeGet(1), 0)), // 18 PAYLOAD_INVALID (trailing byte)
	}
	res := applyEntries(t, sm, 1, cmds, 4)
	want := []string{"", "", CodeKeyExists, "", "", "", CodeAlreadyBound, CodeKeyNotTemporary, CodeKeyNotFound,
		"", CodeKeyTemporary, CodeKeyNotFound, "", "", "", CodePayloadInvalid, CodePayloadInvalid,
		CodePayloadInvalid, CodePayloadInvalid}
	for i, w := range want {
		if got := errCode(res[i]); got != w {
			t.Errorf("command %d: error %q, want %q", i, got, w)
		}
	}
	got, err := DecodeRecord(11, res[12].Value)
	if err != nil || got.UserID != 777 || got.Key != perm.Key || !got.CreatedAt.Equal(perm.CreatedAt) || got.DC != 2 {
		t.Fatalf("get: %+v %v", got, err)
	}
	if len(res[13].Value) != 0 {
		t.Fatalf("get of an absent key: %x", res[13].Value)
	}
	tk, ok := readKey(t, st, 0, 22)
	if !ok || !tk.Temp || tk.PermID != 11 || !tk.ExpiresAt.Equal(temp.ExpiresAt) || tk.Key != temp.Key {
		t.Fatalf("temporary key: %+v", tk)
	}

	// Delete: the key is gone; a put of the id may then store it again.
	res = applyEntries(t, sm, 100, []fsm.Command{cmd(EncodeDelete(11)), cmd(EncodeBind(22, 11))}, 1)
	if errCode(res[0]) != "" {
		t.Fatal(res[0].Err)
	}
	if _, ok := readKey(t, st, 0, 11); ok {
		t.Fatal("deleted key still stored")
	}
}

// TestApplierIdempotence: a retried command (same request id) changes nothing and gets the first outcome.
func TestApplierIdempotence(t *testing.T) {
	st := openState(t)
	sm := st.Shard(3)
	k := testKey(5, true, 3)
	put := cmd(EncodePut(k))
	put.RequestID = fsm.RequestID{1}
	other := cmd(EncodePut(testKey(5, true, 4)))
	other.RequestID = fsm.RequestID{2}
	res := applyEntries(t, sm, 1, []fsm.Command{put, other, put, other}, 2)
	if res[0].Err != nil || res[0].Duplicate || errCode(res[1]) != CodeKeyExists {
		t.Fatalf("first outcomes: %+v %+v", res[0], res[1])
	}
	if res[2].Err != nil || !res[2].Duplicate || errCode(res[3]) != CodeKeyExists || !res[3].Duplicate {
		t.Fatalf("retries: %+v %+v", res[2], res[3])
	}
	if got, _ := readKey(t, st, 3, 5); got.Key != k.Key {
		t.Fatal("the stored key changed")
	}
}

// TestApplierDeterminism: the same commands applied with different apply-batch groupings on two state
// machines leave byte-identical states and results.
func TestApplierDeterminism(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var cmds []fsm.Command
	for i := range 400 {
		id := int64(rng.IntN(40))
		var p []byte
		switch rng.IntN(6) {
		case 0, 1:
			p = EncodePut(testKey(id, id%2 == 0, byte(rng.IntN(2))))
		case 2:
			p = EncodeBind(id, int64(rng.IntN(40)))
		case 3:
			p = EncodeSetUser(id, int64(rng.IntN(3)))
		case 4:
			p = EncodeDelete(id)
		case 5:
			p = EncodeGet(id)
		}
		c := cmd(p)
		c.Time = int64(1000 + i)
		if i%3 == 0 {
			c.RequestID = fsm.RequestID{byte(i), byte(i >> 8), 1}
		}
		cmds = append(cmds, c)
	}
	a, b := openState(t), openState(t)
	ra := applyEntries(t, a.Shard(1), 1, cmds, 1)
	rb := applyEntries(t, b.Shard(1), 1, cmds, 37)
	if fmt.Sprint(ra) != fmt.Sprint(rb) {
		t.Fatal("results differ")
	}
	da, db := dumpShard(t, a, 1), dumpShard(t, b, 1)
	if len(da) == 0 || !slices.Equal(da, db) {
		t.Fatalf("states differ (%d vs %d keys)", len(da), len(db))
	}
}

func dumpShard(t *testing.T, st *fsm.State, s uint32) []string {
	t.Helper()
	var out []string
	err := st.View(s, func(r fsm.Reader) error {
		return r.Scan(nil, nil, func(k, v []byte) bool {
			out = append(out, fmt.Sprintf("%x=%x", k, v))
			return true
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// FuzzApplier: no payload makes Apply panic or fail with anything but a deterministic ApplyError.
func FuzzApplier(f *testing.F) {
	f.Add(EncodePut(testKey(1, true, 1)))
	f.Add(EncodeBind(1, 2))
	f.Add(EncodeSetUser(1, 2))
	f.Add([]byte{opGet})
	st, err := fsm.Open(f.TempDir(), fsm.Options{OnFatal: func(err error) { f.Errorf("fatal: %v", err) }})
	if err != nil {
		f.Fatal(err)
	}
	defer st.Close()
	st.Register(TypeV1, Applier{})
	sm := st.Shard(0)
	var index atomic.Uint64
	f.Fuzz(func(t *testing.T, p []byte) {
		i := index.Add(2)
		res := applyEntries(t, sm, i, []fsm.Command{cmd(EncodePut(testKey(1, true, 1))), cmd(p)}, 2)
		var ae *fsm.ApplyError
		if res[1].Err != nil && !errors.As(res[1].Err, &ae) {
			t.Fatalf("non-deterministic error %v", res[1].Err)
		}
	})
}
