package gateway_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/raftgram/raftgram/gateway"
	"github.com/raftgram/raftgram/gateway/crypto"
	"github.com/raftgram/raftgram/internal/testclient"
	"github.com/raftgram/raftgram/tl/mt"
)

func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkHandshakeTCP creates keys over real sockets with the project's own client (which trusts the
// standard prime instead of re-checking it). cpu-ms/op is the whole process (client and server) per key;
// the server's share alone is BenchmarkHandshakeServerCPU in gateway/handshake.
func BenchmarkHandshakeTCP(b *testing.B) {
	s := startServer(b, func(o *gateway.Options) { o.Edge.MaxConnsPerIP = -1 })
	pub := &serverKey(b).Private.PublicKey
	b.ResetTimer()
	start, cpu0 := time.Now(), processCPU()
	b.SetParallelism(2)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			c, err := testclient.Dial(ctx, s.Addr().String())
			if err != nil {
				b.Error(err)
				cancel()
				return
			}
			if _, err := testclient.CreateKey(ctx, c.PlainRoundTrip(), pub, testclient.KeyOptions{Rand: rand.Reader}); err != nil {
				b.Error(err)
			}
			_ = c.Close()
			cancel()
		}
	})
	el := time.Since(start)
	b.ReportMetric(float64(b.N)/el.Seconds(), "handshakes/s")
	b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
}

// BenchmarkPingRTT measures encrypted ping round trips over TCP: sequentially on one connection, and with
// 16 connections in parallel (pings/s).
func BenchmarkPingRTT(b *testing.B) {
	s := startServer(b, func(o *gateway.Options) { o.Edge.MaxConnsPerIP = -1 })
	for _, conns := range []int{1, 16} {
		b.Run(fmt.Sprintf("conns=%d", conns), func(b *testing.B) {
			clients := make([]*testclient.Session, conns)
			for i := range clients {
				clients[i] = ready(b, s)
			}
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			per := (b.N + conns - 1) / conns
			for _, cl := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
					defer cancel()
					for i := range per {
						if _, err := cl.Call(ctx, &mt.PingRequest{PingID: int64(i)}); err != nil {
							b.Error(err)
							return
						}
						cl.Seen = cl.Seen[:0]
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(per*conns)/time.Since(start).Seconds(), "pings/s")
		})
	}
}

// memKey derives the i-th auth key of the memory benchmark; parent and child process compute the same.
func memKey(i int) [256]byte {
	var v [256]byte
	for j := 0; j < 256; j += 32 {
		h := sha256.Sum256(binary.LittleEndian.AppendUint64([]byte(fmt.Sprintf("memkey-%d-", j)), uint64(i)))
		copy(v[j:], h[:])
	}
	return v
}

func raiseNoFile(b testing.TB) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err == nil {
		rl.Cur = rl.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
}

func heapInuse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse + ms.StackInuse
}

func rss() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	pages, _ := strconv.ParseUint(f[1], 10, 64)
	return pages * uint64(os.Getpagesize())
}

// BenchmarkIdleAuthConnMemory opens GATEWAY_MEM_CONNS (default 10000) connections from a child process,
// each with its own auth key and session, one encrypted ping answered on each, then idle; it reports the
// server process's heap+stack and RSS growth per connection. Keys are put in the store directly (the cost
// of 10,000 key exchanges is measured elsewhere); everything else is the real path.
func BenchmarkIdleAuthConnMemory(b *testing.B) {
	n := 10000
	if v, err := strconv.Atoi(os.Getenv("GATEWAY_MEM_CONNS")); err == nil && v > 0 {
		n = v
	}
	raiseNoFile(b)
	s := startServer(b, func(o *gateway.Options) {
		o.Edge.MaxConnsPerIP = -1
		o.Edge.IdleTimeout = time.Hour
	})
	for i := range n {
		ak := crypto.NewAuthKey(memKey(i))
		if err := s.store.Put(context.Background(), gateway.AuthKey{ID: ak.ID, Key: ak.Value, CreatedAt: time.Now()}); err != nil {
			b.Fatal(err)
		}
	}
	heap0, rss0 := heapInuse(), rss()
	cmd := exec.Command(os.Args[0], "-test.run=^TestMemClientHelper$", "-test.v")
	cmd.Env = append(os.Environ(), "GATEWAY_MEM_CLIENT="+s.Addr().String(), "GATEWAY_MEM_CONNS="+strconv.Itoa(n))
	stdin, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	okLine := false
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "READY") {
			okLine = true
			break
		}
		b.Log(sc.Text())
	}
	if !okLine {
		b.Fatal("client helper failed")
	}
	time.Sleep(2 * time.Second) // let the server finish the last pings
	heap1, rss1 := heapInuse(), rss()
	sessions := s.Sessions().Len()
	_ = stdin.Close()
	_ = cmd.Wait()
	b.ReportMetric(float64(heap1-heap0)/float64(n), "heap-B/conn")
	b.ReportMetric(float64(rss1-rss0)/float64(n), "rss-B/conn")
	b.ReportMetric(float64(sessions), "sessions")
}

// TestMemClientHelper is the client side of BenchmarkIdleAuthConnMemory, run in a child process.
func TestMemClientHelper(t *testing.T) {
	addr := os.Getenv("GATEWAY_MEM_CLIENT")
	if addr == "" {
		t.Skip("helper process for BenchmarkIdleAuthConnMemory")
	}
	raiseNoFile(t)
	n, _ := strconv.Atoi(os.Getenv("GATEWAY_MEM_CONNS"))
	ctx := context.Background()
	conns := make([]*testclient.Conn, 0, n)
	for i := range n {
		c, err := testclient.Dial(ctx, addr)
		if err != nil {
			fmt.Println("dial:", err)
			os.Exit(1)
		}
		cl := testclient.NewSession(c, crypto.NewAuthKey(memKey(i)), 0)
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		if _, err := cl.Call(cctx, &mt.PingRequest{PingID: int64(i)}); err != nil {
			fmt.Println("ping:", err)
			os.Exit(1)
		}
		cancel()
		_ = c.SetDeadline(time.Time{})
		conns = append(conns, c)
	}
	fmt.Println("READY")
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n') // hold the connections until the parent is done
	for _, c := range conns {
		_ = c.Close()
	}
}
