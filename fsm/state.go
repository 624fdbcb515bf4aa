package fsm

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/raftgram/raftgram/internal/pebbledb"
)

// ErrClosed is returned by reads after Close.
var ErrClosed = errors.New("fsm: state closed")

// Applier applies the commands of one or more types. It must be deterministic: its only inputs are the command
// and what it reads through tx; an error it returns must be an *ApplyError (others are wrapped as
// APPLY_FAILED) and means none of its writes are kept.
type Applier interface {
	Apply(tx *Tx, cmd Command) (result []byte, err error)
}

// ApplierFunc adapts a function to Applier.
type ApplierFunc func(tx *Tx, cmd Command) ([]byte, error)

// Apply calls f.
func (f ApplierFunc) Apply(tx *Tx, cmd Command) ([]byte, error) { return f(tx, cmd) }

// Options configures Open. The zero value is usable.
type Options struct {
	// FS is the filesystem of the Pebble DB; nil means the operating system's.
	FS vfs.FS
	// Logger receives the state machine's and Pebble's logs; nil discards them.
	Logger *slog.Logger
	// OnFatal is called once on a storage error inside apply, a fatal Pebble error, or a committed entry this
	// binary cannot apply (unknown envelope version or command type, malformed envelope). It should not return
	// (default: exit(70)): a replica that cannot store or apply what others applied must stop rather than
	// diverge. If it returns, the State stays halted: every later operation fails.
	OnFatal func(error)
	// CacheBytes is Pebble's block cache size; default 64 MiB.
	CacheBytes int64
	// MemTableBytes is Pebble's memtable size; default 32 MiB.
	MemTableBytes uint64
	// ReadCacheEntries bounds each shard's cache of small values read by appliers (DESIGN.md invariant 11);
	// 0 means 16384, negative disables it. Only speed depends on it, never the state.
	ReadCacheEntries int
}

func (o *Options) setDefaults() {
	po := o.pebble()
	po.SetDefaults(pebbledb.Defaults{CacheBytes: 64 << 20, MemTableBytes: 32 << 20,
		FatalMessage: "fsm: fatal error, exiting"})
	o.FS, o.Logger, o.OnFatal, o.CacheBytes, o.MemTableBytes = po.FS, po.Logger, po.OnFatal, po.CacheBytes, po.MemTableBytes
}

func (o *Options) pebble() pebbledb.Options {
	return pebbledb.Options{FS: o.FS, Logger: o.Logger, OnFatal: o.OnFatal, CacheBytes: o.CacheBytes,
		MemTableBytes: o.MemTableBytes}
}

// State is the Pebble DB holding the applied state of every shard of a node.
type State struct {
	db   *pebble.DB   // life.Pebble
	life *pebbledb.DB // Acquire/Release around every use of db; sticky failure; OnFatal
	log  *slog.Logger

	amu      sync.RWMutex
	appliers map[CommandType]Applier
	// absentPrefixes are the data-key prefixes of the shards' absent-key filters (DESIGN.md invariant 12).
	absentPrefixes []string

	smu    sync.Mutex
	shards map[uint32]*ShardFSM

	snmu  sync.Mutex
	snaps map[*pebble.Snapshot]struct{} // open raft snapshots, closed by Release or by Close

	decode func([]byte) ([]Command, error) // DecodeBatch; tests stand in a "newer binary"
	// dedupRef, set only by tests, is the reference dedup: every lookup reads Pebble and expiry scans the expiry
	// index from its start (what the dedup index must be indistinguishable from).
	dedupRef func(s *ShardFSM, b *pebble.Batch, cutoff int64) error
	// cacheEntries bounds each shard's read cache (defaultCacheEntries; tests use 0 = off, or tiny).
	cacheEntries int

	cannotApply atomic.Uint64
	restores    atomic.Uint64
}

// Open opens (creating if needed) the state DB in dir. The built-in KV applier is registered for types 1..4.
func Open(dir string, opts Options) (*State, error) {
	cacheEntries := opts.ReadCacheEntries
	switch {
	case cacheEntries == 0:
		cacheEntries = defaultCacheEntries
	case cacheEntries < 0:
		cacheEntries = 0
	}
	opts.setDefaults()
	st := &State{
		log:      opts.Logger,
		appliers: make(map[CommandType]Applier),
		shards:   make(map[uint32]*ShardFSM),
		snaps:    make(map[*pebble.Snapshot]struct{}),
		decode:   DecodeBatch,

		cacheEntries: cacheEntries,
	}
	names := pebbledb.Names{Prefix: "fsm", Failed: "fsm: state failed", Component: "pebble-fsm", Closed: ErrClosed}
	life, err := pebbledb.Open(dir, opts.pebble(), names, func(po *pebble.Options) {
		// Most dedup lookups miss (a request id is new); bloom filters answer a miss without reading sstable
		// blocks. L1+ inherit L0's filter.
		po.Levels[0].FilterPolicy = bloom.FilterPolicy(10)
	})
	if err != nil {
		return nil, err
	}
	st.life, st.db = life, life.Pebble
	registerKV(st)
	return st, nil
}

// Register sets the Applier of command type t, replacing any earlier one. Call it before raft starts applying.
// An Applier that implements AbsentKeys adds its prefixes to every shard's absent-key filter.
func (st *State) Register(t CommandType, a Applier) {
	st.amu.Lock()
	st.appliers[t] = a
	if ak, ok := a.(AbsentKeys); ok {
		for _, p := range ak.AbsentKeyPrefixes() {
			if len(p) > 0 && !slices.Contains(st.absentPrefixes, string(p)) {
				st.absentPrefixes = append(st.absentPrefixes, string(p))
			}
		}
	}
	st.amu.Unlock()
}

// filteredPrefixes is a copy of the absent-key filter's prefixes.
func (st *State) filteredPrefixes() []string {
	st.amu.RLock()
	defer st.amu.RUnlock()
	return slices.Clone(st.absentPrefixes)
}

// Applies reports whether this binary has an Applier for command type t. Proposers must check it before
// raft.Apply: a committed command of an unknown type halts every replica that lacks it (DESIGN.md invariant 6),
// so a type from the network must be rejected before it reaches the log.
func (st *State) Applies(t CommandType) bool { return st.applier(t) != nil }

func (st *State) applier(t CommandType) Applier {
	st.amu.RLock()
	defer st.amu.RUnlock()
	return st.appliers[t]
}

// Shard returns the raft FSM of a shard; the same pointer for the same id. Its applied index is loaded here;
// a load failure goes to OnFatal.
func (st *State) Shard(id uint32) *ShardFSM {
	st.smu.Lock()
	defer st.smu.Unlock()
	if s, ok := st.shards[id]; ok {
		return s
	}
	s := &ShardFSM{st: st, id: id, cache: readCache{max: st.cacheEntries}}
	s.lo, s.hi = shardBounds(id)
	if err := s.loadApplied(); err != nil {
		st.life.Fatal(err)
	}
	st.shards[id] = s
	return s
}

// DropShard deletes every key of a shard, applied index included (one synced range tombstone), for a node
// that stops holding the shard. The shard's raft must be shut down; if the node holds the shard again later it
// starts empty and catches up by snapshot.
func (st *State) DropShard(id uint32) error {
	if err := st.life.Acquire(); err != nil {
		return err
	}
	defer st.life.Release()
	lo, hi := shardBounds(id)
	if err := st.db.DeleteRange(lo, hi, pebble.Sync); err != nil {
		return fmt.Errorf("fsm: drop shard %d: %w", id, err)
	}
	if err := st.life.Check(); err != nil {
		return err
	}
	st.smu.Lock()
	if s, ok := st.shards[id]; ok {
		s.applied.Store(0)
		s.appliedTerm.Store(0)
		s.stale.Store(true)
	}
	st.smu.Unlock()
	return nil
}

// Read returns the value of key in shard's domain key space as of the last apply. Callers serving clients call
// it only after their read barrier (leader verified, applied index >= read index).
func (st *State) Read(shard uint32, key []byte) ([]byte, bool, error) {
	if err := st.life.Acquire(); err != nil {
		return nil, false, err
	}
	defer st.life.Release()
	return baseReader{r: st.db, shard: shard}.Get(key)
}

// View runs fn over a consistent point-in-time view of shard's domain key space.
func (st *State) View(shard uint32, fn func(r Reader) error) error {
	if err := st.life.Acquire(); err != nil {
		return err
	}
	defer st.life.Release()
	snap := st.db.NewSnapshot()
	defer func() { _ = snap.Close() }()
	return fn(baseReader{r: snap, shard: shard})
}

// Metrics are counters for node/ to export.
type Metrics struct {
	// CannotApply counts committed entries this binary could not apply since Open (unknown envelope version or
	// command type, malformed envelope); the first one halts the State, so it is 0 or 1 in practice.
	CannotApply uint64
	Restores    uint64 // snapshot restores since Open
	DiskBytes   uint64
}

// Metrics returns the state's counters.
func (st *State) Metrics() Metrics {
	m := Metrics{CannotApply: st.cannotApply.Load(), Restores: st.restores.Load()}
	if st.life.Acquire() != nil {
		return m
	}
	defer st.life.Release()
	m.DiskBytes = st.db.Metrics().DiskSpaceUsage()
	return m
}

// Close closes the DB. Every raft using a shard of it must have been shut down.
func (st *State) Close() error {
	return st.life.Close(func() {
		st.snmu.Lock()
		for snap := range st.snaps {
			_ = snap.Close()
			delete(st.snaps, snap)
		}
		st.snmu.Unlock()
	})
}

// trackSnapshot records an open Pebble snapshot (open) or closes and forgets it (!open), once.
func (st *State) trackSnapshot(snap *pebble.Snapshot, open bool) {
	st.snmu.Lock()
	defer st.snmu.Unlock()
	if open {
		st.snaps[snap] = struct{}{}
		return
	}
	if _, ok := st.snaps[snap]; ok {
		delete(st.snaps, snap)
		_ = snap.Close()
	}
}
