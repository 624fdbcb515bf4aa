package client

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/raftgram/raftgram/jepsen/history"
)

// fakeKV mimics /debug/kv: a map, CAS, and a switch to answer 503 or hang.
type fakeKV struct {
	mu    sync.Mutex
	m     map[string]string
	fail  bool
	hang  chan struct{}
	peers map[string]bool
}

func (f *fakeKV) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	fail, hang := f.fail, f.hang
	f.peers[r.RemoteAddr] = true
	f.mu.Unlock()
	if hang != nil {
		<-hang
	}
	if fail {
		http.Error(w, "no leader", http.StatusServiceUnavailable)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	q := r.URL.Query()
	k := q.Get("key")
	out := map[string]any{}
	switch r.Method {
	case http.MethodGet:
		v, ok := f.m[k]
		out["found"], out["value"] = ok, v
	default:
		var b [64]byte
		n, _ := r.Body.Read(b[:])
		cur, ok := f.m[k]
		if q.Get("expect_absent") == "1" && ok || q.Has("expect") && (!ok || cur != q.Get("expect")) {
			out["error"] = "fsm: CAS_MISMATCH"
		} else {
			f.m[k] = string(b[:n])
		}
	}
	_ = json.NewEncoder(w).Encode(out)
}

func TestKVOutcomes(t *testing.T) {
	f := &fakeKV{m: map[string]string{}, peers: map[string]bool{}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadAddr := dead.Addr().String()
	dead.Close() // nothing listens there: connection refused
	rec := history.NewRecorder(time.Now, nil)
	k := NewKV(rec, KVOptions{Admin: []string{srv.Listener.Addr().String(), deadAddr},
		SourceIP: func(i int) string { return "127.0.1.1" }, Timeout: 500 * time.Millisecond})
	defer k.Close()
	ctx := context.Background()
	if e := k.Put(ctx, 0, 0, "x", "1"); e.Type != history.OK {
		t.Fatalf("put: %+v", e)
	}
	if e := k.Get(ctx, 0, 0, "x", false); e.Type != history.OK || e.Value != "1" || e.Absent {
		t.Fatalf("get: %+v", e)
	}
	if e := k.Get(ctx, 0, 0, "y", false); e.Type != history.OK || !e.Absent {
		t.Fatalf("get absent: %+v", e)
	}
	if e := k.Claim(ctx, 0, 0, "x", "me"); e.Type != history.OK || !e.Mismatch {
		t.Fatalf("claim of a taken key: %+v", e)
	}
	if e := k.CAS(ctx, 0, 0, "x", "1", false, "2"); e.Type != history.OK || e.Mismatch {
		t.Fatalf("cas: %+v", e)
	}
	if e := k.Put(ctx, 0, 1, "x", "3"); e.Type != history.Fail {
		t.Fatalf("refused connection must be fail: %+v", e)
	}
	f.mu.Lock()
	f.fail = true
	f.mu.Unlock()
	if e := k.Put(ctx, 0, 0, "x", "4"); e.Type != history.Info {
		t.Fatalf("503 on a write must be info: %+v", e)
	}
	if e := k.Get(ctx, 0, 0, "x", false); e.Type != history.Fail {
		t.Fatalf("503 on a read must be fail: %+v", e)
	}
	f.mu.Lock()
	f.fail, f.hang = false, make(chan struct{})
	hang := f.hang
	f.mu.Unlock()
	if e := k.Put(ctx, 0, 0, "x", "5"); e.Type != history.Info {
		t.Fatalf("timeout on a write must be info: %+v", e)
	}
	close(hang)
	f.mu.Lock()
	for p := range f.peers {
		if h, _, _ := net.SplitHostPort(p); h != "127.0.1.1" {
			t.Fatalf("request came from %s, want the source address 127.0.1.1", p)
		}
	}
	f.mu.Unlock()
	if _, err := history.Pair(rec.Events()); err != nil {
		t.Fatal(err)
	}
}
