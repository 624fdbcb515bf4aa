package fsm

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"sort"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/hashicorp/raft"
)

// TestTxModel checks Tx (overlay over an indexed batch over the DB) against a plain map: random writes spread
// over committed entries, earlier entries of the same batch and the current command, then Get and both scan
// directions over random ranges.
func TestTxModel(t *testing.T) {
	st := openState(t, vfs.NewMem(), "s")
	defer st.Close()
	rng := rand.New(rand.NewPCG(5, 5))
	model := map[string]string{}
	key := func() string { return fmt.Sprintf("k%02d", rng.IntN(40)) }
	randomWrites := func(tx *Tx, n int) {
		for i := 0; i < n; i++ {
			k := key()
			if rng.IntN(3) == 0 {
				_ = tx.Delete([]byte(k))
				delete(model, k)
			} else {
				v := fmt.Sprint(rng.IntN(1000))
				_ = tx.Set([]byte(k), []byte(v))
				model[k] = v
			}
		}
	}
	var failures []string
	check := func(tx *Tx) {
		for i := 0; i < 8; i++ {
			k := key()
			v, ok, err := tx.Get([]byte(k))
			if mv, mok := model[k]; err != nil || ok != mok || string(v) != mv {
				failures = append(failures, fmt.Sprintf("get %s = %q %v, model %q %v", k, v, ok, mv, mok))
			}
			lo, hi := key(), key()
			if lo > hi {
				lo, hi = hi, lo
			}
			var want []string
			for mk, mv := range model {
				if mk >= lo && mk < hi {
					want = append(want, mk+"="+mv)
				}
			}
			sort.Strings(want)
			var fwd, rev []string
			_ = tx.Scan([]byte(lo), []byte(hi), func(k, v []byte) bool { fwd = append(fwd, string(k)+"="+string(v)); return true })
			_ = tx.ScanReverse([]byte(lo), []byte(hi), func(k, v []byte) bool { rev = append(rev, string(k)+"="+string(v)); return true })
			for l, r := 0, len(rev)-1; l < r; l, r = l+1, r-1 {
				rev[l], rev[r] = rev[r], rev[l]
			}
			if !reflect.DeepEqual(fwd, want) && !(len(fwd) == 0 && len(want) == 0) {
				failures = append(failures, fmt.Sprintf("scan [%s,%s) = %v, model %v", lo, hi, fwd, want))
			}
			if !reflect.DeepEqual(rev, fwd) {
				failures = append(failures, fmt.Sprintf("reverse scan [%s,%s) = %v, forward %v", lo, hi, rev, fwd))
			}
		}
	}
	st.Register(120, ApplierFunc(func(tx *Tx, cmd Command) ([]byte, error) {
		randomWrites(tx, 15)
		check(tx)
		return nil, nil
	}))
	idx := uint64(0)
	for round := 0; round < 12; round++ {
		var logs []*raft.Log
		for e := 0; e < 1+rng.IntN(4); e++ {
			idx++
			logs = append(logs, entry(t, idx, Command{Type: 120}, Command{Type: 120}))
		}
		for _, r := range applyAll(t, st.Shard(1), logs) {
			for _, c := range r.Results {
				if c.Err != nil {
					t.Fatal(c.Err)
				}
			}
		}
		if len(failures) > 0 {
			t.Fatalf("round %d: %v", round, failures[:min(5, len(failures))])
		}
	}
}
