package workload

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/raftgram/raftgram/jepsen/client"
	"github.com/raftgram/raftgram/jepsen/history"
	"github.com/raftgram/raftgram/jepsen/validate"
)

// fakeMessenger is an in-memory messenger with switchable bugs, to test the workload and the checkers end to
// end before the MTProto driver exists.
type fakeMessenger struct {
	mu    sync.Mutex
	boxes map[int64]map[int64][]history.Msg
	ids   map[int64]int64
	n     int
	// Bugs.
	loseEvery  int // drop the recipient's copy of every n-th send
	dupEvery   int // deliver every n-th send twice to the recipient
	staleReads bool
	timeoutAt  int // the n-th send times out after taking effect
}

func newFake() *fakeMessenger {
	return &fakeMessenger{boxes: map[int64]map[int64][]history.Msg{}, ids: map[int64]int64{}}
}

func (f *fakeMessenger) Node(user int64, device int) int { return (int(user) + device) % 3 }

func (f *fakeMessenger) put(u, peer int64, text string, out bool) history.Msg {
	f.ids[u]++
	m := history.Msg{ID: f.ids[u], Text: text, Out: out}
	if f.boxes[u] == nil {
		f.boxes[u] = map[int64][]history.Msg{}
	}
	f.boxes[u][peer] = append(f.boxes[u][peer], m)
	return m
}

func (f *fakeMessenger) Send(_ context.Context, user, peer int64, _ int, text string) (int64, int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	m := f.put(user, peer, text, true)
	if f.loseEvery == 0 || f.n%f.loseEvery != 0 {
		f.put(peer, user, text, false)
	}
	if f.dupEvery > 0 && f.n%f.dupEvery == 0 {
		f.put(peer, user, text, false)
	}
	if f.timeoutAt > 0 && f.n == f.timeoutAt {
		return 0, 0, errors.New("timeout")
	}
	return m.ID, m.ID, nil
}

func (f *fakeMessenger) History(_ context.Context, user, peer int64, device int) ([]history.Msg, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	box := f.boxes[user][peer]
	if f.staleReads && device == 1 && len(box) > 0 {
		box = box[:len(box)-1] // the other device lags one message behind
	}
	return append([]history.Msg(nil), box...), nil
}

func runFake(t *testing.T, f *fakeMessenger) []validate.Result {
	t.Helper()
	rec := history.NewRecorder(time.Now, nil)
	w := &Messages{M: client.NewMessages(rec, f), Seed: 3, Pace: time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := w.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.Final(context.Background()); err != nil {
		t.Fatal(err)
	}
	return validate.Run(rec.Events(), w.Checkers()...)
}

func kinds(rs []validate.Result) map[string]bool {
	out := map[string]bool{}
	for _, r := range rs {
		for _, a := range r.Anomalies {
			out[r.Checker+"/"+a.Kind] = true
		}
	}
	return out
}

func TestMessagesWorkloadOnCorrectFake(t *testing.T) {
	f := newFake()
	f.timeoutAt = 5 // an indeterminate send that did take effect is fine
	for _, r := range runFake(t, f) {
		if r.Verdict != validate.Valid {
			t.Fatalf("%s: %s %+v", r.Checker, r.Verdict, r)
		}
	}
}

func TestMessagesWorkloadCatchesBugs(t *testing.T) {
	for _, tc := range []struct {
		name string
		bug  func(*fakeMessenger)
		want string
	}{
		{"lost", func(f *fakeMessenger) { f.loseEvery = 7 }, "messages-set/lost"},
		{"duplicate", func(f *fakeMessenger) { f.dupEvery = 7 }, "messages-set/duplicate"},
		{"stale", func(f *fakeMessenger) { f.staleReads = true }, "read-your-writes/stale-read"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			tc.bug(f)
			if k := kinds(runFake(t, f)); !k[tc.want] {
				t.Fatalf("want %s, got %v", tc.want, k)
			}
		})
	}
}
