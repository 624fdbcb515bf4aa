package help

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/raftgram/raftgram/node"
	"github.com/raftgram/raftgram/node/messenger"
)

func TestBuildDCOptions(t *testing.T) {
	opts := BuildDCOptions([]node.ClientAddrs{
		{NodeID: "n1", TCP: "127.0.0.1:2443", WS: "127.0.0.1:2443"},
		{NodeID: "n2", TCP: "[::1]:2444"},
		{NodeID: "n3", TCP: "0.0.0.0:2445", WS: "10.0.0.3:80"}, // unspecified host: not dialable
		{NodeID: "n4", TCP: "example.org:2446"},                // not an IP
		{NodeID: "n5", TCP: "127.0.0.1:0"},
	}, 1)
	type want struct {
		ip     string
		port   int32
		v6, ws bool
	}
	wants := []want{{"127.0.0.1", 2443, false, false}, {"127.0.0.1", 2443, false, true}, {"::1", 2444, true, false},
		{"10.0.0.3", 80, false, true}}
	if len(opts) != len(wants) {
		t.Fatalf("%d options: %v", len(opts), opts)
	}
	for i, w := range wants {
		o := opts[i]
		if o.ID != 1 || o.IPAddress != w.ip || o.Port != w.port || o.IPv6 != w.v6 || o.ThisPortOnly != w.ws ||
			o.MediaOnly || o.CDN || o.TcpoOnly {
			t.Errorf("option %d = %+v, want %+v", i, o, w)
		}
	}
}

// TestDCOptionsCache: the list is reused for a short while, reloaded after, the last good list serves while
// the cluster cannot answer, and this node's own address fills in when nothing is known.
func TestDCOptionsCache(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	h := &Domain{clock: func() time.Time { return now }, opts: messenger.Options{ClientAddr: "127.0.0.1:7000"},
		log: slog.New(slog.DiscardHandler)}
	loads := 0
	var addrs []node.ClientAddrs
	var loadErr error
	members := 2
	h.dcsLoad = func(context.Context) ([]node.ClientAddrs, int, error) {
		loads++
		return addrs, members, loadErr
	}
	ctx := context.Background()

	// Nothing known and the cluster unavailable: this node alone.
	loadErr = errors.New("no leader")
	opts, err := h.dcOptions(ctx)
	if err != nil || len(opts) != 2 || opts[0].Port != 7000 {
		t.Fatalf("fallback: %v %v", opts, err)
	}

	// Both members published: both listed, cached for dcCacheFull.
	loadErr = nil
	addrs = []node.ClientAddrs{{NodeID: "a", TCP: "127.0.0.1:7000", WS: "127.0.0.1:7000"},
		{NodeID: "b", TCP: "127.0.0.1:7001", WS: "127.0.0.1:7001"}}
	now = now.Add(dcCacheFull) // past the fallback's short TTL
	if opts, _ = h.dcOptions(ctx); len(opts) != 4 {
		t.Fatalf("two nodes: %v", opts)
	}
	before := loads
	now = now.Add(dcCacheFull - time.Millisecond)
	if _, _ = h.dcOptions(ctx); loads != before {
		t.Fatal("cached list reloaded early")
	}
	now = now.Add(time.Millisecond)
	if _, _ = h.dcOptions(ctx); loads != before+1 {
		t.Fatal("cached list not reloaded after it expired")
	}

	// The cluster stops answering: the last list still serves.
	loadErr = errors.New("timeout")
	now = now.Add(dcCacheFull)
	if opts, err = h.dcOptions(ctx); err != nil || len(opts) != 4 {
		t.Fatalf("stale list: %v %v", opts, err)
	}
	before = loads
	if _, _ = h.dcOptions(ctx); loads != before {
		t.Fatal("the stale list is not kept briefly: every call waits for the failing read")
	}
	now = now.Add(dcCacheShort)

	// A member that has not published yet: this node is added and the list is kept only briefly.
	loadErr = nil
	addrs = []node.ClientAddrs{{NodeID: "b", TCP: "127.0.0.1:7001"}}
	now = now.Add(dcCacheFull)
	if opts, _ = h.dcOptions(ctx); len(opts) != 3 {
		t.Fatalf("incomplete list with self: %v", opts)
	}
	before = loads
	now = now.Add(dcCacheShort)
	if _, _ = h.dcOptions(ctx); loads != before+1 {
		t.Fatal("incomplete list kept as long as a complete one")
	}
}
