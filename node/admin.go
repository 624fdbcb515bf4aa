package node

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/raftgram/raftgram/fsm"
	"github.com/raftgram/raftgram/shard"
)

// startAdmin serves /metrics, /healthz, /readyz, /status, /cluster and, with DebugAPI, /debug/kv.
func (n *Node) startAdmin() error {
	addr := n.dd.File.Admin
	if addr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("admin listen %s: %w", addr, err)
	}
	n.adminLn = ln
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(n.metrics.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		if !n.Ready() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ready\n")
	})
	mux.HandleFunc("/status", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, n.LocalStatus()) })
	mux.HandleFunc("/cluster", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		writeJSON(w, n.ClusterStatus(ctx))
	})
	for path, h := range n.cfg.AdminHandlers {
		mux.Handle(path, h)
	}
	if n.cfg.DebugAPI {
		mux.HandleFunc("/debug/kv", n.debugKV)
		mux.HandleFunc("/debug/transfer", n.debugTransfer)
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	n.admin = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if err := n.admin.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.log.Error("admin server stopped", "err", err)
		}
	}()
	return nil
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// KVResult is the debug KV API's answer.
type KVResult struct {
	Shard     uint32 `json:"shard"`
	Found     bool   `json:"found"`
	Value     string `json:"value,omitempty"`
	Duplicate bool   `json:"duplicate,omitempty"`
	Error     string `json:"error,omitempty"`
}

// debugKV: GET /debug/kv?key=K reads linearizably; PUT /debug/kv?key=K[&rid=HEX32] with the value as body
// writes through Raft (rid = request id, for idempotent retries); adding expect=OLD (or expect_absent=1) makes
// it a compare-and-set that answers error "fsm: CAS_MISMATCH" when the current value differs. The shard is
// shard.OfBytes(key).
func (n *Node) debugKV(w http.ResponseWriter, r *http.Request) {
	key := r.URL.Query().Get("key")
	if key == "" {
		http.Error(w, "key required", http.StatusBadRequest)
		return
	}
	s := shard.OfBytes([]byte(key), n.Shards())
	if v := r.URL.Query().Get("shard"); v != "" {
		x, err := strconv.ParseUint(v, 10, 32)
		if err != nil || int(x) >= n.Shards() {
			http.Error(w, "bad shard", http.StatusBadRequest)
			return
		}
		s = uint32(x)
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	switch r.Method {
	case http.MethodGet:
		v, ok, err := n.Read(ctx, s, []byte(key))
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		writeJSON(w, KVResult{Shard: s, Found: ok, Value: string(v)})
	case http.MethodPut, http.MethodPost:
		val, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		cmd := fsm.Command{Type: fsm.TypeKVPut, Payload: fsm.EncodeKVPut([]byte(key), val)}
		q := r.URL.Query()
		if q.Has("expect") || q.Get("expect_absent") == "1" {
			var old []byte // nil: the key must be absent
			if q.Has("expect") {
				old = []byte(q.Get("expect"))
			}
			cmd = fsm.Command{Type: fsm.TypeKVCAS, Payload: fsm.EncodeKVCAS([]byte(key), old, val)}
		}
		if rid := r.URL.Query().Get("rid"); rid != "" {
			b, err := hex.DecodeString(rid)
			if err != nil || len(b) != len(cmd.RequestID) {
				http.Error(w, "bad rid", http.StatusBadRequest)
				return
			}
			copy(cmd.RequestID[:], b)
		}
		res, err := n.Propose(ctx, s, cmd)
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		out := KVResult{Shard: s, Found: true, Duplicate: res.Duplicate}
		if res.Err != nil {
			out.Error = res.Err.Error()
		}
		writeJSON(w, out)
	default:
		http.Error(w, "GET or PUT", http.StatusMethodNotAllowed)
	}
}

// debugTransfer (POST /debug/transfer?group=G, --debug-api only) asks this node, if it leads group G (a shard
// number, or "meta"), to hand leadership to another voter: the Jepsen harness's leadership-transfer storm.
// 409 when this node does not lead G.
func (n *Node) debugTransfer(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	gs := r.URL.Query().Get("group")
	g := shard.MetaGroup
	if gs != "meta" {
		x, err := strconv.ParseUint(gs, 10, 32)
		if err != nil || int(x) >= n.Shards() {
			http.Error(w, "bad group", http.StatusBadRequest)
			return
		}
		g = uint32(x)
	}
	grp := n.shards.Group(g)
	if grp == nil || !n.shards.IsLeader(g) {
		http.Error(w, "not the leader of this group", http.StatusConflict)
		return
	}
	if err := grp.Raft().LeadershipTransfer().Error(); err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	writeJSON(w, map[string]any{"group": gs, "transferred": true})
}
