package raftlog

import (
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/hashicorp/raft"
)

// GroupLog is the log of one Raft group inside the shared store. It implements raft.LogStore; it reports
// IsMonotonic() == false (see IsMonotonic and DESIGN.md "Snapshot installs").
type GroupLog struct {
	s            *Store
	id           uint64
	lower, upper []byte // [lower, upper) covers every key of this group

	// wmu serializes this group's mutations (raft's main goroutine appends and truncates the suffix, the
	// snapshot goroutine compacts the prefix) so the contiguity check and the cache update see one order.
	wmu sync.Mutex

	mu          sync.RWMutex // guards first, last, loadErr
	first, last uint64       // 0, 0 when empty; changed only after the commit that made them true returned
	loadErr     error

	buf []byte // encode buffer, used under wmu
}

var _ raft.LogStore = (*GroupLog)(nil)

func newGroupLog(s *Store, id uint64) *GroupLog {
	g := &GroupLog{s: s, id: id}
	g.lower, g.upper = groupBounds(id)
	g.loadErr = g.load()
	return g
}

// load rebuilds first and last with two bounded seeks.
func (g *GroupLog) load() error {
	if err := g.s.life.Acquire(); err != nil {
		return err
	}
	defer g.s.life.Release()
	it, err := g.s.db.NewIter(&pebble.IterOptions{LowerBound: g.lower, UpperBound: g.upper})
	if err != nil {
		return fmt.Errorf("raftlog: group %d: open iterator: %w", g.id, err)
	}
	var first, last uint64
	if it.First() {
		if first, err = keyIndex(it.Key()); err == nil && it.Last() {
			last, err = keyIndex(it.Key())
		}
	}
	if cerr := it.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("raftlog: group %d: load bounds: %w", g.id, err)
	}
	g.first, g.last = first, last
	return nil
}

// ID returns the group id.
func (g *GroupLog) ID() uint64 { return g.id }

// IsMonotonic reports false. With true, hashicorp/raft v1.8.0 deletes the WHOLE log after installing a snapshot
// (removeOldLogs), including entries past the snapshot, without resetting its in-memory last log index: raft
// then claims entries the store no longer holds, panics in processLogs ("log not found") or appends after a
// hole. With false it only compacts a prefix up to the snapshot index, and the gap that may follow is closed
// by StoreLogs (an append past the end starts a new run). DESIGN.md "Snapshot installs" has the whole story.
func (g *GroupLog) IsMonotonic() bool { return false }

func (g *GroupLog) bounds() (first, last uint64, err error) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.first, g.last, g.loadErr
}

func (g *GroupLog) setBounds(first, last uint64) {
	g.mu.Lock()
	g.first, g.last = first, last
	g.mu.Unlock()
}

// FirstIndex returns the first index of the log, 0 if it is empty.
func (g *GroupLog) FirstIndex() (uint64, error) {
	first, _, err := g.bounds()
	return first, err
}

// LastIndex returns the last index of the log, 0 if it is empty.
func (g *GroupLog) LastIndex() (uint64, error) {
	_, last, err := g.bounds()
	return last, err
}

// GetLog reads the entry at index; a missing index gives exactly raft.ErrLogNotFound.
func (g *GroupLog) GetLog(index uint64, l *raft.Log) error {
	if _, _, err := g.bounds(); err != nil {
		return err
	}
	if err := g.s.life.Acquire(); err != nil {
		return err
	}
	defer g.s.life.Release()
	var kb [keyLen]byte
	v, closer, err := g.s.db.Get(logKey(kb[:0], g.id, index))
	if errors.Is(err, pebble.ErrNotFound) {
		return raft.ErrLogNotFound
	}
	if err != nil {
		return fmt.Errorf("raftlog: group %d: get %d: %w", g.id, index, err)
	}
	err = decodeEntry(v, index, l)
	_ = closer.Close()
	if err != nil {
		return fmt.Errorf("raftlog: group %d: index %d: %w", g.id, index, err)
	}
	return nil
}

// StoreLog appends one entry; see StoreLogs.
func (g *GroupLog) StoreLog(l *raft.Log) error {
	return g.StoreLogs([]*raft.Log{l})
}

// StoreLogs appends entries in one synced batch. They must be consecutive and continue the log, or start past
// its end: raft appends past the end only right after installing a snapshot that covers the gap (it appends at
// max(last log, last snapshot)+1), so every older entry is below that snapshot and the same batch deletes them.
// The log stays one contiguous run. Overwriting an existing index is refused (raft truncates first).
func (g *GroupLog) StoreLogs(logs []*raft.Log) error {
	if len(logs) == 0 {
		return nil
	}
	g.wmu.Lock()
	defer g.wmu.Unlock()
	first, last, err := g.bounds()
	if err != nil {
		return err
	}
	start := logs[0].Index
	if start == 0 {
		return fmt.Errorf("raftlog: group %d: index 0 is not a valid raft index", g.id)
	}
	if last != 0 && start <= last {
		return fmt.Errorf("raftlog: group %d: append at %d does not continue last index %d", g.id, start, last)
	}
	newRun := last != 0 && start > last+1
	for i, l := range logs {
		if l.Index != start+uint64(i) {
			return fmt.Errorf("raftlog: group %d: entries not consecutive at %d (want %d)", g.id, l.Index, start+uint64(i))
		}
	}
	if err := g.s.life.Acquire(); err != nil {
		return err
	}
	defer g.s.life.Release()

	size := 0
	for _, l := range logs {
		size += keyLen + 32 + len(l.Data) + len(l.Extensions)
	}
	b := g.s.db.NewBatchWithSize(size)
	defer func() { _ = b.Close() }()
	var kb [keyLen]byte
	if newRun {
		// Everything before start is covered by an installed snapshot; one synced batch replaces the run.
		if err := b.DeleteRange(g.lower, logKey(kb[:0], g.id, start), nil); err != nil {
			return fmt.Errorf("raftlog: group %d: batch delete: %w", g.id, err)
		}
	}
	for _, l := range logs {
		g.buf = encodeEntry(g.buf[:0], l)
		if err := b.Set(logKey(kb[:0], g.id, l.Index), g.buf, nil); err != nil {
			return fmt.Errorf("raftlog: group %d: batch set: %w", g.id, err)
		}
	}
	if err := g.s.db.Apply(b, pebble.Sync); err != nil {
		return fmt.Errorf("raftlog: group %d: append %d..%d: %w", g.id, start, start+uint64(len(logs))-1, err)
	}
	if err := g.s.life.Check(); err != nil {
		return err
	}
	if first == 0 || newRun {
		first = start
	}
	g.setBounds(first, logs[len(logs)-1].Index)
	return nil
}

// DeleteRange deletes entries min..max inclusive with one range tombstone. Only a prefix, a suffix or the whole
// log may be deleted; a prefix delete (compaction) is not synced, the others are.
func (g *GroupLog) DeleteRange(min, max uint64) error {
	g.wmu.Lock()
	defer g.wmu.Unlock()
	first, last, err := g.bounds()
	if err != nil {
		return err
	}
	if last == 0 || min > max || max < first || min > last {
		return nil
	}
	lo, hi := maxU(min, first), minU(max, last)
	prefix, suffix := lo == first, hi == last
	if !prefix && !suffix {
		return fmt.Errorf("raftlog: group %d: delete %d..%d would leave a hole in %d..%d", g.id, lo, hi, first, last)
	}
	if err := g.s.life.Acquire(); err != nil {
		return err
	}
	defer g.s.life.Release()

	var start, end []byte
	switch {
	case prefix && suffix:
		start, end = g.lower, g.upper // whole group, including anything a bug might have left outside first..last
	case prefix:
		start, end = logKey(nil, g.id, 0), logKey(nil, g.id, hi+1)
	default:
		start, end = logKey(nil, g.id, lo), g.upper
		if hi < math.MaxUint64 {
			end = logKey(nil, g.id, hi+1)
		}
	}
	wo := pebble.Sync
	if prefix && !suffix {
		// Losing a compaction in a crash only keeps more log; nothing acknowledged depends on it.
		wo = pebble.NoSync
	}
	if err := g.s.db.DeleteRange(start, end, wo); err != nil {
		return fmt.Errorf("raftlog: group %d: delete %d..%d: %w", g.id, lo, hi, err)
	}
	if err := g.s.life.Check(); err != nil {
		return err
	}
	switch {
	case prefix && suffix:
		g.setBounds(0, 0)
	case prefix:
		g.setBounds(hi+1, last)
	default:
		g.setBounds(first, lo-1)
	}
	return nil
}

func maxU(a, b uint64) uint64 {
	if a > b {
		return a
	}
	return b
}

func minU(a, b uint64) uint64 {
	if a < b {
		return a
	}
	return b
}
