// Package freeport picks loopback ports for tests and benchmarks that must know a node's address before the
// node binds it (a Raft member advertises its address; a cluster's nodes are told each other's).
//
// A port from bind(127.0.0.1:0) comes from the kernel's ephemeral range, the same range that gives every
// outgoing connection its source port: between the probe closing it and the node binding it, any connection on
// the machine may take it ("address already in use"). So Addr picks ports outside that range, probes each, and
// never hands out one port twice in a process.
//
// It must never be used for production listeners (they bind what the operator configured) or reach beyond
// 127.0.0.1.
package freeport

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
)

var (
	mu     sync.Mutex
	given  = map[int]bool{}
	lo, hi = pickRange()
)

// pickRange is the widest span of ports outside the kernel's ephemeral range (default 32768-60999) and above
// the registered low ports; (0, 0) if there is none worth using.
func pickRange() (int, int) {
	ephLo, ephHi := 32768, 60999
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			a, err1 := strconv.Atoi(f[0])
			z, err2 := strconv.Atoi(f[1])
			if err1 == nil && err2 == nil && a <= z {
				ephLo, ephHi = a, z
			}
		}
	}
	const floor = 10000
	below, above := ephLo-floor, 65535-ephHi
	switch {
	case below >= above && below >= 2048:
		return floor, ephLo - 1
	case above >= 2048:
		return ephHi + 1, 65535
	}
	return 0, 0
}

// Addr returns a 127.0.0.1 address whose port was free a moment ago (see the package comment).
func Addr() (string, error) {
	mu.Lock()
	defer mu.Unlock()
	for range 200 {
		port := 0
		if lo > 0 {
			port = lo + rand.IntN(hi-lo+1)
			if given[port] {
				continue
			}
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue
		}
		port = l.Addr().(*net.TCPAddr).Port
		l.Close()
		if given[port] {
			continue
		}
		given[port] = true
		return l.Addr().String(), nil
	}
	return "", fmt.Errorf("freeport: no free port found in %d-%d", lo, hi)
}
