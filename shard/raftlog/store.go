package raftlog

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// ErrClosed is returned by every operation after Close.
var ErrClosed = errors.New("raftlog: store closed")

// Options configures Open. The zero value is usable.
type Options struct {
	// FS is the filesystem Pebble writes to; nil means the operating system's. Crash tests pass
	// vfs.NewCrashableMem().
	FS vfs.FS
	// Logger receives Pebble's and the store's logs; nil discards them.
	Logger *slog.Logger
	// OnFatal is called once when Pebble reports a fatal error (a failed WAL write or fsync). It should not
	// return: the WAL is shared by every group and a retried fsync can falsely succeed. Default: exit(70). If it
	// returns anyway, every later operation of the store fails with the error instead of acknowledging.
	OnFatal func(error)
	// CacheBytes is Pebble's block cache size. Default 8 MiB: reads are mostly recent entries still in memtables.
	CacheBytes int64
	// MemTableBytes is Pebble's memtable size. Default 16 MiB.
	MemTableBytes uint64
}

func (o *Options) setDefaults() {
	if o.FS == nil {
		o.FS = vfs.Default
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.OnFatal == nil {
		log := o.Logger
		o.OnFatal = func(err error) {
			log.Error("raftlog: fatal storage error, exiting", "err", err)
			os.Exit(70)
		}
	}
	if o.CacheBytes <= 0 {
		o.CacheBytes = 8 << 20
	}
	if o.MemTableBytes == 0 {
		o.MemTableBytes = 16 << 20
	}
}

// Store is one Pebble DB holding the Raft logs of every group of a node.
type Store struct {
	db      *pebble.DB
	log     *slog.Logger
	syncs   *syncCounter
	onFatal func(error)

	// life is held shared by every operation and exclusively by Close, so no operation ever reaches a closed
	// Pebble DB (which would panic).
	life   sync.RWMutex
	closed bool

	fatalOnce sync.Once
	failed    atomic.Pointer[error]

	gmu    sync.Mutex
	groups map[uint64]*GroupLog
}

// Open opens (creating if needed) the store in dir.
func Open(dir string, opts Options) (*Store, error) {
	opts.setDefaults()
	s := &Store{
		log:     opts.Logger,
		syncs:   &syncCounter{},
		onFatal: opts.OnFatal,
		groups:  make(map[uint64]*GroupLog),
	}
	cache := pebble.NewCache(opts.CacheBytes)
	defer cache.Unref()
	po := &pebble.Options{
		FS:                 countingFS{FS: opts.FS, c: s.syncs},
		Cache:              cache,
		MemTableSize:       opts.MemTableBytes,
		FormatMajorVersion: pebble.FormatNewest,
		Logger:             pebbleLogger{s: s},
	}
	db, err := pebble.Open(dir, po)
	if err != nil {
		return nil, fmt.Errorf("raftlog: open %s: %w", dir, err)
	}
	s.db = db
	return s, nil
}

// fatal records err as the store's sticky failure and hands it to OnFatal once.
func (s *Store) fatal(err error) {
	s.failed.CompareAndSwap(nil, &err)
	s.fatalOnce.Do(func() { s.onFatal(err) })
}

// check returns the sticky failure, if any. Called after every commit: if Pebble hit a fatal WAL error during
// the commit, the caller must not be told its write is durable.
func (s *Store) check() error {
	if p := s.failed.Load(); p != nil {
		return fmt.Errorf("raftlog: store failed: %w", *p)
	}
	return nil
}

// acquire takes the shared life lock; release with s.life.RUnlock.
func (s *Store) acquire() error {
	s.life.RLock()
	if s.closed {
		s.life.RUnlock()
		return ErrClosed
	}
	if err := s.check(); err != nil {
		s.life.RUnlock()
		return err
	}
	return nil
}

// Group returns the log of one Raft group; the same pointer for the same id. Loading the group's first and
// last index happens here (two seeks); a failure is kept and returned by every method of the GroupLog.
func (s *Store) Group(id uint64) *GroupLog {
	s.gmu.Lock()
	defer s.gmu.Unlock()
	if g, ok := s.groups[id]; ok {
		return g
	}
	g := newGroupLog(s, id)
	s.groups[id] = g
	return g
}

// DropGroup deletes every entry of a group (one synced range tombstone). The group's raft must be shut down.
func (s *Store) DropGroup(id uint64) error {
	g := s.Group(id)
	g.wmu.Lock()
	defer g.wmu.Unlock()
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.life.RUnlock()
	if err := s.db.DeleteRange(g.lower, g.upper, pebble.Sync); err != nil {
		return fmt.Errorf("raftlog: drop group %d: %w", id, err)
	}
	if err := s.check(); err != nil {
		return err
	}
	g.setBounds(0, 0)
	return nil
}

// Metrics are counters for node/ to export; they are cumulative since Open.
type Metrics struct {
	WALSyncs        uint64 // fsyncs of WAL files (each may cover the appends of many groups)
	OtherSyncs      uint64 // fsyncs of sstables, manifests, directories
	WALBytesWritten uint64
	DiskBytes       uint64 // Pebble's total on-disk footprint: WAL, sstables, manifest
}

// Metrics returns the store's counters.
func (s *Store) Metrics() Metrics {
	m := Metrics{WALSyncs: s.syncs.wal.Load(), OtherSyncs: s.syncs.other.Load()}
	if s.acquire() != nil {
		return m
	}
	defer s.life.RUnlock()
	pm := s.db.Metrics()
	m.WALBytesWritten = pm.WAL.BytesWritten
	m.DiskBytes = pm.DiskSpaceUsage()
	return m
}

// Flush forces the memtable to disk and waits. Tests and measurements use it to see compaction at work.
func (s *Store) Flush() error {
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.life.RUnlock()
	return s.db.Flush()
}

// Close closes the DB. Every raft using the store must have been shut down; later calls fail with ErrClosed.
func (s *Store) Close() error {
	s.life.Lock()
	defer s.life.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("raftlog: close: %w", err)
	}
	return nil
}

// pebbleLogger routes Pebble's logs to slog and turns Fatalf into the store's fail-stop path.
type pebbleLogger struct{ s *Store }

func (l pebbleLogger) Infof(format string, args ...any) {
	l.s.log.Debug(fmt.Sprintf(format, args...), "component", "pebble-raftlog")
}

func (l pebbleLogger) Errorf(format string, args ...any) {
	l.s.log.Error(fmt.Sprintf(format, args...), "component", "pebble-raftlog")
}

func (l pebbleLogger) Fatalf(format string, args ...any) {
	l.s.fatal(fmt.Errorf(format, args...))
}

var _ io.Closer = (*Store)(nil)
