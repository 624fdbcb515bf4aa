package edge

import (
	"bytes"
	"crypto/rand"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/mtproxy"
	"github.com/gotd/td/mtproxy/obfuscated2"
	"github.com/gotd/td/proto/codec"
)

// authOnFrame marks a connection authenticated on its first frame and otherwise stays silent.
type authOnFrame struct{}

func (authOnFrame) OnOpen(Conn)                      {}
func (authOnFrame) OnFrame(c Conn, _ []byte, _ bool) { c.SetAuthenticated() }
func (authOnFrame) OnClose(Conn, error)              {}

// BenchmarkIdleConnMemory opens EDGE_MEM_CONNS (default 10000) loopback connections, each sending its
// transport header and one frame (so detection is done, the codec exists and the connection is marked
// authenticated), then reports the server's Go heap and the process RSS growth per connection. The clients
// are raw sockets made with syscalls, so they add no Go heap of their own; kernel socket buffers are in
// neither number. b.N is ignored: one measurement per run.
func BenchmarkIdleConnMemory(b *testing.B) {
	n := 10000
	if v, err := strconv.Atoi(os.Getenv("EDGE_MEM_CONNS")); err == nil && v > 0 {
		n = v
	}
	raiseNoFile(n + 1000)
	for _, mode := range []string{"intermediate", "intermediate+obfuscated"} {
		b.Run(mode, func(b *testing.B) {
			s := startServer(b, Options{MaxConnsPerIP: -1}, authOnFrame{})
			heap0, rss0 := memNow()
			// The clients live in a child process (this test binary again), so that neither their memory nor
			// their descriptors count against the server's.
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperMemClient$")
			cmd.Env = append(os.Environ(), "EDGE_MEM_CLIENT="+s.Addr().String(), "EDGE_MEM_CONNS="+strconv.Itoa(n), "EDGE_MEM_MODE="+mode)
			stdin, err := cmd.StdinPipe()
			if err != nil {
				b.Fatal(err)
			}
			cmd.Stderr = os.Stderr
			if err := cmd.Start(); err != nil {
				b.Fatal(err)
			}
			defer func() {
				_ = stdin.Close()
				_ = cmd.Wait()
			}()
			waitFor(b, "all frames", func() bool { return s.Metrics().FramesIn.Load() == uint64(n) })
			heap1, rss1 := memNow()
			b.ReportMetric(float64(heap1-heap0)/float64(n), "heap-B/conn")
			b.ReportMetric(float64(rss1-rss0)/float64(n), "rss-B/conn")
			b.Logf("%s: %d conns: heap +%d B/conn, RSS +%d B/conn", mode, n, (heap1-heap0)/int64(n), (rss1-rss0)/int64(n))
		})
	}
}

// TestHelperMemClient is the client process of BenchmarkIdleConnMemory; it does nothing in a normal run.
func TestHelperMemClient(t *testing.T) {
	addr := os.Getenv("EDGE_MEM_CLIENT")
	if addr == "" {
		t.Skip("helper process for BenchmarkIdleConnMemory")
	}
	n, _ := strconv.Atoi(os.Getenv("EDGE_MEM_CONNS"))
	raiseNoFile(n + 100)
	ta, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	var sa syscall.SockaddrInet4
	sa.Port = ta.Port
	copy(sa.Addr[:], ta.IP.To4())
	fds := make([]int, 0, n)
	for range n {
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
		if err != nil {
			t.Fatal(err)
		}
		fds = append(fds, fd)
		if err := syscall.Connect(fd, &sa); err != nil {
			t.Fatal(err)
		}
		if _, err := syscall.Write(fd, hello(os.Getenv("EDGE_MEM_MODE"))); err != nil {
			t.Fatal(err)
		}
	}
	_, _ = io.Copy(io.Discard, os.Stdin) // hold the connections until the benchmark is done
	for _, fd := range fds {
		_ = syscall.Close(fd)
	}
}

func raiseNoFile(want int) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil && lim.Cur < uint64(want) {
		lim.Cur = min(lim.Max, uint64(want))
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
}

// hello is a client's first bytes: the transport header and one 16-byte frame.
func hello(mode string) []byte {
	var w bytes.Buffer
	payload := bytes.Repeat([]byte{1}, 16)
	cc := codec.Intermediate{}
	if !strings.HasSuffix(mode, "+obfuscated") {
		_ = cc.WriteHeader(&w)
		_ = cc.Write(&w, binBuf(payload))
		return w.Bytes()
	}
	ob := obfuscated2.NewObfuscated2(rand.Reader, &w)
	_ = ob.Handshake([4]byte{0xee, 0xee, 0xee, 0xee}, 2, mtproxy.Secret{})
	_ = cc.Write(ob, binBuf(payload))
	return w.Bytes()
}

func memNow() (heap, rss int64) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b, err := os.ReadFile("/proc/self/statm")
	if err == nil {
		f := strings.Fields(string(b))
		if len(f) > 1 {
			pages, _ := strconv.ParseInt(f[1], 10, 64)
			rss = pages * int64(os.Getpagesize())
		}
	}
	return int64(ms.HeapInuse), rss
}

func binBuf(b []byte) *bin.Buffer { return &bin.Buffer{Buf: bytes.Clone(b)} }
