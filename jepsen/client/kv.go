package client

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/raftgram/raftgram/jepsen/history"
)

// KVOptions configures a KV client.
type KVOptions struct {
	// Admin lists each node's admin HTTP address (host:port), by node index.
	Admin []string
	// SourceIP, if set, gives the local address requests to node i are sent from (e.g. 127.0.1.(i+1)), so a
	// nemesis can cut clients from one node with a packet filter on the source address.
	SourceIP func(node int) string
	// Timeout bounds one operation (default 5 s). Past it a write is indeterminate (info).
	Timeout time.Duration
	// Rand draws request ids (injectable for determinism).
	Rand *rand.Rand
}

// KV runs register operations through the debug KV API.
type KV struct {
	opts  KVOptions
	rec   *history.Recorder
	http  []*http.Client
	randM sync.Mutex
}

// NewKV builds a client; it starts nothing.
func NewKV(rec *history.Recorder, opts KVOptions) *KV {
	if opts.Timeout == 0 {
		opts.Timeout = 5 * time.Second
	}
	if opts.Rand == nil {
		opts.Rand = rand.New(rand.NewPCG(1, 2))
	}
	k := &KV{opts: opts, rec: rec}
	for i := range opts.Admin {
		d := &net.Dialer{Timeout: opts.Timeout}
		if opts.SourceIP != nil {
			d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(opts.SourceIP(i))}
		}
		tr := &http.Transport{
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				c, err := d.DialContext(ctx, network, addr)
				if err != nil {
					return nil, &dialError{err}
				}
				return c, nil
			},
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     30 * time.Second,
		}
		k.http = append(k.http, &http.Client{Transport: tr, Timeout: opts.Timeout})
	}
	return k
}

// Close drops idle connections.
func (k *KV) Close() {
	for _, h := range k.http {
		h.CloseIdleConnections()
	}
}

// dialError marks a request that never left: the connection was not established.
type dialError struct{ err error }

func (e *dialError) Error() string { return "dial: " + e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

type kvAnswer struct {
	Found     bool   `json:"found"`
	Value     string `json:"value"`
	Duplicate bool   `json:"duplicate"`
	Error     string `json:"error"`
}

// Put writes key=value through node.
func (k *KV) Put(ctx context.Context, process, node int, key, value string) history.Event {
	inv := history.Event{Process: process, Node: node, F: "put", Key: key, Value: value}
	return k.write(ctx, inv, url.Values{})
}

// CAS sets key to value through node if its value is expect (absent: if the key does not exist).
func (k *KV) CAS(ctx context.Context, process, node int, key, expect string, absent bool, value string) history.Event {
	inv := history.Event{Process: process, Node: node, F: "cas", Key: key, Value: value, Expect: expect, Absent: absent}
	return k.write(ctx, inv, casQuery(expect, absent))
}

// Claim is a compare-and-set from absent recorded as f "claim" (the unique-claim workload).
func (k *KV) Claim(ctx context.Context, process, node int, key, claimant string) history.Event {
	inv := history.Event{Process: process, Node: node, F: "claim", Key: key, Value: claimant, Absent: true}
	return k.write(ctx, inv, casQuery("", true))
}

func casQuery(expect string, absent bool) url.Values {
	q := url.Values{}
	if absent {
		q.Set("expect_absent", "1")
	} else {
		q.Set("expect", expect)
	}
	return q
}

// Get reads key linearizably through node; final marks reads of the final phase.
func (k *KV) Get(ctx context.Context, process, node int, key string, final bool) history.Event {
	inv := history.Event{Process: process, Node: node, F: "get", Key: key, Final: final}
	inv = k.rec.Add(withType(inv, history.Invoke))
	ans, err := k.do(ctx, node, http.MethodGet, url.Values{"key": {key}}, nil)
	done := inv
	done.Type = history.OK
	switch {
	case err != nil:
		done.Type, done.Error = history.Fail, err.Error() // a read has no effect: fail, never info
	case ans.Error != "":
		done.Type, done.Error = history.Fail, ans.Error
	default:
		done.Value, done.Absent = ans.Value, !ans.Found
	}
	return k.rec.Add(done)
}

func (k *KV) write(ctx context.Context, inv history.Event, q url.Values) history.Event {
	q.Set("key", inv.Key)
	q.Set("rid", k.rid())
	inv = k.rec.Add(withType(inv, history.Invoke))
	ans, err := k.do(ctx, inv.Node, http.MethodPut, q, []byte(inv.Value))
	done := inv
	done.Type = history.OK
	var de *dialError
	var he *httpError
	switch {
	case errors.As(err, &de):
		done.Type, done.Error = history.Fail, err.Error()
	case errors.As(err, &he) && he.code == http.StatusBadRequest:
		done.Type, done.Error = history.Fail, err.Error()
	case err != nil:
		done.Type, done.Error = history.Info, err.Error()
	case strings.Contains(ans.Error, "CAS_MISMATCH"):
		done.Mismatch = true
	case ans.Error != "":
		// Some other answer of the state machine: when in doubt, unknown (never a false "did not happen").
		done.Type, done.Error = history.Info, ans.Error
	}
	return k.rec.Add(done)
}

func withType(e history.Event, t history.Type) history.Event {
	e.Type = t
	return e
}

func (k *KV) rid() string {
	k.randM.Lock()
	defer k.randM.Unlock()
	var b [16]byte
	for i := range b {
		b[i] = byte(k.opts.Rand.Uint32())
	}
	return hex.EncodeToString(b[:])
}

type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return fmt.Sprintf("http %d: %s", e.code, e.msg) }

func (k *KV) do(ctx context.Context, node int, method string, q url.Values, body []byte) (kvAnswer, error) {
	var ans kvAnswer
	if node < 0 || node >= len(k.http) {
		return ans, fmt.Errorf("kv: no node %d", node)
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+k.opts.Admin[node]+"/debug/kv?"+q.Encode(), rd)
	if err != nil {
		return ans, fmt.Errorf("kv: request: %w", err)
	}
	resp, err := k.http[node].Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is in the event already
		}
		return ans, fmt.Errorf("kv: %s via n%d: %w", method, node+1, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return ans, fmt.Errorf("kv: read answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return ans, &httpError{code: resp.StatusCode, msg: string(bytes.TrimSpace(b))}
	}
	if err := json.Unmarshal(b, &ans); err != nil {
		return ans, fmt.Errorf("kv: decode answer: %w", err)
	}
	return ans, nil
}
