package fsm

import (
	"fmt"
	"hash/maphash"
	"strings"

	"github.com/cockroachdb/pebble/v2"
)

// AbsentKeys is implemented by an Applier whose commands mostly read keys that do not exist (a message's
// random_id receipt, looked up on every send to catch a retry): Register then keeps a filter of the keys under
// these prefixes, and Tx.Get answers "not found" for a key the filter rules out without reading Pebble.
type AbsentKeys interface {
	// AbsentKeyPrefixes lists the data-key prefixes (relative to the shard, as Tx sees keys) to filter.
	AbsentKeyPrefixes() [][]byte
}

// absentFilter is a shard's Bloom filter over the data keys that exist under the registered prefixes
// (DESIGN.md invariant 12): every such key in the state or in the apply batch is in it, so a key it does not
// contain does not exist. A false positive costs a Pebble read; there are no false negatives. It grows by adding
// layers twice the size of the last, ~10 bits per key, so the memory is ~1.25 bytes per key ever added since the
// last rebuild (deletes stay members until then). It only decides whether Tx.Get reads Pebble, never what a read
// returns. FSM goroutine only.
type absentFilter struct {
	prefixes []string // nil: nothing is filtered
	layers   []bloomLayer
	built    bool
}

type bloomLayer struct {
	bits []uint64
	cap  int // keys this layer takes before the next is added
	n    int
}

const (
	bloomFirstCap   = 1 << 14 // keys in the first layer (20 KB)
	bloomMaxCap     = 1 << 24 // keys in the largest layers (20 MB; bit positions stay below 2^32)
	bloomBitsPerKey = 10      // ~1 % false positives per layer
	bloomHashes     = 7
)

// bloomSeed is per process: the filter is never persisted or compared between replicas.
var bloomSeed = maphash.MakeSeed()

// covers reports whether key is under a filtered prefix.
func (f *absentFilter) covers(key string) bool {
	for _, p := range f.prefixes {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

// excludes reports whether key certainly does not exist (false for keys the filter does not cover).
func (f *absentFilter) excludes(key []byte) bool {
	if !f.built || !f.covers(string(key)) { // no allocation: the conversion does not escape
		return false
	}
	h1, h2 := bloomHash(maphash.Bytes(bloomSeed, key))
	for i := range f.layers {
		if f.layers[i].has(h1, h2) {
			return false
		}
	}
	return true
}

// add records that key exists (a no-op for keys the filter does not cover).
func (f *absentFilter) add(key string) {
	if !f.built || !f.covers(key) {
		return
	}
	f.addHashed(bloomHash(maphash.String(bloomSeed, key)))
}

func (f *absentFilter) addHashed(h1, h2 uint32) {
	if n := len(f.layers); n == 0 || f.layers[n-1].n >= f.layers[n-1].cap {
		c := bloomFirstCap
		if n > 0 {
			c = min(2*f.layers[n-1].cap, bloomMaxCap)
		}
		f.layers = append(f.layers, bloomLayer{bits: make([]uint64, (c*bloomBitsPerKey+63)/64), cap: c})
	}
	f.layers[len(f.layers)-1].set(h1, h2)
}

// rebuild refills the filter from the shard's stored keys (the batch must hold no writes: called between
// batches). On error the filter is left off (every read goes to Pebble) and the error is returned.
func (f *absentFilter) rebuild(db *pebble.DB, shard uint32) error {
	f.layers, f.built = nil, false
	if len(f.prefixes) == 0 {
		return nil
	}
	for _, p := range f.prefixes {
		lo := spaceKey(nil, shard, spaceData, []byte(p))
		it, err := db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: PrefixEnd(lo)})
		if err != nil {
			return fmt.Errorf("fsm: shard %d: absent-key filter: %w", shard, err)
		}
		for ok := it.First(); ok; ok = it.Next() {
			f.addHashed(bloomHash(maphash.Bytes(bloomSeed, it.Key()[dataPrefixLen:])))
		}
		if err := it.Close(); err != nil {
			f.layers = nil
			return fmt.Errorf("fsm: shard %d: absent-key filter: %w", shard, err)
		}
	}
	f.built = true
	return nil
}

// off disables the filter until the next rebuild (the state changed outside apply).
func (f *absentFilter) off() { f.layers, f.built = nil, false }

// bloomHash splits a key's 64-bit hash into the two hashes of double hashing (the step is odd, never 0).
func bloomHash(h uint64) (uint32, uint32) { return uint32(h), uint32(h>>32) | 1 }

func (l *bloomLayer) set(h1, h2 uint32) {
	m := uint32(len(l.bits) * 64)
	for i := uint32(0); i < bloomHashes; i++ {
		b := (h1 + i*h2) % m
		l.bits[b/64] |= 1 << (b % 64)
	}
	l.n++
}

func (l *bloomLayer) has(h1, h2 uint32) bool {
	m := uint32(len(l.bits) * 64)
	for i := uint32(0); i < bloomHashes; i++ {
		b := (h1 + i*h2) % m
		if l.bits[b/64]&(1<<(b%64)) == 0 {
			return false
		}
	}
	return true
}
