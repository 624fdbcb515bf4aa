package rpc

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestFrameLimits(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteFrame(&buf, 7, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	k, body, err := ReadFrame(&buf)
	if err != nil || k != 7 || string(body) != "hello" {
		t.Fatalf("round trip: %d %q %v", k, body, err)
	}
	// A hostile length is refused before any allocation of that size.
	var h [5]byte
	binary.BigEndian.PutUint32(h[:4], MaxFrame+2)
	if _, _, err := ReadFrame(bytes.NewReader(h[:])); err == nil {
		t.Fatal("oversized frame accepted")
	}
	binary.BigEndian.PutUint32(h[:4], 0)
	if _, _, err := ReadFrame(bytes.NewReader(h[:])); err == nil {
		t.Fatal("zero-length frame accepted")
	}
}

func TestClientServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s := NewServer(nil)
	s.Handle(1, func(ctx context.Context, body []byte) ([]byte, error) { return append([]byte("echo:"), body...), nil })
	s.Handle(2, func(ctx context.Context, body []byte) ([]byte, error) {
		return nil, &Error{Status: StatusNotLeader, Msg: "127.0.0.1:1"}
	})
	s.Handle(3, func(ctx context.Context, body []byte) ([]byte, error) { return nil, errors.New("boom") })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.ServeConn(ctx, c)
		}
	}()
	cl := NewClient(func(ctx context.Context, addr string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	}, 4)
	defer cl.Close()
	cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer ccancel()
	addr := ln.Addr().String()
	for i := 0; i < 3; i++ { // reuses the pooled connection
		out, err := cl.Call(cctx, addr, 1, []byte("x"))
		if err != nil || string(out) != "echo:x" {
			t.Fatalf("call: %q %v", out, err)
		}
	}
	if _, err := cl.Call(cctx, addr, 2, nil); !IsStatus(err, StatusNotLeader) {
		t.Fatalf("not leader: %v", err)
	}
	if _, err := cl.Call(cctx, addr, 3, nil); !IsStatus(err, StatusError) {
		t.Fatalf("error: %v", err)
	}
	if _, err := cl.Call(cctx, addr, 99, nil); !IsStatus(err, StatusNoMethod) {
		t.Fatalf("no method: %v", err)
	}
}

// TestConcurrentCallsShareConnections: many concurrent calls ride on the client's few connections, slow calls do
// not hold up fast ones, and a broken connection fails its calls and is replaced by the next call.
func TestConcurrentCallsShareConnections(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepted atomic.Int32
	var conns sync.Map
	s := NewServer(nil)
	release := make(chan struct{})
	s.Handle(1, func(ctx context.Context, body []byte) ([]byte, error) { return body, nil })
	s.Handle(2, func(ctx context.Context, body []byte) ([]byte, error) {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return []byte("slow"), nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			conns.Store(c, true)
			go s.ServeConn(ctx, c)
		}
	}()
	cl := NewClient(func(ctx context.Context, addr string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	}, 2)
	defer cl.Close()
	cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer ccancel()
	addr := ln.Addr().String()

	slow := make(chan error, 1)
	go func() {
		out, err := cl.Call(cctx, addr, 2, nil)
		if err == nil && string(out) != "slow" {
			err = fmt.Errorf("slow call got %q", out)
		}
		slow <- err
	}()
	var wg sync.WaitGroup
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			want := fmt.Sprint(i)
			out, err := cl.Call(cctx, addr, 1, []byte(want))
			if err != nil || string(out) != want {
				t.Errorf("call %d: %q %v", i, out, err)
			}
		}()
	}
	wg.Wait() // all fast calls finished while the slow one is still running
	close(release)
	if err := <-slow; err != nil {
		t.Fatal(err)
	}
	if n := accepted.Load(); n > 2 {
		t.Fatalf("%d connections for 2 allowed", n)
	}
	// Break every connection from the server side: the next calls redial.
	conns.Range(func(k, _ any) bool { k.(net.Conn).Close(); return true })
	deadline := time.Now().Add(5 * time.Second)
	for {
		out, err := cl.Call(cctx, addr, 1, []byte("again"))
		if err == nil && string(out) == "again" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recovery after broken connections: %v", err)
		}
	}
}
