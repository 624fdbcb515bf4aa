package box

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"syscall"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/raftgram/raftgram/fsm"
)

// sendBench is a State with two shards of chatting users, preloaded once per process and shared by every run of
// BenchmarkApplyBatchSendDeliver (the testing package calls a benchmark several times while it sizes b.N; a
// fresh preload each time would dominate the run).
type sendBench struct {
	st      *fsm.State
	dir     string
	sms     [2]*fsm.ShardFSM
	index   [2]uint64
	now     int64
	rng     *rand.Rand
	pairs   [][2]int64 // users of shard 0 and shard 1
	rid     int64
	pending [2][]Item // outbox items of shard s toward the other shard, from OnOutbox
	trimmed [2]uint64
}

// TestMain removes the shared benchmark State's directory.
func TestMain(m *testing.M) {
	code := m.Run()
	if sendBenchVal != nil {
		_ = sendBenchVal.st.Close()
		_ = os.RemoveAll(sendBenchVal.dir)
	}
	os.Exit(code)
}

var (
	sendBenchOnce sync.Once
	sendBenchVal  *sendBench
	sendBenchErr  error
)

// sendBenchStep is the proposer time between two commands: the preload spans more than one DedupWindow, so the
// measured commands run with dedup records expiring as fast as they are made (the steady state under load).
const sendBenchStep = 8

func newSendBench() (*sendBench, error) {
	dir, err := os.MkdirTemp("", "box-bench-")
	if err != nil {
		return nil, err
	}
	sb := &sendBench{dir: dir, now: 1_700_000_000_000, rng: rand.New(rand.NewPCG(7, 8))}
	opts := fsm.Options{OnFatal: func(err error) { panic(err) }}
	if mb, err := strconv.Atoi(os.Getenv("BENCH_CACHE_MB")); err == nil { // tuning experiments
		opts.CacheBytes = int64(mb) << 20
	}
	if mb, err := strconv.Atoi(os.Getenv("BENCH_MEMTABLE_MB")); err == nil { // tuning experiments
		opts.MemTableBytes = uint64(mb) << 20
	}
	st, err := fsm.Open(dir, opts)
	if err != nil {
		return nil, err
	}
	a := New(Config{Shards: 2, OnOutbox: func(src uint32, ps []Pending) {
		for _, p := range ps {
			sb.pending[src] = append(sb.pending[src], p.Items...)
		}
	}})
	for typ, ap := range a.Appliers() {
		st.Register(typ, ap)
	}
	sb.st = st
	sb.sms = [2]*fsm.ShardFSM{st.Shard(0), st.Shard(1)}
	u0, u1 := users(0, 10), users(1, 10)
	for i := range u0 {
		sb.pairs = append(sb.pairs, [2]int64{u0[i], u1[i]})
	}
	// ~45k dedup records live (one DedupWindow of commands), ~500k keys in the shards.
	warm := int(fsm.DedupWindow.Milliseconds()/sendBenchStep) * 11 / 10
	for n := 0; n < warm; n += 9 {
		if err := sb.round(n/9%2 == 0); err != nil {
			return nil, err
		}
	}
	return sb, nil
}

func (sb *sendBench) cmd(c fsm.Command) fsm.Command {
	sb.now += sendBenchStep
	c.Time = sb.now
	// As shard.Manager does: every proposal carries a fresh random request id.
	for i := range c.RequestID {
		c.RequestID[i] = byte(sb.rng.Uint32())
	}
	return c
}

func (sb *sendBench) applyBatch(s uint32, entries ...[]fsm.Command) error {
	logs := make([]*raft.Log, len(entries))
	for i, cmds := range entries {
		data, err := fsm.EncodeBatch(cmds)
		if err != nil {
			return err
		}
		sb.index[s]++
		logs[i] = &raft.Log{Index: sb.index[s], Term: 1, Type: raft.LogCommand, Data: data}
	}
	for _, r := range sb.sms[s].ApplyBatch(logs) {
		er := r.(*fsm.EntryResult)
		if er.Err != nil {
			return er.Err
		}
		for _, res := range er.Results {
			if res.Err != nil {
				return res.Err
			}
		}
	}
	return nil
}

// round: 8 sends from the users of one shard to their peers (one ApplyBatch of 2 entries of 4 commands, as
// proposer batching and raft's BatchApplyCh hand them over), then their delivery (one DeliverBatch), and a
// trim of the delivered outbox every 1024 items (as node/relay does).
func (sb *sendBench) round(fromZero bool) error {
	src, dst := uint32(0), uint32(1)
	if !fromZero {
		src, dst = 1, 0
	}
	var entries [2][]fsm.Command
	perm := sb.rng.Perm(len(sb.pairs)) // one message in flight per sender: 8 different pairs
	for i := range 8 {
		p := sb.pairs[perm[i]]
		from, to := p[src], p[dst]
		sb.rid++
		text := fmt.Sprint("benchmark message text ", sb.rid)
		s := Send{From: from, To: to, RandomID: sb.rid, Text: text, Fingerprint: Fingerprint(to, text, nil, 0)}
		entries[i/4] = append(entries[i/4], sb.cmd(s.Command()))
	}
	if err := sb.applyBatch(src, entries[0], entries[1]); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	items := sb.pending[src]
	sb.pending[src] = items[:0:0]
	d := DeliverBatch{Src: src, Items: items}
	if err := sb.applyBatch(dst, []fsm.Command{sb.cmd(d.Command())}); err != nil {
		return fmt.Errorf("deliver: %w", err)
	}
	last := items[len(items)-1].Seq
	if last-sb.trimmed[src] >= 1024 {
		t := OutboxTrim{Dst: dst, Upto: last}
		if err := sb.applyBatch(src, []fsm.Command{sb.cmd(t.Command())}); err != nil {
			return fmt.Errorf("trim: %w", err)
		}
		sb.trimmed[src] = last
	}
	return nil
}

// BenchmarkApplyBatchSendDeliver: the apply cost of one cross-shard send and of its delivery, through
// ShardFSM.ApplyBatch on a State already holding ~45k live dedup records and ~500k keys, with dedup records
// expiring as fast as they are made. One op = one send (its share of a batch of 8 sends in 2 entries) plus its
// share of the DeliverBatch of those 8 items on the recipient's shard. Real disk, NoSync as in production.
//
//	go test -run '^$' -bench ApplyBatchSendDeliver -benchtime 40000x -count 3 ./fsm/box/
func BenchmarkApplyBatchSendDeliver(b *testing.B) {
	sendBenchOnce.Do(func() { sendBenchVal, sendBenchErr = newSendBench() })
	if sendBenchErr != nil {
		b.Fatal(sendBenchErr)
	}
	sb := sendBenchVal
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := 0; i < b.N; i += 8 {
		if err := sb.round(i/8%2 == 0); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	// The machine is shared: process CPU time (Pebble's background work included) varies less than wall time.
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
}

// cpuTime returns the user+system CPU time of the process in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
