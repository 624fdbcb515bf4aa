package raftlog

import (
	"encoding/binary"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

// appendReq is one writer's entry waiting for its group's appender.
type appendReq struct {
	data []byte
	done chan error
}

// runAppenders models hashicorp/raft's leader write path for `groups` groups: per group one goroutine (raft's
// main loop) drains up to maxBatch pending entries into one StoreLogs (raft's GROUP_COMMIT_LOOP), then acks
// them; `writers` goroutines each append one 256-byte entry at a time, round-robin over the groups, until total
// entries are acknowledged. It returns the elapsed time and the number of StoreLogs calls.
func runAppenders(b *testing.B, stores []raft.LogStore, writers, total, maxBatch int) (time.Duration, int64) {
	groups := len(stores)
	queues := make([]chan appendReq, groups)
	var commits atomic.Int64
	var wg sync.WaitGroup
	for g := range queues {
		queues[g] = make(chan appendReq, writers)
		wg.Add(1)
		go func(st raft.LogStore, q chan appendReq) {
			defer wg.Done()
			next, _ := st.LastIndex()
			next++
			var pending []appendReq
			for req := range q {
				pending = append(pending[:0], req)
			drain:
				for len(pending) < maxBatch {
					select {
					case r, ok := <-q:
						if !ok {
							break drain
						}
						pending = append(pending, r)
					default:
						break drain
					}
				}
				logs := make([]*raft.Log, len(pending))
				for i, p := range pending {
					logs[i] = &raft.Log{Index: next + uint64(i), Term: 1, Type: raft.LogCommand, Data: p.data}
				}
				err := st.StoreLogs(logs)
				commits.Add(1)
				next += uint64(len(logs))
				for _, p := range pending {
					p.done <- err
				}
			}
		}(stores[g], queues[g])
	}
	var left atomic.Int64
	left.Store(int64(total))
	payload := make([]byte, 256)
	start := time.Now()
	var ww sync.WaitGroup
	for w := 0; w < writers; w++ {
		ww.Add(1)
		go func() {
			defer ww.Done()
			done := make(chan error, 1)
			for left.Add(-1) >= 0 {
				queues[w%groups] <- appendReq{data: payload, done: done}
				if err := <-done; err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	ww.Wait()
	elapsed := time.Since(start)
	for _, q := range queues {
		close(q)
	}
	wg.Wait()
	return elapsed, commits.Load()
}

// BenchmarkLogStore: 64 writers appending 256-byte entries over 1/4/16/64 groups, into ONE shared Pebble store
// versus one raft-boltdb/v2 file per group. b.N is the number of entries. Reported: entries/s, StoreLogs
// commits per 1000 entries, fsyncs per 1000 entries (Pebble: counted WAL fsyncs; bolt: 2 per commit, bbolt's
// data + meta fdatasync). Run on the real disk:
//
//	go test -run '^$' -bench LogStore -benchtime 20000x ./shard/raftlog/
func BenchmarkLogStore(b *testing.B) {
	const writers, maxBatch = 64, 64 // raft's default MaxAppendEntries
	for _, groups := range []int{1, 4, 16, 64} {
		b.Run(fmt.Sprintf("pebble-shared/groups=%d", groups), func(b *testing.B) {
			s, err := Open(b.TempDir(), Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			stores := make([]raft.LogStore, groups)
			for g := range stores {
				stores[g] = s.Group(uint64(g))
			}
			b.ResetTimer()
			before := s.Metrics().WALSyncs
			elapsed, commits := runAppenders(b, stores, writers, b.N, maxBatch)
			syncs := s.Metrics().WALSyncs - before
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "entries/s")
			b.ReportMetric(1000*float64(commits)/float64(b.N), "commits/1k")
			b.ReportMetric(1000*float64(syncs)/float64(b.N), "fsyncs/1k")
		})
		b.Run(fmt.Sprintf("bolt-per-group/groups=%d", groups), func(b *testing.B) {
			dir := b.TempDir()
			stores := make([]raft.LogStore, groups)
			for g := range stores {
				bs, err := raftboltdb.NewBoltStore(filepath.Join(dir, fmt.Sprintf("g%d.bolt", g)))
				if err != nil {
					b.Fatal(err)
				}
				defer bs.Close()
				stores[g] = bs
			}
			b.ResetTimer()
			elapsed, commits := runAppenders(b, stores, writers, b.N, maxBatch)
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "entries/s")
			b.ReportMetric(1000*float64(commits)/float64(b.N), "commits/1k")
			b.ReportMetric(2000*float64(commits)/float64(b.N), "fsyncs/1k")
		})
	}
}

// BenchmarkSharedWithState answers "one Pebble for raft log and FSM state, or two?" (MULTIRAFT note §1.4.7)
// without an FSM: 64 writers append to 4 groups as in BenchmarkLogStore while a state writer commits the same
// bytes NoSync (as fsm applies do), either into the log store's own Pebble instance (keys outside the 'L'
// range) or into a separate instance.
//
//	go test -run '^$' -bench SharedWithState -benchtime 20000x ./shard/raftlog/
func BenchmarkSharedWithState(b *testing.B) {
	for _, shared := range []bool{true, false} {
		name := "separate-instances"
		if shared {
			name = "one-instance"
		}
		b.Run(name, func(b *testing.B) {
			s, err := Open(b.TempDir(), Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			stateDB := s.db
			if !shared {
				other, err := Open(b.TempDir(), Options{})
				if err != nil {
					b.Fatal(err)
				}
				defer other.Close()
				stateDB = other.db
			}
			stores := make([]raft.LogStore, 4)
			for g := range stores {
				stores[g] = &stateShadow{GroupLog: s.Group(uint64(g)), db: stateDB}
			}
			b.ResetTimer()
			before := s.Metrics().WALSyncs
			elapsed, _ := runAppenders(b, stores, 64, b.N, 64)
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "entries/s")
			b.ReportMetric(1000*float64(s.Metrics().WALSyncs-before)/float64(b.N), "log-fsyncs/1k")
		})
	}
}

// stateShadow appends to the log, then writes the same entries NoSync under a state prefix, as an FSM apply of
// those entries would.
type stateShadow struct {
	*GroupLog
	db *pebble.DB
}

func (s *stateShadow) StoreLogs(logs []*raft.Log) error {
	if err := s.GroupLog.StoreLogs(logs); err != nil {
		return err
	}
	batch := s.db.NewBatch()
	defer batch.Close()
	for _, l := range logs {
		k := binary.BigEndian.AppendUint64([]byte{0, 0, 0, 1, 1}, s.ID()<<40|l.Index)
		if err := batch.Set(k, l.Data, nil); err != nil {
			return err
		}
	}
	return s.db.Apply(batch, pebble.NoSync)
}
