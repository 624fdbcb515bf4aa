package pebbledb

import (
	"errors"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

var errClosed = errors.New("x: closed")

func open(t *testing.T, onFatal func(error)) *DB {
	t.Helper()
	o := Options{FS: vfs.NewMem(), OnFatal: onFatal}
	o.SetDefaults(Defaults{CacheBytes: 1 << 20, MemTableBytes: 1 << 20, FatalMessage: "x: fatal"})
	d, err := Open("db", o, Names{Prefix: "x", Failed: "x: failed", Component: "pebble-x", Closed: errClosed}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestFatalIsStickyAndOnce: Pebble's Fatalf reaches OnFatal once, and every later Acquire and Check fails with
// the first error under the caller's prefix.
func TestFatalIsStickyAndOnce(t *testing.T) {
	var fatals []error
	d := open(t, func(err error) { fatals = append(fatals, err) })
	defer d.Close(nil)
	if err := d.Acquire(); err != nil {
		t.Fatal(err)
	}
	d.Release()
	pebbleLogger{d: d}.Fatalf("wal sync: %s", "boom")
	d.Fatal(errors.New("second"))
	if len(fatals) != 1 || fatals[0].Error() != "wal sync: boom" {
		t.Fatalf("OnFatal calls: %v", fatals)
	}
	for _, err := range []error{d.Check(), d.Acquire()} {
		if err == nil || err.Error() != "x: failed: wal sync: boom" {
			t.Fatalf("got %v", err)
		}
	}
}

// TestClose: Close runs its hook once, later Acquires fail with Names.Closed, a second Close is a no-op.
func TestClose(t *testing.T) {
	d := open(t, func(error) { t.Error("OnFatal called") })
	hooks := 0
	if err := d.Close(func() { hooks++ }); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(func() { hooks++ }); err != nil || hooks != 1 {
		t.Fatalf("second close: %v, hook ran %d times", err, hooks)
	}
	if err := d.Acquire(); !errors.Is(err, errClosed) {
		t.Fatalf("acquire after close: %v", err)
	}
}

// TestOpenError: open errors carry the caller's prefix and directory; tune sees the options before Open.
func TestOpenError(t *testing.T) {
	o := Options{FS: vfs.NewMem()}
	o.SetDefaults(Defaults{CacheBytes: 1 << 20, MemTableBytes: 1 << 20})
	_, err := Open("db", o, Names{Prefix: "x"}, func(po *pebble.Options) { po.ErrorIfNotExists = true })
	if err == nil || !strings.HasPrefix(err.Error(), "x: open db: ") {
		t.Fatalf("got %v", err)
	}
}
