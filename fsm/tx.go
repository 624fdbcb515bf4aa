package fsm

import (
	"bytes"
	"errors"
	"fmt"
	"sort"

	"github.com/cockroachdb/pebble/v2"
)

// Reader reads one shard's domain key space. Keys are relative to the shard (no prefix).
type Reader interface {
	// Get returns a copy of the value of key; ok is false when the key does not exist.
	Get(key []byte) (value []byte, ok bool, err error)
	// Scan calls fn for every key in [lo, hi) in ascending order until fn returns false. A nil hi means the end
	// of the shard's key space. key and value are valid only during the call.
	Scan(lo, hi []byte, fn func(key, value []byte) bool) error
	// ScanReverse is Scan in descending order.
	ScanReverse(lo, hi []byte, fn func(key, value []byte) bool) error
}

// baseReader reads a shard's data space from a Pebble DB, snapshot or indexed batch.
type baseReader struct {
	r     pebble.Reader
	shard uint32
}

func (b baseReader) Get(key []byte) ([]byte, bool, error) {
	var kb []byte
	return b.get(&kb, key)
}

// get is Get building the full key in *kb (a caller's scratch buffer: Pebble does not keep it).
func (b baseReader) get(kb *[]byte, key []byte) ([]byte, bool, error) {
	*kb = spaceKey(*kb, b.shard, spaceData, key)
	v, closer, err := b.r.Get(*kb)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("fsm: shard %d: get: %w", b.shard, err)
	}
	out := append([]byte(nil), v...)
	_ = closer.Close()
	return out, true, nil
}

func (b baseReader) iter(lo, hi []byte) (*pebble.Iterator, error) {
	opts := &pebble.IterOptions{LowerBound: spaceKey(nil, b.shard, spaceData, lo)}
	if hi != nil {
		opts.UpperBound = spaceKey(nil, b.shard, spaceData, hi)
	} else {
		opts.UpperBound = spaceKey(nil, b.shard, spaceData+1)
	}
	it, err := b.r.NewIter(opts)
	if err != nil {
		return nil, fmt.Errorf("fsm: shard %d: iterator: %w", b.shard, err)
	}
	return it, nil
}

const dataPrefixLen = 5

func (b baseReader) Scan(lo, hi []byte, fn func(key, value []byte) bool) error {
	return b.scan(lo, hi, false, nil, fn)
}

func (b baseReader) ScanReverse(lo, hi []byte, fn func(key, value []byte) bool) error {
	return b.scan(lo, hi, true, nil, fn)
}

// scan merges the stored keys in [lo, hi) with an overlay of pending writes (nil for plain reads). Overlay
// entries win over stored ones; overlay deletes hide them.
func (b baseReader) scan(lo, hi []byte, reverse bool, ov map[string]txWrite, fn func(key, value []byte) bool) (err error) {
	if hi != nil && bytes.Compare(lo, hi) >= 0 {
		return nil
	}
	var keys []string
	for k := range ov {
		if k >= string(lo) && (hi == nil || k < string(hi)) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	if reverse {
		for i, j := 0, len(keys)-1; i < j; i, j = i+1, j-1 {
			keys[i], keys[j] = keys[j], keys[i]
		}
	}
	it, err := b.iter(lo, hi)
	if err != nil {
		return err
	}
	// Deferred so that a panicking callback (recovered by the FSM) does not leak the iterator.
	defer func() {
		if cerr := it.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("fsm: shard %d: scan: %w", b.shard, cerr)
		}
	}()
	var ok bool
	if reverse {
		ok = it.Last()
	} else {
		ok = it.First()
	}
	step := func() bool {
		if reverse {
			return it.Prev()
		}
		return it.Next()
	}
	// before reports whether overlay key k comes before (or at) stored key s in scan order.
	before := func(k string, s []byte) int {
		c := bytes.Compare([]byte(k), s)
		if reverse {
			c = -c
		}
		return c
	}
	i := 0
	for {
		var sk []byte
		if ok {
			sk = it.Key()[dataPrefixLen:]
		}
		if i < len(keys) && (!ok || before(keys[i], sk) <= 0) {
			k := keys[i]
			i++
			if ok && k == string(sk) {
				ok = step()
			}
			if w := ov[k]; !w.del && !fn([]byte(k), w.val) {
				break
			}
			continue
		}
		if !ok {
			break
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return fmt.Errorf("fsm: shard %d: scan value: %w", b.shard, err)
		}
		if !fn(sk, v) {
			break
		}
		ok = step()
	}
	return nil
}

type txWrite struct {
	val []byte
	del bool
}

// Tx is what an Applier reads and writes through: one shard's key space, seen as the state after every earlier
// command of the apply batch. Writes are staged in an overlay and reach the batch only if the command succeeds.
// A Tx is valid only during Apply.
type Tx struct {
	base   baseReader // over the indexed batch: sees the DB plus earlier commands of this batch
	writes map[string]txWrite
	cache  *readCache    // the shard's; never nil
	absent *absentFilter // the shard's; never nil
	err    error         // first storage error: fatal, never a deterministic result

	// Scratch reused by the shard's next command (a Tx lives in its ShardFSM): full keys, flush order.
	kbuf []byte
	keys []string
}

// reset readies the shard's Tx for a new command over batch b.
func (tx *Tx) reset(b baseReader, cache *readCache, absent *absentFilter) {
	tx.base, tx.cache, tx.absent, tx.err = b, cache, absent, nil
	if tx.writes == nil || len(tx.writes) > 256 { // clear costs the map's capacity: drop a big one
		tx.writes = make(map[string]txWrite)
	} else {
		clear(tx.writes)
	}
}

func (tx *Tx) fail(err error) error {
	if tx.err == nil {
		tx.err = err
	}
	return err
}

// Get returns a copy of the value of key as seen by this command.
func (tx *Tx) Get(key []byte) ([]byte, bool, error) {
	if w, ok := tx.writes[string(key)]; ok {
		if w.del {
			return nil, false, nil
		}
		return append([]byte(nil), w.val...), true, nil
	}
	if tx.absent.excludes(key) {
		return nil, false, nil
	}
	if v, ok := tx.cache.get(key); ok {
		return append([]byte(nil), v...), true, nil
	}
	v, ok, err := tx.base.get(&tx.kbuf, key)
	if err != nil {
		return nil, false, tx.fail(err)
	}
	if ok {
		tx.cache.fill(key, v)
	}
	return v, ok, nil
}

// Scan implements Reader over this command's view.
func (tx *Tx) Scan(lo, hi []byte, fn func(key, value []byte) bool) error {
	if err := tx.base.scan(lo, hi, false, tx.writes, fn); err != nil {
		return tx.fail(err)
	}
	return nil
}

// ScanReverse implements Reader over this command's view.
func (tx *Tx) ScanReverse(lo, hi []byte, fn func(key, value []byte) bool) error {
	if err := tx.base.scan(lo, hi, true, tx.writes, fn); err != nil {
		return tx.fail(err)
	}
	return nil
}

var errKeyLen = &ApplyError{Code: "KEY_INVALID", Msg: fmt.Sprintf("key must be 1..%d bytes", MaxKeyLen)}

var errValueLen = &ApplyError{Code: "VALUE_TOO_LARGE", Msg: fmt.Sprintf("value must be at most %d bytes", MaxValueLen)}

// Set stages key = value. value is copied.
func (tx *Tx) Set(key, value []byte) error {
	if len(key) == 0 || len(key) > MaxKeyLen {
		return errKeyLen
	}
	if len(value) > MaxValueLen {
		return errValueLen
	}
	tx.writes[string(key)] = txWrite{val: append([]byte{}, value...)}
	return nil
}

// Delete stages the deletion of key.
func (tx *Tx) Delete(key []byte) error {
	if len(key) == 0 || len(key) > MaxKeyLen {
		return errKeyLen
	}
	tx.writes[string(key)] = txWrite{del: true}
	return nil
}

// flush moves the overlay into the batch in key order (deterministic batch bytes).
func (tx *Tx) flush(b *pebble.Batch) error {
	keys := tx.keys[:0]
	for k := range tx.writes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	tx.keys = keys[:0]
	kb := tx.kbuf
	defer func() { tx.kbuf = kb[:0] }()
	for _, k := range keys {
		w := tx.writes[k]
		kb = spaceKey(kb, tx.base.shard, spaceData, []byte(k))
		var err error
		if w.del {
			err = b.Delete(kb, nil)
		} else {
			err = b.Set(kb, w.val, nil)
		}
		if err != nil {
			return fmt.Errorf("fsm: shard %d: batch write: %w", tx.base.shard, err)
		}
		tx.cache.write(k, w.val, w.del) // w.val is the Tx's own copy, never handed out
		if !w.del {
			tx.absent.add(k)
		}
	}
	return nil
}
