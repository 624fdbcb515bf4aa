package raftlog

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/raftgram/raftgram/internal/pebbledb"
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
	po := pebbledb.Options(*o)
	po.SetDefaults(pebbledb.Defaults{CacheBytes: 8 << 20, MemTableBytes: 16 << 20,
		FatalMessage: "raftlog: fatal storage error, exiting"})
	*o = Options(po)
}

// Store is one Pebble DB holding the Raft logs of every group of a node.
type Store struct {
	db    *pebble.DB   // life.Pebble
	life  *pebbledb.DB // Acquire/Release around every use of db; sticky failure; OnFatal
	syncs *syncCounter

	gmu    sync.Mutex
	groups map[uint64]*GroupLog
}

// Open opens (creating if needed) the store in dir.
func Open(dir string, opts Options) (*Store, error) {
	opts.setDefaults()
	s := &Store{
		syncs:  &syncCounter{},
		groups: make(map[uint64]*GroupLog),
	}
	names := pebbledb.Names{Prefix: "raftlog", Failed: "raftlog: store failed", Component: "pebble-raftlog",
		Closed: ErrClosed}
	life, err := pebbledb.Open(dir, pebbledb.Options(opts), names, func(po *pebble.Options) {
		po.FS = countingFS{FS: po.FS, c: s.syncs}
	})
	if err != nil {
		return nil, err
	}
	s.life, s.db = life, life.Pebble
	return s, nil
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
	if err := s.life.Acquire(); err != nil {
		return err
	}
	defer s.life.Release()
	if err := s.db.DeleteRange(g.lower, g.upper, pebble.Sync); err != nil {
		return fmt.Errorf("raftlog: drop group %d: %w", id, err)
	}
	if err := s.life.Check(); err != nil {
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
	if s.life.Acquire() != nil {
		return m
	}
	defer s.life.Release()
	pm := s.db.Metrics()
	m.WALBytesWritten = pm.WAL.BytesWritten
	m.DiskBytes = pm.DiskSpaceUsage()
	return m
}

// Flush forces the memtable to disk and waits. Tests and measurements use it to see compaction at work.
func (s *Store) Flush() error {
	if err := s.life.Acquire(); err != nil {
		return err
	}
	defer s.life.Release()
	return s.db.Flush()
}

// Close closes the DB. Every raft using the store must have been shut down; later calls fail with ErrClosed.
func (s *Store) Close() error { return s.life.Close(nil) }

var _ io.Closer = (*Store)(nil)
