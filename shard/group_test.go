package shard

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftgram/raftgram/fsm"
	"github.com/raftgram/raftgram/shard/raftlog"
)

// indexFSM is a state machine whose whole state is its applied index; its snapshot is that index (8 bytes).
type indexFSM struct {
	mu      sync.Mutex
	applied uint64
}

func (f *indexFSM) Apply(l *raft.Log) interface{} { return f.ApplyBatch([]*raft.Log{l})[0] }

func (f *indexFSM) ApplyBatch(ls []*raft.Log) []interface{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, l := range ls {
		if l.Index != f.applied+1 {
			panic("indexFSM: applied out of order") // the test's own invariant: raft hands every entry once, in order
		}
		f.applied = l.Index
	}
	return make([]interface{}, len(ls))
}

func (f *indexFSM) AppliedIndex() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.applied
}

func (f *indexFSM) Snapshot() (raft.FSMSnapshot, error) { return indexSnap(f.AppliedIndex()), nil }

func (f *indexFSM) SnapshotApplied(r io.Reader) (uint64, error) {
	var b [8]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint64(b[:]), nil
}

func (f *indexFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var b [8]byte
	if _, err := io.ReadFull(rc, b[:]); err != nil {
		return err
	}
	f.mu.Lock()
	f.applied = binary.BigEndian.Uint64(b[:])
	f.mu.Unlock()
	return nil
}

type indexSnap uint64

func (s indexSnap) Persist(sink raft.SnapshotSink) error {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(s))
	if _, err := sink.Write(b[:]); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

func (indexSnap) Release() {}

// tcpLayer is a raft.StreamLayer over plain TCP on 127.0.0.1.
type tcpLayer struct{ net.Listener }

func (l tcpLayer) Dial(a raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return net.DialTimeout("tcp", string(a), timeout)
}

func listen(t *testing.T) tcpLayer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return tcpLayer{ln}
}

// fakeLeader drives one follower replica with hand-made Raft RPCs over a real socket, so a test decides exactly
// which request arrives when (the interleavings of a cluster run, made deterministic).
type fakeLeader struct {
	t      *testing.T
	trans  *raft.NetworkTransport
	target raft.ServerAddress
	header raft.RPCHeader
	conf   raft.Configuration
}

func (l *fakeLeader) appendEntries(term, prev, prevTerm, from, to, commit uint64) *raft.AppendEntriesResponse {
	l.t.Helper()
	req := &raft.AppendEntriesRequest{RPCHeader: l.header, Term: term, PrevLogEntry: prev, PrevLogTerm: prevTerm,
		LeaderCommitIndex: commit}
	for i := from; i <= to && from != 0; i++ {
		req.Entries = append(req.Entries, &raft.Log{Index: i, Term: term, Type: raft.LogCommand, Data: []byte("x")})
	}
	var resp raft.AppendEntriesResponse
	if err := l.trans.AppendEntries("f", l.target, req, &resp); err != nil {
		l.t.Fatalf("append entries %d..%d: %v", from, to, err)
	}
	return &resp
}

func (l *fakeLeader) installSnapshot(term, index uint64) (*raft.InstallSnapshotResponse, error) {
	var data [8]byte
	binary.BigEndian.PutUint64(data[:], index)
	req := &raft.InstallSnapshotRequest{RPCHeader: l.header, SnapshotVersion: 1, Term: term, LastLogIndex: index,
		LastLogTerm: term, Configuration: raft.EncodeConfiguration(l.conf), ConfigurationIndex: 1,
		Size: int64(len(data))}
	var resp raft.InstallSnapshotResponse
	err := l.trans.InstallSnapshot("f", l.target, req, &resp, bytes.NewReader(data[:]))
	return &resp, err
}

// checkLogMatchesRaft: every entry raft counts in its log (after its last snapshot) is in the store, and the
// store holds one contiguous run. This is what hashicorp/raft's monotonic-store wipe after a snapshot install
// broke: raft kept claiming entries it had just deleted.
func checkLogMatchesRaft(t *testing.T, g *Group, store *raftlog.GroupLog, snapIndex uint64) {
	t.Helper()
	claimed := g.r.LastIndex() // max(last log, last snapshot)
	first, _ := store.FirstIndex()
	last, _ := store.LastIndex()
	if claimed > snapIndex && (last != claimed || first == 0 || first > snapIndex+1) {
		t.Fatalf("raft claims its log runs to %d (snapshot %d), the store holds %d..%d", claimed, snapIndex, first,
			last)
	}
	var l raft.Log
	for i := first; i <= last && first != 0; i++ {
		if err := store.GetLog(i, &l); err != nil {
			t.Fatalf("entry %d of %d..%d: %v", i, first, last, err)
		}
	}
}

func waitApplied(t *testing.T, f *indexFSM, want uint64) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); f.AppliedIndex() != want; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("state machine applied %d, want %d", f.AppliedIndex(), want)
		}
	}
}

// TestSnapshotInstallKeepsRaftAndLogConsistent is the deterministic reproduction of the wiped-node rejoin bug
// (issue 4, TestCluster/WipedNodeCatchesUpBySnapshot): a follower whose log runs past a snapshot gets that
// snapshot installed (in the cluster: from the leader's replication goroutine of the node's OLD incarnation,
// which fires once more after its failure backoff, with a stale next index, at the same address). With the
// store reporting IsMonotonic, hashicorp/raft v1.8.0 deleted the whole log but kept its last log index, so the
// next commit panicked in processLogs ("log not found"), or later appends left a hole behind. It also checks
// that a snapshot older than the applied state is refused and that an install past the log's end works.
func TestSnapshotInstallKeepsRaftAndLogConsistent(t *testing.T) {
	store, err := raftlog.Open(t.TempDir(), raftlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	sm := &indexFSM{}
	fl := listen(t)
	m, err := NewManager(Options{
		NodeID: "f", Addr: fl.Addr().String(), Dir: t.TempDir(),
		FSM:       func(uint32) StateMachine { return sm },
		Logs:      func(id uint32) raft.LogStore { return store.Group(uint64(id)) },
		Transport: func(uint32) raft.StreamLayer { return fl },
		Read:      func(uint32, []byte) ([]byte, bool, error) { return nil, false, nil },
		Applies:   func(fsm.CommandType) bool { return true },
		RaftConfig: func(_ uint32, c *raft.Config) {
			// The fake leader is the only clock: no elections, no local snapshots.
			c.HeartbeatTimeout, c.ElectionTimeout, c.LeaderLeaseTimeout = time.Minute, time.Minute, time.Minute
			c.SnapshotThreshold, c.SnapshotInterval = 1<<40, time.Hour
		},
		BalanceInterval: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	g, err := m.Open(0, nil)
	if err != nil {
		t.Fatal(err)
	}
	gl := store.Group(0)

	ll := listen(t)
	lt := raft.NewNetworkTransport(ll, 2, 10*time.Second, io.Discard)
	defer lt.Close()
	l := &fakeLeader{t: t, trans: lt, target: raft.ServerAddress(fl.Addr().String()),
		header: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("L"), Addr: []byte(ll.Addr().String())},
		conf: raft.Configuration{Servers: []raft.Server{
			{Suffrage: raft.Voter, ID: "L", Address: raft.ServerAddress(ll.Addr().String())},
			{Suffrage: raft.Voter, ID: "f", Address: raft.ServerAddress(fl.Addr().String())},
		}}}

	// 1..30 committed and applied.
	if r := l.appendEntries(1, 0, 0, 1, 30, 30); !r.Success {
		t.Fatalf("append 1..30 rejected: %+v", r)
	}
	waitApplied(t, sm, 30)

	// A snapshot below the applied index is refused and changes nothing.
	if _, err := l.installSnapshot(1, 20); err == nil || !strings.Contains(err.Error(), errStaleSnapshot.Error()) {
		t.Fatalf("stale snapshot: %v", err)
	}
	if sm.AppliedIndex() != 30 || g.r.LastIndex() != 30 {
		t.Fatalf("after a refused snapshot: applied %d, raft last index %d", sm.AppliedIndex(), g.r.LastIndex())
	}
	checkLogMatchesRaft(t, g, gl, 0)

	// 31..50 appended, not yet committed: the log runs past the snapshot that comes next.
	if r := l.appendEntries(1, 30, 1, 31, 50, 30); !r.Success {
		t.Fatalf("append 31..50 rejected: %+v", r)
	}
	if _, err := l.installSnapshot(1, 40); err != nil {
		t.Fatalf("install snapshot 40: %v", err)
	}
	if sm.AppliedIndex() != 40 {
		t.Fatalf("after installing snapshot 40 the state machine is at %d", sm.AppliedIndex())
	}
	checkLogMatchesRaft(t, g, gl, 40)
	if first, _ := gl.FirstIndex(); first != 41 {
		t.Fatalf("entries covered by the snapshot kept: first index %d, want 41", first)
	}
	// The leader continues from its match index 50: entries 41..51 are applied from the log.
	if r := l.appendEntries(1, 50, 1, 51, 51, 51); !r.Success {
		t.Fatalf("append 51 after the install rejected: %+v", r)
	}
	waitApplied(t, sm, 51)
	checkLogMatchesRaft(t, g, gl, 40)

	// A snapshot past the end of the log: the log is replaced, raft resumes after the snapshot.
	if _, err := l.installSnapshot(2, 100); err != nil {
		t.Fatalf("install snapshot 100: %v", err)
	}
	checkLogMatchesRaft(t, g, gl, 100)
	if r := l.appendEntries(2, 100, 2, 101, 105, 105); !r.Success {
		t.Fatalf("append 101..105 rejected: %+v", r)
	}
	waitApplied(t, sm, 105)
	checkLogMatchesRaft(t, g, gl, 100)
	if first, _ := gl.FirstIndex(); first != 101 {
		t.Fatalf("log after the second install starts at %d, want 101", first)
	}
	if err := m.Close(); err != nil && !errors.Is(err, raft.ErrRaftShutdown) {
		t.Fatal(err)
	}
}

// TestPipelineSurvivesRejection: after raft's pipeline decoder stops reading (a follower answered Success=false
// or a newer term), further pipelined sends and Close must still return. Over hashicorp/raft's bare
// NetworkTransport pipeline (MaxRPCsInFlight 2) the second send after that blocks forever, which wedged
// replication to a follower and hung Manager.Close.
func TestPipelineSurvivesRejection(t *testing.T) {
	fl := listen(t)
	follower := raft.NewNetworkTransport(fl, 2, 10*time.Second, io.Discard)
	defer follower.Close()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case rpc := <-follower.Consumer():
				rpc.Respond(&raft.AppendEntriesResponse{Term: 1, Success: false, NoRetryBackoff: true}, nil)
			case <-stop:
				return
			}
		}
	}()
	ll := listen(t)
	leader := newGuardedTransport(raft.NewNetworkTransport(ll, 2, 10*time.Second, io.Discard))
	defer leader.Close()
	p, err := leader.AppendEntriesPipeline("f", raft.ServerAddress(fl.Addr().String()))
	if err != nil {
		t.Fatal(err)
	}
	req := func(i uint64) *raft.AppendEntriesRequest {
		return &raft.AppendEntriesRequest{RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax,
			ID: []byte("L"), Addr: []byte(ll.Addr().String())}, Term: 1, PrevLogEntry: i, PrevLogTerm: 1}
	}
	if _, err := p.AppendEntries(req(1), new(raft.AppendEntriesResponse)); err != nil {
		t.Fatal(err)
	}
	f := <-p.Consumer() // raft's decoder reads one rejection, then stops reading (pipelineDecode returned)
	if f.Response().Success {
		t.Fatal("the follower accepted")
	}
	done := make(chan error, 1)
	go func() {
		for i := uint64(2); i <= 5; i++ {
			if _, err := p.AppendEntries(req(i), new(raft.AppendEntriesResponse)); err != nil {
				done <- err
				return
			}
		}
		done <- p.Close()
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second): // a hang detector, not a speed check: the sends return in milliseconds
		t.Fatal("pipelined sends after the decoder stopped reading are blocked")
	}
}
