package pebbledb

import (
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Options mirror the Options of fsm and raftlog; each documents its own defaults.
type Options struct {
	FS            vfs.FS
	Logger        *slog.Logger
	OnFatal       func(error)
	CacheBytes    int64
	MemTableBytes uint64
}

// Defaults are a caller's documented defaults.
type Defaults struct {
	CacheBytes    int64
	MemTableBytes uint64
	// FatalMessage is logged by the default OnFatal before it exits the process with status 70.
	FatalMessage string
}

// SetDefaults fills the zero fields of o from d.
func (o *Options) SetDefaults(d Defaults) {
	if o.FS == nil {
		o.FS = vfs.Default
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.OnFatal == nil {
		log, msg := o.Logger, d.FatalMessage
		o.OnFatal = func(err error) {
			log.Error(msg, "err", err)
			os.Exit(70)
		}
	}
	if o.CacheBytes <= 0 {
		o.CacheBytes = d.CacheBytes
	}
	if o.MemTableBytes == 0 {
		o.MemTableBytes = d.MemTableBytes
	}
}

// Names are the texts that make a caller's errors and logs its own.
type Names struct {
	Prefix    string // of open and close errors: "fsm" gives "fsm: open DIR: ..." and "fsm: close: ..."
	Failed    string // of the sticky failure: "fsm: state failed" gives "fsm: state failed: ..."
	Component string // slog "component" attribute of Pebble's lines
	Closed    error  // returned by Acquire after Close
}

// DB is an open Pebble DB with its life lock and sticky failure.
type DB struct {
	// Pebble is the DB itself; use it only between Acquire and Release.
	Pebble *pebble.DB

	names   Names
	log     *slog.Logger
	onFatal func(error)

	life   sync.RWMutex // shared by operations, exclusive in Close: a closed Pebble DB panics
	closed bool

	fatalOnce sync.Once
	failed    atomic.Pointer[error]
}

// Open opens (creating if needed) the DB in dir. opts must have had SetDefaults; tune, if not nil, adjusts the
// Pebble options (FS wrappers, filter policies) before the DB opens. Cache, memtable size, format and logger are
// set here.
func Open(dir string, opts Options, names Names, tune func(*pebble.Options)) (*DB, error) {
	d := &DB{names: names, log: opts.Logger, onFatal: opts.OnFatal}
	cache := pebble.NewCache(opts.CacheBytes)
	defer cache.Unref()
	po := &pebble.Options{
		FS:                 opts.FS,
		Cache:              cache,
		MemTableSize:       opts.MemTableBytes,
		FormatMajorVersion: pebble.FormatNewest,
		Logger:             pebbleLogger{d: d},
	}
	if tune != nil {
		tune(po)
	}
	db, err := pebble.Open(dir, po)
	if err != nil {
		return nil, fmt.Errorf("%s: open %s: %w", names.Prefix, dir, err)
	}
	d.Pebble = db
	return d, nil
}

// Acquire takes the shared life lock, failing with Names.Closed after Close or with the sticky failure; on nil
// the caller must Release.
func (d *DB) Acquire() error {
	d.life.RLock()
	if d.closed {
		d.life.RUnlock()
		return d.names.Closed
	}
	if err := d.Check(); err != nil {
		d.life.RUnlock()
		return err
	}
	return nil
}

// Release gives back the lock taken by a successful Acquire.
func (d *DB) Release() { d.life.RUnlock() }

// Check returns the sticky failure, if any. Pebble reports a failed commit through Logger.Fatalf and then returns
// nil from the commit, so every commit whose durability matters is followed by a Check.
func (d *DB) Check() error {
	if p := d.failed.Load(); p != nil {
		return fmt.Errorf("%s: %w", d.names.Failed, *p)
	}
	return nil
}

// Fatal records err as the sticky failure (the first one wins) and hands it to OnFatal once.
func (d *DB) Fatal(err error) {
	d.failed.CompareAndSwap(nil, &err)
	d.fatalOnce.Do(func() { d.onFatal(err) })
}

// Close waits for every operation, runs before (if not nil; e.g. closing snapshots) and closes the DB. Later
// calls return nil.
func (d *DB) Close(before func()) error {
	d.life.Lock()
	defer d.life.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	if before != nil {
		before()
	}
	if err := d.Pebble.Close(); err != nil {
		return fmt.Errorf("%s: close: %w", d.names.Prefix, err)
	}
	return nil
}

// pebbleLogger routes Pebble's logs to slog and turns Fatalf into the fail-stop path.
type pebbleLogger struct{ d *DB }

func (l pebbleLogger) Infof(format string, args ...any) {
	l.d.log.Debug(fmt.Sprintf(format, args...), "component", l.d.names.Component)
}

func (l pebbleLogger) Errorf(format string, args ...any) {
	l.d.log.Error(fmt.Sprintf(format, args...), "component", l.d.names.Component)
}

func (l pebbleLogger) Fatalf(format string, args ...any) {
	l.d.Fatal(fmt.Errorf(format, args...))
}

// PrefixEnd returns the smallest key greater than every key starting with p: the exclusive upper bound of a
// prefix scan. It is nil when p is empty or all 0xff (no such key: scan to the end).
func PrefixEnd(p []byte) []byte {
	out := append([]byte(nil), p...)
	for i := len(out) - 1; i >= 0; i-- {
		if out[i] != 0xff {
			out[i]++
			return out[:i+1]
		}
	}
	return nil
}
