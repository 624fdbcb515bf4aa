package freeport

import (
	"net"
	"testing"
)

func TestAddrIsFreeUniqueAndOutsideEphemeral(t *testing.T) {
	seen := map[string]bool{}
	for range 50 {
		a, err := Addr()
		if err != nil {
			t.Fatal(err)
		}
		if seen[a] {
			t.Fatalf("%s handed out twice", a)
		}
		seen[a] = true
		_, p, _ := net.SplitHostPort(a)
		port := 0
		for _, c := range p {
			port = port*10 + int(c-'0')
		}
		if lo > 0 && (port < lo || port > hi) {
			t.Fatalf("port %d outside %d-%d", port, lo, hi)
		}
		l, err := net.Listen("tcp", a)
		if err != nil {
			t.Fatalf("bind %s: %v", a, err)
		}
		l.Close()
	}
}
