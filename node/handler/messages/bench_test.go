package messages_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gotd/td/tg"

	"github.com/raftgram/raftgram/gateway"
	"github.com/raftgram/raftgram/node/handler"
	"github.com/raftgram/raftgram/shard"
	"github.com/raftgram/raftgram/tl"
	"github.com/raftgram/raftgram/tl/api"
)

// BenchmarkChat: acknowledged sendMessage per second and send-to-push latency (p50/p99) with P client pairs
// (one message in flight per sender) through real gotd clients, on one node with 3 shards (fsync on), senders
// and recipients on different shards. go test -run '^$' -bench Chat -benchtime 2000x ./node/handler/messages
func BenchmarkChat(b *testing.B) {
	for _, pairs := range []int{10, 100} {
		b.Run(fmt.Sprintf("pairs=%d", pairs), func(b *testing.B) { benchChat(b, pairs) })
	}
}

func benchChat(b *testing.B, pairs int) {
	c := startCluster(b, 3)
	var mu sync.Mutex
	var lat []time.Duration
	var received atomic.Int64
	hook := func(u tg.UpdatesClass) {
		us, ok := u.(*tg.UpdateShort)
		if !ok {
			return
		}
		n, ok := us.Update.(*tg.UpdateNewMessage)
		if !ok {
			return
		}
		m, ok := n.Message.(*tg.Message)
		if !ok || m.Out {
			return
		}
		sent, err := strconv.ParseInt(strings.Fields(m.Message)[0], 10, 64)
		if err != nil {
			return
		}
		d := time.Since(time.Unix(0, sent))
		mu.Lock()
		lat = append(lat, d)
		mu.Unlock()
		received.Add(1)
	}
	type pair struct{ from, to *device }
	var ps []pair
	next := int64(1000)
	for range pairs {
		a := next
		bb := a + 1
		for shard.Of(bb, 3) == shard.Of(a, 3) {
			bb++
		}
		next = bb + 1
		ps = append(ps, pair{c.deviceWith(b, a, func(tg.UpdatesClass) {}), c.deviceWith(b, bb, hook)})
	}
	per := max(b.N/pairs, 1)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	var rid atomic.Int64
	for _, p := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range per {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				_, err := p.from.api.MessagesSendMessage(ctx, &tg.MessagesSendMessageRequest{
					Peer: c.peer(p.from.user, p.to.user), Message: fmt.Sprint(time.Now().UnixNano(), " x"),
					RandomID: rid.Add(1)})
				cancel()
				if err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	total := per * pairs
	deadline := time.Now().Add(30 * time.Second)
	for received.Load() < int64(total) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	b.StopTimer()
	mu.Lock()
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-push-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-push-ms")
	}
	mu.Unlock()
	b.ReportMetric(float64(total)/elapsed.Seconds(), "sends/s")
	b.ReportMetric(float64(received.Load()), "pushed")
}

// recordingEdge stands in for the gateway: it timestamps new messages pushed to recipients.
type recordingEdge struct {
	mu  sync.Mutex
	lat []time.Duration
	n   atomic.Int64
}

func (e *recordingEdge) BindUser(int64, int64) {}

func (e *recordingEdge) PushExcept(_, _ int64, u tl.Object) error {
	s, ok := u.(*api.UpdateShortMessage)
	if !ok || s.Out {
		return nil
	}
	sent, err := strconv.ParseInt(strings.Fields(s.Message)[0], 10, 64)
	if err != nil {
		return nil
	}
	d := time.Since(time.Unix(0, sent))
	e.mu.Lock()
	e.lat = append(e.lat, d)
	e.mu.Unlock()
	e.n.Add(1)
	return nil
}

// BenchmarkSendInProcess: the server side of BenchmarkChat without MTProto: sendMessage handlers called
// through the router by P concurrent senders (one in flight each), recipients on other shards, latency from
// the call to the recipient's push reaching this node's edge. One node, 3 shards, fsync on.
// go test -run '^$' -bench SendInProcess -benchtime 20000x ./node/handler/messages
func BenchmarkSendInProcess(b *testing.B) {
	for _, pairs := range []int{10, 100} {
		b.Run(fmt.Sprintf("pairs=%d", pairs), func(b *testing.B) {
			c := startCluster(b, 3)
			e := &recordingEdge{}
			c.m.Services().Edge = func() handler.Edge { return e }
			per := max(b.N/pairs, 1)
			var wg sync.WaitGroup
			var rid atomic.Int64
			b.ResetTimer()
			start := time.Now()
			for p := range pairs {
				from := int64(10000 + 2*p)
				to := from + 1
				for shard.Of(to, 3) == shard.Of(from, 3) {
					to += 2 * int64(pairs)
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range per {
						ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
						_, err := c.m.Router().Invoke(ctx, gateway.Call{UserID: from, SessionID: 1,
							Request: &api.MessagesSendMessageRequest{Peer: &api.InputPeerUser{UserID: to,
								AccessHash: c.hash.User(from, to)}, Message: fmt.Sprint(time.Now().UnixNano(), " x"),
								RandomID: rid.Add(1)}})
						cancel()
						if err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			total := int64(per * pairs)
			deadline := time.Now().Add(30 * time.Second)
			for e.n.Load() < total && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			b.StopTimer()
			e.mu.Lock()
			slices.Sort(e.lat)
			if len(e.lat) > 0 {
				b.ReportMetric(float64(e.lat[len(e.lat)/2].Microseconds())/1000, "p50-push-ms")
				b.ReportMetric(float64(e.lat[len(e.lat)*99/100].Microseconds())/1000, "p99-push-ms")
			}
			e.mu.Unlock()
			b.ReportMetric(float64(total)/elapsed.Seconds(), "sends/s")
			b.ReportMetric(float64(e.n.Load()), "pushed")
		})
	}
}

// BenchmarkGetState: round trips of a cheap read (updates.getState: one linearizable query) through gotd
// clients, 10 in flight: the MTProto + gateway cost that BenchmarkChat adds to BenchmarkSendInProcess.
func BenchmarkGetState(b *testing.B) {
	c := startCluster(b, 3)
	var ds []*device
	for i := range 10 {
		ds = append(ds, c.deviceWith(b, int64(5000+i), func(tg.UpdatesClass) {}))
	}
	per := max(b.N/len(ds), 1)
	b.ResetTimer()
	var wg sync.WaitGroup
	for _, d := range ds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range per {
				if _, err := d.api.UpdatesGetState(context.Background()); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
