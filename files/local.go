package files

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/raftgram/raftgram/internal/pebbledb"
)

// MaxWritesPerKey bounds the writes of one key a node keeps (DESIGN.md invariant 5).
const MaxWritesPerKey = 8

// ErrClosed is returned by Local after Close.
var ErrClosed = errors.New("files: closed")

// ErrTooManyWrites refuses a shard of a key that already has MaxWritesPerKey writes on this node.
var ErrTooManyWrites = errors.New("files: too many incomplete writes of this part")

// LocalOptions configure a node's shard database.
type LocalOptions = pebbledb.Options

// Local is this node's share of the chunk store: the shards given to it, in its own Pebble database, each write
// synced before Put returns.
//
// Key: 's' owner(8) file(8) part(4) gen(8) index(1), big-endian; value: the encoded shard (Shard.Encode).
type Local struct {
	db *pebbledb.DB
}

// OpenLocal opens (creating if needed) the shard database in dir.
func OpenLocal(dir string, o LocalOptions) (*Local, error) {
	o.SetDefaults(pebbledb.Defaults{CacheBytes: 8 << 20, MemTableBytes: 16 << 20,
		FatalMessage: "files: shard database failed; stopping the node"})
	db, err := pebbledb.Open(dir, o, pebbledb.Names{Prefix: "files", Failed: "files: shard database failed",
		Component: "files", Closed: ErrClosed}, nil)
	if err != nil {
		return nil, err
	}
	return &Local{db: db}, nil
}

// Close closes the database; later calls fail with ErrClosed.
func (l *Local) Close() error { return l.db.Close(nil) }

func keyPrefix(k Key) []byte {
	b := make([]byte, 0, 30)
	b = append(b, 's')
	b = binary.BigEndian.AppendUint64(b, uint64(k.Owner))
	b = binary.BigEndian.AppendUint64(b, uint64(k.File))
	return binary.BigEndian.AppendUint32(b, uint32(k.Part))
}

func shardKey(s *Shard) []byte {
	b := binary.BigEndian.AppendUint64(keyPrefix(s.Key), s.Gen)
	return append(b, byte(s.Index))
}

// Put stores an encoded shard (checked first) and syncs it. Storing the same shard again is a no-op success.
func (l *Local) Put(encoded []byte) error {
	s, err := DecodeShard(encoded)
	if err != nil {
		return err
	}
	if err := l.db.Acquire(); err != nil {
		return err
	}
	defer l.db.Release()
	gens, err := l.gens(s.Key)
	if err != nil {
		return err
	}
	if _, have := gens[s.Gen]; !have && len(gens) >= MaxWritesPerKey {
		return fmt.Errorf("%w: %v", ErrTooManyWrites, s.Key)
	}
	if err := l.db.Pebble.Set(shardKey(s), encoded, pebble.Sync); err != nil {
		return fmt.Errorf("files: put %v: %w", s.Key, err)
	}
	return l.db.Check()
}

// gens lists the writes of k stored here.
func (l *Local) gens(k Key) (map[uint64]struct{}, error) {
	p := keyPrefix(k)
	it, err := l.db.Pebble.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: pebbledb.PrefixEnd(p)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	out := map[uint64]struct{}{}
	for it.First(); it.Valid(); it.Next() {
		if k := it.Key(); len(k) == len(p)+9 {
			out[binary.BigEndian.Uint64(k[len(p):])] = struct{}{}
		}
	}
	return out, it.Error()
}

// Shards returns every shard of k stored here (of every write), each still encoded; one that no longer decodes
// (a damaged disk) is left out and reported in skipped.
func (l *Local) Shards(k Key) (shards [][]byte, skipped int, err error) {
	if err := l.db.Acquire(); err != nil {
		return nil, 0, err
	}
	defer l.db.Release()
	p := keyPrefix(k)
	it, err := l.db.Pebble.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: pebbledb.PrefixEnd(p)})
	if err != nil {
		return nil, 0, err
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		v := it.Value()
		if _, err := DecodeShard(v); err != nil {
			skipped++
			continue
		}
		shards = append(shards, append([]byte(nil), v...))
	}
	return shards, skipped, it.Error()
}

// Trim deletes the shards of k's writes older than gen (DESIGN.md invariant 2: the caller has stored gen on
// every one of its nodes).
func (l *Local) Trim(k Key, gen uint64) error {
	if err := l.db.Acquire(); err != nil {
		return err
	}
	defer l.db.Release()
	p := keyPrefix(k)
	if err := l.db.Pebble.DeleteRange(p, binary.BigEndian.AppendUint64(keyPrefix(k), gen), pebble.NoSync); err != nil {
		return fmt.Errorf("files: trim %v: %w", k, err)
	}
	return l.db.Check()
}

// Self is this node's Local as a Node of the Store (no RPC).
type Self struct {
	NodeID string
	Local  *Local
}

// ID implements Node.
func (s Self) ID() string { return s.NodeID }

// PutShard implements Node.
func (s Self) PutShard(_ context.Context, encoded []byte) error { return s.Local.Put(encoded) }

// Shards implements Node.
func (s Self) Shards(_ context.Context, k Key) ([][]byte, error) {
	out, _, err := s.Local.Shards(k)
	return out, err
}

// Trim implements Node.
func (s Self) Trim(_ context.Context, k Key, gen uint64) error { return s.Local.Trim(k, gen) }
