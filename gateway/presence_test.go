package gateway_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/raftgram/raftgram/gateway"
)

// TestPresenceHook: Options.Presence hears a user's first signed-in key here (and its wait is run) and the
// last one leaving, in order; binding a key this gateway never saw announces nothing.
func TestPresenceHook(t *testing.T) {
	var mu sync.Mutex
	var events []string
	waits := 0
	s := startServer(t, func(o *gateway.Options) {
		o.Presence = func(user int64, present bool) func() {
			mu.Lock()
			defer mu.Unlock()
			events = append(events, fmt.Sprint(user, present))
			if !present {
				return nil
			}
			return func() {
				mu.Lock()
				waits++
				mu.Unlock()
			}
		}
	})
	c1, c2 := ready(t, s), ready(t, s)
	s.BindUser(c1.Key.ID, 42)
	s.BindUser(c2.Key.ID, 42) // a second key of the same user: nothing new
	s.BindUser(c1.Key.ID, 43) // c1 signs in as someone else: 42 still has c2
	s.BindUser(c2.Key.ID, 0)  // 42's last key signs out
	s.BindUser(c1.Key.ID, 0)
	s.BindUser(123456789, 44) // a key with no session here
	mu.Lock()
	defer mu.Unlock()
	want := []string{"42 true", "43 true", "42 false", "43 false"}
	if !slices.Equal(events, want) {
		t.Fatalf("presence events %v, want %v", events, want)
	}
	if waits != 2 {
		t.Fatalf("%d waits run, want 2 (one per arrival)", waits)
	}
}
