package fsm

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/cockroachdb/pebble/v2"
	"github.com/hashicorp/raft"
)

// Snapshot stream format: see DESIGN.md "Snapshots".
const (
	snapMagic    = "RGFSMSN1"
	frameData    = 1
	frameEnd     = 2
	maxFrameBody = 64 << 10
	// MaxValueLen bounds a stored value, so that a snapshot frame (at most one record past maxFrameBody) has a
	// bound a restoring replica can check before allocating.
	MaxValueLen = 16 << 20
	maxFrame    = maxFrameBody + MaxValueLen + MaxKeyLen + 64
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrBadSnapshot: a snapshot stream failed its checks; the shard's state is unchanged.
var ErrBadSnapshot = errors.New("fsm: bad snapshot stream")

// Snapshot takes a point-in-time Pebble snapshot of the shard. raft calls it between applies. Once the State
// has halted (fail-stop) it refuses, so that raft cannot compact its log past an entry this node has not
// applied: after the fix and a restart, that entry must still be in the log to be replayed.
func (s *ShardFSM) Snapshot() (raft.FSMSnapshot, error) {
	if err := s.st.life.Acquire(); err != nil { // includes the sticky failure of a halted State
		return nil, err
	}
	defer s.st.life.Release()
	snap := s.st.db.NewSnapshot()
	s.st.trackSnapshot(snap, true)
	return &fsmSnapshot{s: s, snap: snap, applied: s.applied.Load(), term: s.appliedTerm.Load()}, nil
}

type fsmSnapshot struct {
	s             *ShardFSM
	snap          *pebble.Snapshot
	applied, term uint64
}

// Persist syncs the state DB (applies are not synced; raft may drop log entries once this snapshot is
// recorded), then streams the shard's key range.
func (f *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := f.persist(sink); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

func (f *fsmSnapshot) persist(w io.Writer) error {
	st := f.s.st
	if err := st.life.Acquire(); err != nil {
		return err
	}
	defer st.life.Release()
	// A synced empty write syncs the WAL, and with it every earlier unsynced apply.
	if err := st.db.LogData(nil, pebble.Sync); err != nil {
		return fmt.Errorf("fsm: shard %d: sync before snapshot: %w", f.s.id, err)
	}
	if err := st.life.Check(); err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	hdr := append([]byte(snapMagic), 0, 0, 0, 0)
	binary.BigEndian.PutUint32(hdr[len(snapMagic):], f.s.id)
	hdr = binary.BigEndian.AppendUint64(hdr, f.applied)
	hdr = binary.BigEndian.AppendUint64(hdr, f.term)
	if _, err := bw.Write(hdr); err != nil {
		return fmt.Errorf("fsm: shard %d: snapshot header: %w", f.s.id, err)
	}
	it, err := f.snap.NewIter(&pebble.IterOptions{LowerBound: f.s.lo, UpperBound: f.s.hi})
	if err != nil {
		return fmt.Errorf("fsm: shard %d: snapshot iterator: %w", f.s.id, err)
	}
	var body []byte
	var count uint64
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			_ = it.Close()
			return fmt.Errorf("fsm: shard %d: snapshot read: %w", f.s.id, err)
		}
		k := it.Key()[4:]
		body = binary.AppendUvarint(body, uint64(len(k)))
		body = append(body, k...)
		body = binary.AppendUvarint(body, uint64(len(v)))
		body = append(body, v...)
		count++
		if len(body) >= maxFrameBody {
			if err := writeFrame(bw, frameData, body); err != nil {
				_ = it.Close()
				return err
			}
			body = body[:0]
		}
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("fsm: shard %d: snapshot iterator: %w", f.s.id, err)
	}
	if len(body) > 0 {
		if err := writeFrame(bw, frameData, body); err != nil {
			return err
		}
	}
	if err := writeFrame(bw, frameEnd, binary.BigEndian.AppendUint64(nil, count)); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("fsm: shard %d: snapshot write: %w", f.s.id, err)
	}
	return nil
}

func writeFrame(w io.Writer, kind byte, body []byte) error {
	var h [9]byte
	h[0] = kind
	binary.BigEndian.PutUint32(h[1:], uint32(len(body)))
	binary.BigEndian.PutUint32(h[5:], crc32.Checksum(body, castagnoli))
	if _, err := w.Write(h[:]); err != nil {
		return fmt.Errorf("fsm: snapshot write: %w", err)
	}
	if _, err := w.Write(body); err != nil {
		return fmt.Errorf("fsm: snapshot write: %w", err)
	}
	return nil
}

// Release frees the Pebble snapshot.
func (f *fsmSnapshot) Release() {
	f.s.st.trackSnapshot(f.snap, false)
}

// Restore replaces the shard's whole key range with the stream's, applied index included, in one synced batch.
// On any error the shard's state is unchanged.
func (s *ShardFSM) Restore(rc io.ReadCloser) error {
	defer func() { _ = rc.Close() }()
	st := s.st
	if err := st.life.Acquire(); err != nil {
		return err
	}
	defer st.life.Release()
	br := bufio.NewReaderSize(rc, 64<<10)
	hdr := make([]byte, len(snapMagic)+4+16)
	if _, err := io.ReadFull(br, hdr); err != nil {
		return fmt.Errorf("%w: header: %v", ErrBadSnapshot, err)
	}
	if string(hdr[:len(snapMagic)]) != snapMagic {
		return fmt.Errorf("%w: not a raftgram shard snapshot (magic %q)", ErrBadSnapshot, hdr[:len(snapMagic)])
	}
	if id := binary.BigEndian.Uint32(hdr[len(snapMagic):]); id != s.id {
		return fmt.Errorf("%w: snapshot of shard %d restored into shard %d", ErrBadSnapshot, id, s.id)
	}
	hdrApplied := binary.BigEndian.Uint64(hdr[len(snapMagic)+4:])
	var streamApplied uint64 // from the stream's applied-index record, if any
	b := st.db.NewBatch()
	defer func() { _ = b.Close() }()
	if err := b.DeleteRange(s.lo, s.hi, nil); err != nil {
		return fmt.Errorf("fsm: shard %d: restore: %w", s.id, err)
	}
	var count uint64
	var fh [9]byte
	var body []byte
	var key []byte
	for {
		if _, err := io.ReadFull(br, fh[:]); err != nil {
			return fmt.Errorf("%w: frame header: %v", ErrBadSnapshot, err)
		}
		n := binary.BigEndian.Uint32(fh[1:])
		if n > maxFrame {
			return fmt.Errorf("%w: frame of %d bytes", ErrBadSnapshot, n)
		}
		if cap(body) < int(n) {
			body = make([]byte, n)
		}
		body = body[:n]
		if _, err := io.ReadFull(br, body); err != nil {
			return fmt.Errorf("%w: frame body: %v", ErrBadSnapshot, err)
		}
		if crc32.Checksum(body, castagnoli) != binary.BigEndian.Uint32(fh[5:]) {
			return fmt.Errorf("%w: frame checksum mismatch", ErrBadSnapshot)
		}
		switch fh[0] {
		case frameEnd:
			if len(body) != 8 || binary.BigEndian.Uint64(body) != count {
				return fmt.Errorf("%w: record count mismatch", ErrBadSnapshot)
			}
			if streamApplied != hdrApplied {
				return fmt.Errorf("%w: header says applied %d, records say %d", ErrBadSnapshot, hdrApplied, streamApplied)
			}
			if err := st.db.Apply(b, pebble.Sync); err != nil {
				err = fmt.Errorf("fsm: shard %d: restore commit: %w", s.id, err)
				st.life.Fatal(err)
				return err
			}
			if err := st.life.Check(); err != nil {
				return err
			}
			s.stale.Store(true) // the dedup records are the snapshot's now
			if err := s.loadAppliedLocked(); err != nil {
				st.life.Fatal(err)
				return err
			}
			st.restores.Add(1)
			st.log.Info("fsm: shard restored from snapshot", "shard", s.id, "applied", s.applied.Load(),
				"records", count)
			return nil
		case frameData:
			for len(body) > 0 {
				k, rest, ok := cutField(body)
				if !ok || len(k) == 0 || len(k) > 1+MaxKeyLen+64 {
					return fmt.Errorf("%w: bad key", ErrBadSnapshot)
				}
				v, rest, ok := cutField(rest)
				if !ok {
					return fmt.Errorf("%w: bad value", ErrBadSnapshot)
				}
				if len(k) == 2 && k[0] == spaceMeta && k[1] == metaApplied {
					if len(v) != 16 {
						return fmt.Errorf("%w: applied index record", ErrBadSnapshot)
					}
					streamApplied = binary.BigEndian.Uint64(v)
				}
				key = append(append(key[:0], s.lo...), k...)
				if err := b.Set(key, v, nil); err != nil {
					return fmt.Errorf("fsm: shard %d: restore: %w", s.id, err)
				}
				count++
				body = rest
			}
		default:
			return fmt.Errorf("%w: frame kind %d", ErrBadSnapshot, fh[0])
		}
	}
}

func cutField(b []byte) (field, rest []byte, ok bool) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return nil, nil, false
	}
	return b[k : k+int(n)], b[k+int(n):], true
}

// SnapshotApplied reads the applied index recorded in a snapshot's header (the state it holds is the state after
// that index). A node compares it with AppliedIndex on start: a state behind its newest snapshot must be
// restored from it, since raft replays only the log after the snapshot.
func (s *ShardFSM) SnapshotApplied(r io.Reader) (uint64, error) {
	hdr := make([]byte, len(snapMagic)+4+8)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return 0, fmt.Errorf("%w: header: %v", ErrBadSnapshot, err)
	}
	if string(hdr[:len(snapMagic)]) != snapMagic {
		return 0, fmt.Errorf("%w: not a raftgram shard snapshot", ErrBadSnapshot)
	}
	if id := binary.BigEndian.Uint32(hdr[len(snapMagic):]); id != s.id {
		return 0, fmt.Errorf("%w: snapshot of shard %d in shard %d's store", ErrBadSnapshot, id, s.id)
	}
	return binary.BigEndian.Uint64(hdr[len(snapMagic)+4:]), nil
}
