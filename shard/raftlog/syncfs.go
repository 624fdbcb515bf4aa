package raftlog

import (
	"strings"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// syncCounter counts fsyncs issued through a vfs.FS, split into WAL files and everything else. It is how the
// store reports "fsyncs per append" without trusting a model of Pebble's internals.
type syncCounter struct {
	wal   atomic.Uint64
	other atomic.Uint64
}

// countingFS wraps a vfs.FS so that every Sync/SyncData/SyncTo of a file it opens is counted.
type countingFS struct {
	vfs.FS
	c *syncCounter
}

func (fs countingFS) wrap(name string, f vfs.File, err error) (vfs.File, error) {
	if err != nil {
		return f, err
	}
	ctr := &fs.c.other
	if strings.HasSuffix(name, ".log") {
		ctr = &fs.c.wal
	}
	return countingFile{File: f, n: ctr}, nil
}

func (fs countingFS) Create(name string, cat vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, cat)
	return fs.wrap(name, f, err)
}

func (fs countingFS) OpenReadWrite(name string, cat vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	f, err := fs.FS.OpenReadWrite(name, cat, opts...)
	return fs.wrap(name, f, err)
}

func (fs countingFS) ReuseForWrite(oldname, newname string, cat vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(oldname, newname, cat)
	return fs.wrap(newname, f, err)
}

// Unwrap lets Pebble see the underlying FS where it type-asserts on it.
func (fs countingFS) Unwrap() vfs.FS { return fs.FS }

type countingFile struct {
	vfs.File
	n *atomic.Uint64
}

func (f countingFile) Sync() error {
	f.n.Add(1)
	return f.File.Sync()
}

func (f countingFile) SyncData() error {
	f.n.Add(1)
	return f.File.SyncData()
}

func (f countingFile) SyncTo(length int64) (bool, error) {
	f.n.Add(1)
	return f.File.SyncTo(length)
}
