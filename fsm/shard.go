package fsm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/hashicorp/raft"
)

// DedupWindow is how long a request id's first result is kept, measured in proposer time. It is part of the
// state machine's definition: every replica must use the same value.
const DedupWindow = 5 * time.Minute

// dedupGCPerCommand bounds the expired records one command removes: each command adds at most one, so the
// backlog cannot grow without bound, and no single apply does unbounded work.
const dedupGCPerCommand = 8

// Values of ShardFSM.expiryFloor besides a proposer time.
const (
	floorUnknown = math.MinInt64 // not known: the next due check scans from the start of the expiry index
	floorEmpty   = math.MaxInt64 // the expiry index is empty
)

// ShardFSM is the raft.FSM and raft.BatchingFSM of one shard.
type ShardFSM struct {
	st     *State
	id     uint32
	lo, hi []byte

	// applied is written only on raft's FSM goroutine (apply, restore) and read by anyone.
	applied     atomic.Uint64
	appliedTerm atomic.Uint64

	// expiryFloor is a lower bound of the oldest dedup expiry time in the shard's state as the current apply
	// batch sees it (or floorUnknown / floorEmpty). Only an optimization: it says when no record can be due
	// (floor >= cutoff: skip the expiry scan, the common case) and where the oldest live record starts (the
	// scan seeks there instead of stepping over the tombstones of records expired before). The records deleted
	// are the same with or without it, so replicas with different floors (restart, restore) stay identical.
	// Written on raft's FSM goroutine; reset by anything that changes the state outside apply.
	expiryFloor atomic.Int64
	keyBuf      []byte // scratch for dedup keys and records (FSM goroutine only; batches copy what they get)
	valBuf      []byte
}

var (
	_ raft.FSM         = (*ShardFSM)(nil)
	_ raft.BatchingFSM = (*ShardFSM)(nil)
)

// ID returns the shard id.
func (s *ShardFSM) ID() uint32 { return s.id }

// AppliedIndex returns the index of the last raft entry whose effect is in the state.
func (s *ShardFSM) AppliedIndex() uint64 { return s.applied.Load() }

func (s *ShardFSM) loadApplied() error {
	if err := s.st.life.Acquire(); err != nil {
		return err
	}
	defer s.st.life.Release()
	return s.loadAppliedLocked()
}

// loadAppliedLocked reads the applied index record; the caller holds the life lock.
func (s *ShardFSM) loadAppliedLocked() error {
	v, closer, err := s.st.db.Get(appliedKey(s.id))
	if errors.Is(err, pebble.ErrNotFound) {
		s.applied.Store(0)
		s.appliedTerm.Store(0)
		return nil
	}
	if err != nil {
		return fmt.Errorf("fsm: shard %d: load applied index: %w", s.id, err)
	}
	defer func() { _ = closer.Close() }()
	if len(v) != 16 {
		return fmt.Errorf("fsm: shard %d: applied index record of %d bytes", s.id, len(v))
	}
	s.applied.Store(binary.BigEndian.Uint64(v))
	s.appliedTerm.Store(binary.BigEndian.Uint64(v[8:]))
	return nil
}

// Apply applies one entry. raft uses ApplyBatch instead; this exists for raft.FSM.
func (s *ShardFSM) Apply(l *raft.Log) any {
	return s.ApplyBatch([]*raft.Log{l})[0]
}

// ApplyBatch applies consecutive committed entries in ONE Pebble batch that also records the new applied index,
// committed without fsync (DESIGN.md invariant 4). It returns one *EntryResult per entry.
func (s *ShardFSM) ApplyBatch(logs []*raft.Log) []any {
	out := make([]any, len(logs))
	if err := s.st.life.Acquire(); err != nil {
		for i, l := range logs {
			out[i] = &EntryResult{Index: l.Index, Err: err}
		}
		return out
	}
	defer s.st.life.Release()

	applied := s.applied.Load()
	b := s.st.db.NewIndexedBatch()
	defer func() { _ = b.Close() }()
	var last, lastTerm uint64
	for i, l := range logs {
		if l.Index <= applied {
			out[i] = &EntryResult{Index: l.Index, Skipped: true}
			continue
		}
		last, lastTerm = l.Index, l.Term
		if l.Type != raft.LogCommand {
			out[i] = &EntryResult{Index: l.Index}
			continue
		}
		r, err := s.applyEntry(b, l)
		if err != nil {
			return s.failBatch(logs, out, err)
		}
		out[i] = r
	}
	if last == 0 {
		return out
	}
	var rec [16]byte
	binary.BigEndian.PutUint64(rec[:], last)
	binary.BigEndian.PutUint64(rec[8:], lastTerm)
	if err := b.Set(appliedKey(s.id), rec[:], nil); err != nil {
		return s.failBatch(logs, out, fmt.Errorf("fsm: shard %d: batch: %w", s.id, err))
	}
	if err := s.st.db.Apply(b, pebble.NoSync); err != nil {
		return s.failBatch(logs, out, fmt.Errorf("fsm: shard %d: commit %d: %w", s.id, last, err))
	}
	if err := s.st.life.Check(); err != nil { // Pebble reported a fatal error during the commit
		return s.failBatch(logs, out, err)
	}
	s.applied.Store(last)
	s.appliedTerm.Store(lastTerm)
	return out
}

// failBatch is the fail-stop path (DESIGN.md invariants 6 and 9): the batch is not committed, the applied
// index does not move, the node stops (OnFatal), and waiting proposers get the error rather than a result other
// replicas may not have.
func (s *ShardFSM) failBatch(logs []*raft.Log, out []any, err error) []any {
	s.expiryFloor.Store(floorUnknown) // it described the batch that is not committed
	s.st.life.Fatal(err)
	for i, l := range logs {
		out[i] = &EntryResult{Index: l.Index, Err: err}
	}
	return out
}

// cannotApply builds the fail-stop error for a committed entry this binary cannot apply (cause wraps
// ErrUnknownVersion, ErrMalformed or ErrUnknownType), logs it once at ERROR and counts it. Skipping the entry
// or storing an error result instead would make this replica diverge from one that can apply it.
func (s *ShardFSM) cannotApply(l *raft.Log, cause error, attrs ...any) error {
	s.st.cannotApply.Add(1)
	args := append([]any{"shard", s.id, "index", l.Index, "term", l.Term}, attrs...)
	args = append(args, "err", cause)
	s.st.log.Error("fsm: cannot apply a committed entry, halting: upgrade this node's binary "+
		"(the entry stays unapplied and is replayed after restart)", args...)
	return fmt.Errorf("fsm: shard %d entry %d (term %d): %w: upgrade this node's binary", s.id, l.Index, l.Term,
		cause)
}

// applyEntry applies one LogCommand entry into b. The returned error is fatal (storage failure, or an entry
// this binary cannot apply); everything deterministic is in the EntryResult.
func (s *ShardFSM) applyEntry(b *pebble.Batch, l *raft.Log) (*EntryResult, error) {
	cmds, derr := s.st.decode(l.Data)
	if derr != nil {
		attrs := []any{"supported_version", EnvelopeVersion}
		if len(l.Data) > 0 {
			attrs = append(attrs, "version", l.Data[0])
		}
		return nil, s.cannotApply(l, derr, attrs...)
	}
	res := make([]Result, len(cmds))
	for i := range cmds {
		r, err := s.applyCommand(b, l, &cmds[i])
		if err != nil {
			return nil, err
		}
		res[i] = r
	}
	return &EntryResult{Index: l.Index, Results: res}, nil
}

func (s *ShardFSM) applyCommand(b *pebble.Batch, l *raft.Log, c *Command) (Result, error) {
	dedup := !c.RequestID.IsZero()
	if dedup {
		s.keyBuf = appendDedupKey(s.keyBuf[:0], s.id, c.RequestID)
		v, ok, err := metaGet(b, s.keyBuf)
		if err != nil {
			return Result{}, fmt.Errorf("fsm: shard %d: dedup lookup: %w", s.id, err)
		}
		if ok {
			r, err := decodeRecord(v)
			if err != nil {
				return Result{}, fmt.Errorf("fsm: shard %d: %w", s.id, err)
			}
			return r, nil
		}
	}
	// Checked after the dedup lookup: a duplicate returns its stored result without an Applier, exactly as on a
	// replica that knows the type.
	a := s.st.applier(c.Type)
	if a == nil {
		return Result{}, s.cannotApply(l, fmt.Errorf("%w %d", ErrUnknownType, c.Type), "type", c.Type)
	}
	var r Result
	tx := &Tx{base: baseReader{r: b, shard: s.id}, writes: make(map[string]txWrite)}
	v, err := s.callApplier(a, tx, c, l.Index)
	if tx.err != nil {
		return Result{}, tx.err
	}
	if err != nil {
		var ae *ApplyError
		if !errors.As(err, &ae) {
			ae = &ApplyError{Code: CodeApplyFailed, Msg: err.Error()}
		}
		r.Err = ae
	} else {
		if err := tx.flush(b); err != nil {
			return Result{}, err
		}
		r.Value = v
	}
	if dedup {
		if err := s.remember(b, c, r); err != nil {
			return Result{}, err
		}
	}
	return r, nil
}

// callApplier runs a domain Applier. A panic is turned into an error result: the overlay makes it safe to
// discard, and the same input panics the same way on every replica.
func (s *ShardFSM) callApplier(a Applier, tx *Tx, c *Command, index uint64) (v []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			s.st.log.Error("fsm: applier panicked", "shard", s.id, "index", index, "type", c.Type, "panic", p,
				"stack", string(debug.Stack()))
			v, err = nil, &ApplyError{Code: CodeApplyFailed, Msg: fmt.Sprintf("panic: %v", p)}
		}
	}()
	return a.Apply(tx, *c)
}

// remember stores the first result of a request id and expires old ones (DESIGN.md invariant 8): at most
// dedupGCPerCommand records whose proposer time is before this command's time minus DedupWindow, oldest first.
func (s *ShardFSM) remember(b *pebble.Batch, c *Command, r Result) error {
	t := max(c.Time, 0)
	s.keyBuf = appendDedupKey(s.keyBuf[:0], s.id, c.RequestID)
	s.valBuf = encodeRecord(s.valBuf[:0], t, r)
	if err := b.Set(s.keyBuf, s.valBuf, nil); err != nil {
		return fmt.Errorf("fsm: shard %d: batch: %w", s.id, err)
	}
	s.keyBuf = appendExpiryKey(s.keyBuf[:0], s.id, t, c.RequestID)
	if err := b.Set(s.keyBuf, nil, nil); err != nil {
		return fmt.Errorf("fsm: shard %d: batch: %w", s.id, err)
	}
	floor := s.expiryFloor.Load()
	if floor != floorUnknown && t < floor {
		floor = t
		s.expiryFloor.Store(floor)
	}
	cutoff := t - DedupWindow.Milliseconds()
	if cutoff <= 0 || floor >= cutoff {
		return nil // nothing can be due: every record is at least as new as the floor
	}
	return s.expire(b, cutoff, floor)
}

// expire deletes up to dedupGCPerCommand records older than cutoff, scanning the expiry index from floor, and
// moves the floor to the oldest record left.
func (s *ShardFSM) expire(b *pebble.Batch, cutoff, floor int64) error {
	lo := spaceKey(nil, s.id, spaceMeta, []byte{metaExpiry})
	if floor != floorUnknown {
		lo = appendExpiryKey(lo[:0], s.id, floor, RequestID{})
	}
	hi := spaceKey(nil, s.id, spaceMeta, []byte{metaExpiry + 1})
	it, err := b.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return fmt.Errorf("fsm: shard %d: dedup gc: %w", s.id, err)
	}
	var expired [dedupGCPerCommand][]byte
	k := 0
	next := int64(floorEmpty)
	for ok := it.First(); ok; ok = it.Next() {
		key := it.Key()
		et := int64(binary.BigEndian.Uint64(key[expiryTimeOff:]))
		if et >= cutoff || k == len(expired) {
			next = et
			break
		}
		expired[k] = append(expired[k][:0], key...)
		k++
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("fsm: shard %d: dedup gc: %w", s.id, err)
	}
	for _, key := range expired[:k] {
		var id RequestID
		copy(id[:], key[len(key)-len(id):])
		if err := b.Delete(key, nil); err != nil {
			return fmt.Errorf("fsm: shard %d: batch: %w", s.id, err)
		}
		s.keyBuf = appendDedupKey(s.keyBuf[:0], s.id, id)
		if err := b.Delete(s.keyBuf, nil); err != nil {
			return fmt.Errorf("fsm: shard %d: batch: %w", s.id, err)
		}
	}
	s.expiryFloor.Store(next)
	return nil
}

func metaGet(r pebble.Reader, key []byte) ([]byte, bool, error) {
	v, closer, err := r.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	out := append([]byte(nil), v...)
	_ = closer.Close()
	return out, true, nil
}
