package fsm

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// dedupKey is one live dedup record, named by its expiry index key `e|time|reqid` (DESIGN.md invariant 10).
// time is never negative (remember clamps it), so comparing it as an int64 is the key's byte order.
type dedupKey struct {
	t  int64
	id RequestID
}

// before reports whether a's expiry key sorts before b's.
func (a *dedupKey) before(b *dedupKey) bool {
	if a.t != b.t {
		return a.t < b.t
	}
	return bytes.Compare(a.id[:], b.id[:]) < 0
}

// dedupIndex mirrors a shard's persisted dedup records (DESIGN.md invariant 10): the committed part is exactly
// the shard's expiry index as of the last committed apply; the overlay is what the current ApplyBatch added and
// expired, visible to its later commands and merged by commit only once the batch is in Pebble. FSM goroutine
// only.
//
// Order: proposer times nearly always grow, so committed keys are appended to a ring in key order and expiry
// pops its front, O(1) each. A key older than the ring's last (a leader whose clock is behind, a clock stepped
// back) goes to a min-heap instead, O(log n): the oldest key is the smaller of the two fronts, so no pattern
// of times makes an insert shift the ring.
//
// Membership: the committed ids are a multiset of 8-byte hashes in an open-addressing set (8 bytes a slot; a Go
// map spends 16 on a slot of either a uint64 or a 16-byte id). A hash shared by another live id can only make
// has answer "present" for an absent id, which costs one Pebble read of the record and nothing else; it never
// answers "absent" for a live one, as the counts are exact (an id enters when its record's batch commits and
// leaves when its expiry's batch commits, each exactly once).
type dedupIndex struct {
	ids   hashSet           // hashes of committed live ids
	multi map[uint64]uint32 // hashes shared by several committed live ids: how many more than one
	ring  keyRing           // committed expiry keys in key order
	late  keyHeap           // committed expiry keys that arrived out of order

	// Overlay of the ApplyBatch in progress.
	ringExpired int                    // ring[0:ringExpired] were expired by this batch
	latePopped  []dedupKey             // popped from late by this batch (pushed back by abort)
	gone        map[RequestID]struct{} // ids expired by this batch from the committed part
	added       keyHeap                // records created by this batch and still live
	addedIDs    map[RequestID]struct{}
}

func newDedupIndex() *dedupIndex {
	return &dedupIndex{multi: make(map[uint64]uint32),
		gone: make(map[RequestID]struct{}), addedIDs: make(map[RequestID]struct{})}
}

// idHash mixes both halves of a request id (ids are random or hashes, but tests and older callers use small
// structured ones).
func idHash(id RequestID) uint64 {
	mix := func(x uint64) uint64 { // splitmix64's finalizer
		x ^= x >> 30
		x *= 0xbf58476d1ce4e5b9
		x ^= x >> 27
		x *= 0x94d049bb133111eb
		return x ^ x>>31
	}
	return mix(binary.LittleEndian.Uint64(id[:8])^mix(binary.LittleEndian.Uint64(id[8:]))) | 1 // never 0 (empty)
}

// dedupHash is idHash (never 0); tests make it collide.
var dedupHash = idHash

func (x *dedupIndex) insertID(id RequestID) {
	h := dedupHash(id)
	if x.ids.has(h) {
		x.multi[h]++
		return
	}
	x.ids.insert(h)
}

func (x *dedupIndex) removeID(id RequestID) {
	h := dedupHash(id)
	if n := x.multi[h]; n > 0 {
		if n == 1 {
			delete(x.multi, h)
		} else {
			x.multi[h] = n - 1
		}
		return
	}
	x.ids.remove(h)
}

// has reports whether id has a record as the current command sees the state.
func (x *dedupIndex) has(id RequestID) bool {
	if _, ok := x.addedIDs[id]; ok {
		return true
	}
	if _, ok := x.gone[id]; ok {
		return false
	}
	return x.ids.has(dedupHash(id))
}

// add stages a new record: the id has none (has said so, or the read has found none).
func (x *dedupIndex) add(k dedupKey) {
	x.added.push(k)
	x.addedIDs[k.id] = struct{}{}
}

// Sources of the oldest key.
const (
	srcNone = iota
	srcRing
	srcLate
	srcAdded
)

// oldest returns the oldest live expiry key as the current command sees the state, and where it is.
func (x *dedupIndex) oldest() (dedupKey, int) {
	var best dedupKey
	src := srcNone
	if k, ok := x.ring.at(x.ringExpired); ok {
		best, src = k, srcRing
	}
	if k, ok := x.late.top(); ok && (src == srcNone || k.before(&best)) {
		best, src = k, srcLate
	}
	if k, ok := x.added.top(); ok && (src == srcNone || k.before(&best)) {
		best, src = k, srcAdded
	}
	return best, src
}

// expire stages the removal of the key oldest returned from src.
func (x *dedupIndex) expire(src int) {
	switch src {
	case srcRing:
		k, _ := x.ring.at(x.ringExpired)
		x.ringExpired++
		x.gone[k.id] = struct{}{}
	case srcLate:
		k := x.late.pop()
		x.latePopped = append(x.latePopped, k)
		x.gone[k.id] = struct{}{}
	case srcAdded:
		delete(x.addedIDs, x.added.pop().id)
	}
}

// commit merges the overlay into the committed part: the batch is in Pebble.
func (x *dedupIndex) commit() {
	for ; x.ringExpired > 0; x.ringExpired-- {
		x.removeID(x.ring.popFront().id)
	}
	for _, k := range x.latePopped {
		x.removeID(k.id)
	}
	x.latePopped = x.latePopped[:0]
	for len(x.added) > 0 { // oldest first: in-order keys extend the ring
		k := x.added.pop()
		x.insertID(k.id)
		if last, ok := x.ring.at(x.ring.n - 1); ok && k.before(&last) {
			x.late.push(k)
		} else {
			x.ring.push(k)
		}
	}
	x.abort()
}

// abort drops the overlay, restoring the committed part.
func (x *dedupIndex) abort() {
	x.ringExpired = 0
	for _, k := range x.latePopped {
		x.late.push(k)
	}
	x.latePopped = x.latePopped[:0]
	clear(x.gone)
	x.added = x.added[:0]
	clear(x.addedIDs)
}

func (x *dedupIndex) len() int { return x.ring.n + len(x.late) }

// loadDedupIndex builds the committed index from the shard's expiry index.
func (s *ShardFSM) loadDedupIndex() (*dedupIndex, error) {
	x := newDedupIndex()
	lo := spaceKey(nil, s.id, spaceMeta, []byte{metaExpiry})
	hi := spaceKey(nil, s.id, spaceMeta, []byte{metaExpiry + 1})
	it, err := s.st.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return nil, fmt.Errorf("fsm: shard %d: load dedup index: %w", s.id, err)
	}
	for ok := it.First(); ok; ok = it.Next() {
		key := it.Key()
		var k dedupKey
		if len(key) != expiryTimeOff+8+len(k.id) {
			_ = it.Close()
			return nil, fmt.Errorf("fsm: shard %d: expiry index key of %d bytes", s.id, len(key))
		}
		k.t = int64(binary.BigEndian.Uint64(key[expiryTimeOff:]))
		copy(k.id[:], key[expiryTimeOff+8:])
		x.insertID(k.id)
		x.ring.push(k) // in key order
	}
	if err := it.Close(); err != nil {
		return nil, fmt.Errorf("fsm: shard %d: load dedup index: %w", s.id, err)
	}
	return x, nil
}

// keyRing is a ring buffer of expiry keys in key order: pushes at the back, pops at the front.
type keyRing struct {
	buf     []dedupKey // len is 0 or a power of two
	head, n int
}

func (r *keyRing) at(i int) (dedupKey, bool) {
	if i < 0 || i >= r.n {
		return dedupKey{}, false
	}
	return r.buf[(r.head+i)&(len(r.buf)-1)], true
}

func (r *keyRing) resize(size int) {
	nb := make([]dedupKey, size)
	for i := 0; i < r.n; i++ {
		nb[i] = r.buf[(r.head+i)&(len(r.buf)-1)]
	}
	r.buf, r.head = nb, 0
}

// push appends k, which must not sort before the last key.
func (r *keyRing) push(k dedupKey) {
	if r.n == len(r.buf) {
		r.resize(max(2*len(r.buf), 64))
	}
	r.buf[(r.head+r.n)&(len(r.buf)-1)] = k
	r.n++
}

func (r *keyRing) popFront() dedupKey {
	k := r.buf[r.head]
	r.head = (r.head + 1) & (len(r.buf) - 1)
	r.n--
	if len(r.buf) > 1024 && r.n < len(r.buf)/4 { // give memory back after a burst
		r.resize(len(r.buf) / 2)
	}
	return k
}

// keyHeap is a min-heap of expiry keys.
type keyHeap []dedupKey

func (h keyHeap) top() (dedupKey, bool) {
	if len(h) == 0 {
		return dedupKey{}, false
	}
	return h[0], true
}

func (h *keyHeap) push(k dedupKey) {
	*h = append(*h, k)
	a := *h
	for i := len(a) - 1; i > 0; {
		p := (i - 1) / 2
		if !a[i].before(&a[p]) {
			break
		}
		a[i], a[p] = a[p], a[i]
		i = p
	}
}

func (h *keyHeap) pop() dedupKey {
	a := *h
	k := a[0]
	n := len(a) - 1
	a[0] = a[n]
	a = a[:n]
	for i := 0; ; {
		c := 2*i + 1
		if c >= n {
			break
		}
		if c+1 < n && a[c+1].before(&a[c]) {
			c++
		}
		if !a[c].before(&a[i]) {
			break
		}
		a[i], a[c] = a[c], a[i]
		i = c
	}
	*h = a
	return k
}

// hashSet is a linear-probing set of non-zero uint64 hashes (0 marks an empty slot), kept between 3/16 and 3/4
// full; removal shifts the following run back, so there are no tombstones.
type hashSet struct {
	slots []uint64 // len is 0 or a power of two
	n     int
}

func (s *hashSet) has(h uint64) bool {
	if s.n == 0 {
		return false
	}
	mask := uint64(len(s.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case h:
			return true
		case 0:
			return false
		}
	}
}

// insert adds h, which must be absent and non-zero.
func (s *hashSet) insert(h uint64) {
	if (s.n+1)*4 > len(s.slots)*3 {
		s.rehash(max(2*len(s.slots), 64))
	}
	mask := uint64(len(s.slots) - 1)
	i := h & mask
	for s.slots[i] != 0 {
		i = (i + 1) & mask
	}
	s.slots[i] = h
	s.n++
}

// remove deletes h if present.
func (s *hashSet) remove(h uint64) {
	if s.n == 0 {
		return
	}
	mask := uint64(len(s.slots) - 1)
	i := h & mask
	for s.slots[i] != h {
		if s.slots[i] == 0 {
			return
		}
		i = (i + 1) & mask
	}
	// Shift back every following entry of the run whose home slot is not in (i, j].
	for j := (i + 1) & mask; s.slots[j] != 0; j = (j + 1) & mask {
		home := s.slots[j] & mask
		stays := home > i && home <= j
		if i > j { // the run wrapped around
			stays = home > i || home <= j
		}
		if !stays {
			s.slots[i] = s.slots[j]
			i = j
		}
	}
	s.slots[i] = 0
	s.n--
	if len(s.slots) > 1024 && s.n*16 < len(s.slots)*3 { // below 3/16: give memory back
		s.rehash(len(s.slots) / 2)
	}
}

func (s *hashSet) rehash(size int) {
	old := s.slots
	s.slots, s.n = make([]uint64, size), 0
	for _, h := range old {
		if h != 0 {
			s.insert(h)
		}
	}
}
