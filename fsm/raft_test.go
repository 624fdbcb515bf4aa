package fsm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"

	"github.com/raftgram/raftgram/shard/raftlog"
)

// typeBump increments "bumps" with no guard: a replica that re-applies or skips an entry ends with a different
// count, which the dump comparison catches.
const typeBump CommandType = 110

const testShard = 1

// replica is one member of an in-memory-transport raft group using the shared log store, this FSM, a
// raft-boltdb stable store and a file snapshot store. The Pebble filesystems outlive restarts.
type replica struct {
	t       *testing.T
	id      raft.ServerID
	addr    raft.ServerAddress
	dir     string // bolt and snapshots, on the real disk
	logFS   *vfs.MemFS
	stateFS *vfs.MemFS

	trans  *raft.InmemTransport
	logs   *raftlog.Store
	state  *State
	stable *raftboltdb.BoltStore
	raft   *raft.Raft

	old    bool       // an older binary: no Applier for typeNew
	fatals chan error // if set, receives OnFatal calls instead of failing the test
}

func raftConfig(id raft.ServerID) *raft.Config {
	c := raft.DefaultConfig()
	c.LocalID = id
	// Generous for -race on a loaded 2-core machine; elections still take well under a second.
	c.HeartbeatTimeout = 300 * time.Millisecond
	c.ElectionTimeout = 300 * time.Millisecond
	c.LeaderLeaseTimeout = 150 * time.Millisecond
	c.CommitTimeout = 5 * time.Millisecond
	c.LogOutput = io.Discard
	// The settings fsm/doc.go asks node/ for, with a small snapshot threshold so that snapshots, log
	// compaction and snapshot installs happen within the test.
	c.NoSnapshotRestoreOnStart = true
	c.BatchApplyCh = true
	c.MaxAppendEntries = 256
	c.SnapshotThreshold = 64
	c.SnapshotInterval = 50 * time.Millisecond
	c.TrailingLogs = 32
	return c
}

func (r *replica) start() {
	t := r.t
	var err error
	r.logs, err = raftlog.Open("log", raftlog.Options{FS: r.logFS, OnFatal: func(err error) { t.Errorf("log fatal: %v", err) }})
	if err != nil {
		t.Fatal(err)
	}
	if r.fatals != nil {
		r.state, err = Open("state", Options{FS: r.stateFS, OnFatal: func(err error) {
			select {
			case r.fatals <- err:
			default:
			}
		}})
		if err != nil {
			t.Fatal(err)
		}
		registerTestAppliers(r.state)
	} else {
		r.state = openState(t, r.stateFS, "state")
	}
	if !r.old {
		registerNew(r.state)
	}
	r.state.Register(typeBump, ApplierFunc(func(tx *Tx, cmd Command) ([]byte, error) {
		v, _, err := tx.Get([]byte("bumps"))
		if err != nil {
			return nil, err
		}
		var n uint64
		if len(v) == 8 {
			n = binary.BigEndian.Uint64(v)
		}
		return nil, tx.Set([]byte("bumps"), binary.BigEndian.AppendUint64(nil, n+1))
	}))
	r.stable, err = raftboltdb.NewBoltStore(filepath.Join(r.dir, "stable.bolt"))
	if err != nil {
		t.Fatal(err)
	}
	snaps, err := raft.NewFileSnapshotStore(filepath.Join(r.dir, "snaps"), 2, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	r.addr, r.trans = raft.NewInmemTransport(r.addr)
	cache, err := raft.NewLogCache(128, r.logs.Group(testShard))
	if err != nil {
		t.Fatal(err)
	}
	r.raft, err = raft.NewRaft(raftConfig(r.id), r.state.Shard(testShard), cache, r.stable, snaps, r.trans)
	if err != nil {
		t.Fatal(err)
	}
}

func (r *replica) stop() { r.stopWith(nil) }

// stopWith shuts raft down; crash, if set, runs before the stores are closed (Close syncs Pebble's WAL), which
// is where a power loss drops their unsynced writes.
func (r *replica) stopWith(crash func()) {
	if err := r.raft.Shutdown().Error(); err != nil {
		r.t.Fatal(err)
	}
	_ = r.trans.Close()
	if crash != nil {
		crash()
	}
	for _, c := range []io.Closer{r.logs, r.state, r.stable} {
		if err := c.Close(); err != nil {
			r.t.Fatal(err)
		}
	}
}

type cluster struct {
	t  *testing.T
	rs []*replica
}

func newCluster(t *testing.T, n int) *cluster {
	c := &cluster{t: t}
	var servers []raft.Server
	for i := 0; i < n; i++ {
		r := &replica{t: t, id: raft.ServerID(fmt.Sprint("r", i)), addr: raft.ServerAddress(fmt.Sprint("r", i)),
			dir: t.TempDir(), logFS: vfs.NewCrashableMem(), stateFS: vfs.NewCrashableMem()}
		r.start()
		c.rs = append(c.rs, r)
		servers = append(servers, raft.Server{ID: r.id, Address: r.addr})
	}
	c.connect()
	if err := c.rs[0].raft.BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *cluster) connect() {
	for _, a := range c.rs {
		for _, b := range c.rs {
			if a != b {
				a.trans.Connect(b.addr, b.trans)
			}
		}
	}
}

func (c *cluster) leader() *replica {
	deadline := time.Now().Add(30 * time.Second) // liveness bound only, generous for a loaded machine
	for time.Now().Before(deadline) {
		for _, r := range c.rs {
			if r.raft.State() == raft.Leader {
				return r
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.t.Fatal("no leader within 30s")
	return nil
}

// write proposes n entries of `per` commands each, concurrently, and checks every result.
func (c *cluster) write(tag string, n, per int) {
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		var cmds []Command
		for j := 0; j < per; j++ {
			cmds = append(cmds,
				Command{Type: typeBump, RequestID: RequestID{2, byte(i), byte(j), tag[0]}, Time: 1},
				Command{Type: TypeKVPut, RequestID: RequestID{1, byte(i), byte(j), tag[0]}, Time: int64(i),
					Payload: EncodeKVPut([]byte(fmt.Sprintf("%s/%d/%d", tag, i, j)), []byte(tag))})
		}
		data, err := EncodeBatch(cmds)
		if err != nil {
			c.t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for attempt := 0; ; attempt++ { // retry across leader changes; the request ids make retries safe
				f := c.leader().raft.Apply(data, 5*time.Second)
				if err := f.Error(); err != nil {
					if attempt < 20 {
						time.Sleep(20 * time.Millisecond)
						continue
					}
					errs <- err
					return
				}
				res := f.Response().(*EntryResult)
				if res.Err != nil {
					errs <- res.Err
					return
				}
				for _, r := range res.Results {
					if r.Err != nil {
						errs <- r.Err
						return
					}
				}
				return
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		c.t.Fatal(err)
	}
}

// converge waits until every replica applied what the leader applied, then compares their states.
func (c *cluster) converge() []string {
	var l *replica
	for attempt := 0; ; attempt++ { // a leader change (this machine is loaded) fails the barrier: retry
		l = c.leader()
		err := l.raft.Barrier(5 * time.Second).Error()
		if err == nil {
			break
		}
		if attempt == 20 {
			c.t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	target := l.state.Shard(testShard).AppliedIndex()
	deadline := time.Now().Add(30 * time.Second) // liveness bound only, generous for a loaded machine
	for _, r := range c.rs {
		for r.state.Shard(testShard).AppliedIndex() < target {
			if time.Now().After(deadline) {
				c.t.Fatalf("%s applied %d, leader %d", r.id, r.state.Shard(testShard).AppliedIndex(), target)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	want := dump(c.t, l.state, testShard)
	for _, r := range c.rs {
		if got := dump(c.t, r.state, testShard); !reflect.DeepEqual(got, want) {
			c.t.Fatalf("%s differs from leader %s: %d vs %d keys", r.id, l.id, len(got), len(want))
		}
	}
	return want
}

func (c *cluster) follower() *replica {
	l := c.leader()
	for _, r := range c.rs {
		if r != l {
			return r
		}
	}
	return nil
}

func bumps(t *testing.T, st *State) uint64 {
	v, ok, err := st.Read(testShard, []byte("bumps"))
	if err != nil || !ok {
		t.Fatalf("bumps: %v %v", ok, err)
	}
	return binary.BigEndian.Uint64(v)
}

// TestRaftThreeReplicas runs hashicorp/raft with 3 replicas over the shared log store and this FSM: writes
// converge to identical states; a follower restarted from its dirs neither re-applies nor skips; a follower that
// loses power (unsynced Pebble writes of both stores dropped) recovers; a follower with wiped dirs catches up by
// snapshot install (Restore); snapshots compact the log.
func TestRaftThreeReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("raft cluster")
	}
	c := newCluster(t, 3)
	defer func() {
		for _, r := range c.rs {
			r.stop()
		}
	}()
	c.write("a", 60, 3)
	c.converge()
	if got := bumps(t, c.leader().state); got != 180 {
		t.Fatalf("bumps %d, want 180", got)
	}

	// Clean restart of a follower from its dirs.
	f := c.follower()
	f.stop()
	c.write("b", 40, 2) // the group keeps going with 2 of 3
	f.start()
	c.connect()
	c.write("c", 20, 2)
	c.converge()
	if got := bumps(t, f.state); got != 180+80+40 {
		t.Fatalf("restarted follower bumps %d, want 300", got)
	}

	// Power loss on a follower right after its last write: only what was synced survives. Its applies were not
	// synced, so its state rolls back and raft's replay must redo exactly the lost entries.
	f = c.follower()
	appliedBefore := f.state.Shard(testShard).AppliedIndex()
	var logFS, stateFS *vfs.MemFS
	f.stopWith(func() {
		logFS = f.logFS.CrashClone(vfs.CrashCloneCfg{})
		stateFS = f.stateFS.CrashClone(vfs.CrashCloneCfg{})
	})
	f.logFS, f.stateFS = logFS, stateFS
	c.write("d", 20, 1)
	f.start()
	t.Logf("power loss: follower applied %d before, %d after restart", appliedBefore, f.state.Shard(testShard).AppliedIndex())
	c.connect()
	c.converge()
	if got := bumps(t, f.state); got != 180+80+40+20 {
		t.Fatalf("follower after power loss: bumps %d, want 320", got)
	}

	// Lagging follower with its old log: the leader compacted past it, so it installs a snapshot over existing
	// state and log (Restore replaces the shard; the monotonic log store is wiped by raft and continues).
	f = c.follower()
	f.stop()
	c.write("l", 150, 1)
	f.start()
	c.connect()
	c.write("m", 10, 1)
	c.converge()
	if f.state.Metrics().Restores == 0 {
		t.Fatal("lagging follower caught up without a snapshot install")
	}
	if first, _ := f.logs.Group(testShard).FirstIndex(); first <= 1 {
		t.Fatalf("lagging follower's log starts at %d after the install", first)
	}

	// Wiped follower: all its data gone; the leader has compacted its log, so it must send a snapshot.
	f = c.follower()
	f.stop()
	c.write("e", 150, 1) // enough entries for the leader to snapshot and truncate past the follower
	f.dir, f.logFS, f.stateFS = t.TempDir(), vfs.NewCrashableMem(), vfs.NewCrashableMem()
	f.start()
	c.connect()
	c.write("f", 10, 1)
	final := c.converge()
	if got := bumps(t, f.state); got != 180+80+40+20+150+10+150+10 {
		t.Fatalf("wiped follower bumps %d", got)
	}
	if f.state.Metrics().Restores == 0 {
		t.Fatal("wiped follower caught up without a snapshot install")
	}
	if len(final) < 400 {
		t.Fatalf("final state only %d keys", len(final))
	}
	// Compaction: the leader's log no longer starts at 1 and holds about TrailingLogs + SnapshotThreshold.
	l := c.leader()
	first, _ := l.logs.Group(testShard).FirstIndex()
	last, _ := l.logs.Group(testShard).LastIndex()
	if first <= 1 || last-first > 400 {
		t.Fatalf("leader log %d..%d: not compacted", first, last)
	}
}

// TestRaftDeposedLeaderTruncates: a leader cut off from its followers appends entries that never commit; after
// the partition heals, the new leader's log overwrites them (the follower path: DeleteRange of the conflicting
// suffix, then StoreLogs), and no replica applied any of them.
func TestRaftDeposedLeaderTruncates(t *testing.T) {
	if testing.Short() {
		t.Skip("raft cluster")
	}
	c := newCluster(t, 3)
	defer func() {
		for _, r := range c.rs {
			r.stop()
		}
	}()
	c.write("a", 20, 1)
	c.converge()
	old := c.leader()
	oldLast, _ := old.logs.Group(testShard).LastIndex()
	old.trans.DisconnectAll()
	for _, r := range c.rs {
		if r != old {
			r.trans.Disconnect(old.addr)
		}
	}
	// Proposals to the isolated leader: appended to its own log, never committed.
	var futures []raft.ApplyFuture
	for i := 0; i < 10; i++ {
		data := EncodeCommand(Command{Type: typeBump, RequestID: RequestID{9, byte(i)}, Time: 1})
		futures = append(futures, old.raft.Apply(data, 3*time.Second))
	}
	for _, f := range futures {
		if f.Error() == nil {
			t.Fatal("a proposal committed without a majority")
		}
	}
	if last, _ := old.logs.Group(testShard).LastIndex(); last <= oldLast {
		t.Fatalf("isolated leader did not append (last %d, before %d)", last, oldLast)
	}
	// The majority elects a new leader and moves on.
	var majority []*replica
	for _, r := range c.rs {
		if r != old {
			majority = append(majority, r)
		}
	}
	rest := &cluster{t: t, rs: majority}
	rest.write("b", 20, 1)
	c.connect()
	c.converge()
	for _, r := range c.rs {
		if got := bumps(t, r.state); got != 40 {
			t.Fatalf("%s: bumps %d, want 40 (uncommitted entries applied?)", r.id, got)
		}
	}
	// The old leader's log no longer holds its uncommitted entries.
	last, _ := old.logs.Group(testShard).LastIndex()
	for i := oldLast + 1; i <= last; i++ {
		var l raft.Log
		if err := old.logs.Group(testShard).GetLog(i, &l); err != nil {
			if err == raft.ErrLogNotFound { //nolint:errorlint // compacted
				continue
			}
			t.Fatal(err)
		}
		if l.Type != raft.LogCommand {
			continue
		}
		cmds, err := DecodeBatch(l.Data)
		if err != nil {
			t.Fatal(err)
		}
		if cmds[0].RequestID[0] == 9 {
			t.Fatalf("index %d still holds an uncommitted entry of the deposed leader", i)
		}
	}
}

// TestRaftMixedVersionFailStop: a follower still on an older binary (no Applier for typeNew) halts on the first
// typeNew entry while the rest of the group applies it; it does not skip it or store an error result. Stopped
// (as OnFatal's exit would) and restarted with the newer binary, it replays the entry from its own log exactly
// once and converges byte-identically.
func TestRaftMixedVersionFailStop(t *testing.T) {
	if testing.Short() {
		t.Skip("raft cluster")
	}
	c := newCluster(t, 3)
	defer func() {
		for _, r := range c.rs {
			r.stop()
		}
	}()
	c.write("a", 20, 1)
	c.converge()
	f := c.follower()
	f.stop()
	f.old, f.fatals = true, make(chan error, 1)
	f.start()
	c.connect()
	c.write("b", 10, 1) // the older binary applies what it knows
	c.converge()

	data := EncodeCommand(Command{Type: typeNew, RequestID: RequestID{7, 7}, Time: 1})
	var index uint64
	for attempt := 0; ; attempt++ { // retry across leader changes; the request id makes retries safe
		fut := c.leader().raft.Apply(data, 5*time.Second)
		if err := fut.Error(); err != nil {
			if attempt < 20 {
				time.Sleep(20 * time.Millisecond)
				continue
			}
			t.Fatal(err)
		}
		index = fut.Index()
		break
	}
	var fatal error
	select {
	case fatal = <-f.fatals:
	case <-time.After(30 * time.Second): // liveness bound only
		t.Fatal("the older replica did not halt")
	}
	if !errors.Is(fatal, ErrUnknownType) {
		t.Fatalf("fatal: %v", fatal)
	}
	if got := f.state.Shard(testShard).AppliedIndex(); got >= index {
		t.Fatalf("older replica applied index %d >= the unknown entry %d", got, index)
	}
	if _, err := f.state.Shard(testShard).Snapshot(); err == nil {
		t.Fatal("halted replica took a snapshot")
	}
	var l raft.Log
	if err := f.logs.Group(testShard).GetLog(index, &l); err != nil {
		t.Fatalf("unapplied entry %d not in the halted replica's log: %v", index, err)
	}
	f.stop() // what OnFatal's exit does in production

	var rest []*replica
	for _, r := range c.rs {
		if r != f {
			rest = append(rest, r)
		}
	}
	(&cluster{t: t, rs: rest}).write("c", 10, 1)
	f.old, f.fatals = false, nil // the upgrade
	f.start()
	c.connect()
	c.write("d", 10, 1)
	c.converge()
	for _, r := range c.rs {
		v, ok, err := r.state.Read(testShard, []byte("news"))
		if err != nil || !ok || binary.BigEndian.Uint64(v) != 1 {
			t.Fatalf("%s: news %x %v %v, want applied exactly once", r.id, v, ok, err)
		}
	}
	if f.state.Metrics().Restores != 0 {
		t.Fatal("upgraded replica caught up by snapshot install instead of replaying its log")
	}
}
