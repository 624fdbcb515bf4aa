package fsm

import (
	"encoding/binary"
	"errors"
	"fmt"
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

// ShardFSM is the raft.FSM and raft.BatchingFSM of one shard.
type ShardFSM struct {
	st     *State
	id     uint32
	lo, hi []byte

	// applied is written only on raft's FSM goroutine (apply, restore) and read by anyone.
	applied     atomic.Uint64
	appliedTerm atomic.Uint64

	// dedup mirrors the shard's live dedup records (DESIGN.md invariant 10); nil until the first ApplyBatch.
	// FSM goroutine only; stale (set by anything that changes the state outside apply) makes the next
	// ApplyBatch rebuild it from Pebble.
	dedup *dedupIndex
	stale atomic.Bool
	// cache serves Tx.Get of hot small values (DESIGN.md invariant 11); cleared with the dedup index.
	cache readCache
	// absent rules out reads of keys that do not exist (invariant 12); rebuilt with the dedup index.
	absent absentFilter
	tx     Tx     // reused by every command (FSM goroutine only): its map and scratch buffers stay allocated
	keyBuf []byte // scratch for dedup keys and records (FSM goroutine only; batches copy what they get)
	valBuf []byte
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

	if s.dedup == nil || s.stale.Swap(false) {
		x, err := s.loadDedupIndex()
		if err != nil {
			return s.failBatch(logs, out, err)
		}
		s.dedup = x
		s.cache.clear()
		s.absent.prefixes = s.st.filteredPrefixes()
		if err := s.absent.rebuild(s.st.db, s.id); err != nil {
			s.dedup = nil
			return s.failBatch(logs, out, err)
		}
	}
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
	s.dedup.commit()
	s.applied.Store(last)
	s.appliedTerm.Store(lastTerm)
	return out
}

// failBatch is the fail-stop path (DESIGN.md invariants 6 and 9): the batch is not committed, the applied
// index does not move, the node stops (OnFatal), and waiting proposers get the error rather than a result other
// replicas may not have.
func (s *ShardFSM) failBatch(logs []*raft.Log, out []any, err error) []any {
	// The overlay described a batch that is not committed; the commit may still have reached Pebble before the
	// failure was seen, so the index is rebuilt from Pebble before any later apply.
	if s.dedup != nil {
		s.dedup.abort()
	}
	s.cache.clear()
	s.absent.off()
	s.stale.Store(true)
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
	if dedup && (s.dedup.has(c.RequestID) || s.st.dedupRef != nil) { // an absent id (nearly every one) needs no read
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
	tx := &s.tx
	tx.reset(baseReader{r: b, shard: s.id}, &s.cache, &s.absent)
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
	s.dedup.add(dedupKey{t: t, id: c.RequestID})
	cutoff := t - DedupWindow.Milliseconds()
	if cutoff <= 0 {
		return nil
	}
	if s.st.dedupRef != nil {
		return s.st.dedupRef(s, b, cutoff)
	}
	return s.expire(b, cutoff)
}

// expire deletes up to dedupGCPerCommand records older than cutoff, oldest first in expiry key order, as the
// dedup index (the expiry index's mirror) lists them.
func (s *ShardFSM) expire(b *pebble.Batch, cutoff int64) error {
	for range dedupGCPerCommand {
		k, src := s.dedup.oldest()
		if src == srcNone || k.t >= cutoff {
			return nil
		}
		s.dedup.expire(src)
		s.keyBuf = appendExpiryKey(s.keyBuf[:0], s.id, k.t, k.id)
		if err := b.Delete(s.keyBuf, nil); err != nil {
			return fmt.Errorf("fsm: shard %d: batch: %w", s.id, err)
		}
		s.keyBuf = appendDedupKey(s.keyBuf[:0], s.id, k.id)
		if err := b.Delete(s.keyBuf, nil); err != nil {
			return fmt.Errorf("fsm: shard %d: batch: %w", s.id, err)
		}
	}
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
