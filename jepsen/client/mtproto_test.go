package client

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/raftgram/raftgram/jepsen/history"
	"github.com/raftgram/raftgram/jepsen/validate"
	"github.com/raftgram/raftgram/node/testcluster"
)

func startMT(t *testing.T) (*testcluster.Cluster, MTOptions) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts 3 processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	c, err := testcluster.Start(ctx, testcluster.Options{Client: true, DevCode: "22222", Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		if t.Failed() {
			testcluster.LogTails(t, dir, 4000)
		}
	})
	pub, err := c.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	opts := MTOptions{PublicKey: pub, DevCode: "22222", Timeout: 10 * time.Second,
		SourceIP: func(i int) string { return fmt.Sprintf("127.0.1.%d", i+1) }}
	for _, n := range c.Nodes {
		opts.Addrs = append(opts.Addrs, n.Client)
	}
	return c, opts
}

// TestMTProtoDriver: the messenger driver and the register driver against a real cluster without faults: sends,
// reads through the other device, a device going offline and catching up, profile names and a username claim;
// every checker passes on the history.
func TestMTProtoDriver(t *testing.T) {
	_, opts := startMT(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rec := history.NewRecorder(time.Now, nil)
	m := NewMTMessenger(rec, opts, 2, 2, "1555", 1)
	defer m.Close()
	if err := m.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	msgs := NewMessages(rec, m)
	for i := range 6 {
		from, to := int64(i%2+1), int64(2-i%2)
		if e := msgs.Send(ctx, i, from, to, i%2, fmt.Sprintf("m%d", i)); e.Type != history.OK {
			t.Fatalf("send: %+v", e)
		}
		if i == 2 {
			m.users[1].devs[1].offline(ctx, 300*time.Millisecond) // misses pushes, then getDifference
		}
		if e := msgs.Read(ctx, i, from, to, 1-i%2, false); e.Type != history.OK {
			t.Fatalf("read: %+v", e)
		}
	}
	if err := m.Settle(ctx); err != nil {
		t.Fatal(err)
	}
	for u := int64(1); u <= 2; u++ {
		if e := msgs.Read(ctx, 100, u, 3-u, 0, true); e.Type != history.OK || len(e.Msgs) != 6 {
			t.Fatalf("final read: %+v", e)
		}
	}

	r := NewMTRegisters(rec, opts, 1, 2, 2, "1556")
	defer r.Close()
	if err := r.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	if e := r.PutName(ctx, 200, 0, 0, "alpha"); e.Type != history.OK {
		t.Fatalf("put name: %+v", e)
	}
	if e := r.GetName(ctx, 200, 0, 1, true); e.Type != history.OK || e.Value != "alpha" {
		t.Fatalf("get own name: %+v", e)
	}
	if e := r.GetName(ctx, 200, 0, 2, false); e.Type != history.OK || e.Value != "alpha" {
		t.Fatalf("observer get name: %+v", e)
	}
	if e := r.Claim(ctx, 201, 0, "jtestname"); e.Type != history.OK || e.Mismatch {
		t.Fatalf("claim: %+v", e)
	}
	if e := r.Claim(ctx, 202, 1, "jtestname"); e.Type != history.OK || !e.Mismatch {
		t.Fatalf("second claim: %+v", e)
	}
	if e := r.ResolveName(ctx, 203, 1, "jtestname", true); e.Type != history.OK || e.Value != "c0" {
		t.Fatalf("resolve: %+v", e)
	}
	if e := r.ResolveName(ctx, 203, 1, "jnobodyhas", true); e.Type != history.OK || !e.Absent {
		t.Fatalf("resolve free name: %+v", e)
	}

	evs := rec.Events()
	for _, res := range validate.Run(evs, validate.MessageSet{}, validate.DialogOrder{}, validate.ReadYourWrites{},
		validate.Pts{}, validate.Linearizable{}, validate.UniqueClaim{}) {
		if res.Verdict != validate.Valid {
			t.Errorf("%s: %s %s %+v", res.Checker, res.Verdict, res.Note, res.Anomalies)
		}
		t.Logf("%s: %v", res.Checker, res.Stats)
	}
	if t.Failed() {
		for _, e := range evs {
			t.Logf("%+v", e)
		}
	}
}
