package testclient

import "testing"

// TestFactorSpecSample uses pq from core.telegram.org/mtproto/samples-auth_key.
func TestFactorSpecSample(t *testing.T) {
	p, q := factor(0x17ED48941A08F981)
	if p != 0x494C553B || q != 0x53911073 {
		t.Fatalf("factor: %x %x", p, q)
	}
}
