package tgclient

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/gotd/td/tg"
)

// Box is a client's replica of its user's message box, kept by pts as a real client does: an event whose
// range starts at the local pts is applied, one below it is a duplicate (dropped, checked for consistency),
// one above it waits for the gap before it to be filled (by a later push or by Sync's getDifference).
//
// Problems records what a correct server never causes: two texts under one message id, a difference whose
// pts do not add up (a gap or overlap in the server's update log), differenceTooLong. The pts arithmetic
// assumes the box has no deleted messages (each new message in a difference accounts for one pts).
type Box struct {
	mu       sync.Mutex
	pts      int
	date     int
	pending  map[int]Event // by start pts (Pts-PtsCount): waiting for a gap before them
	msgs     map[int]Msg
	pushed   map[int]bool // message ids that arrived by push (applied or duplicate)
	pushes   int
	problems []string
}

// NewBox returns an empty box at pts 0; Init sets the starting state.
func NewBox() *Box {
	return &Box{pending: map[int]Event{}, msgs: map[int]Msg{}, pushed: map[int]bool{}}
}

// NewBoxAt returns an empty box starting at a known state (to replay a range with Sync).
func NewBoxAt(pts, date int) *Box {
	b := NewBox()
	b.pts, b.date = pts, date
	return b
}

// State is the box's local pts and date.
func (b *Box) State() (pts, date int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.pts, b.date
}

// Init takes the server's current state (updates.getState): the box starts there.
func (b *Box) Init(ctx context.Context, api *tg.Client) error {
	st, err := api.UpdatesGetState(ctx)
	if err != nil {
		return fmt.Errorf("updates.getState: %w", err)
	}
	b.mu.Lock()
	b.pts, b.date = st.Pts, st.Date
	b.mu.Unlock()
	return nil
}

// Pts is the box's local pts.
func (b *Box) Pts() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.pts
}

// Push applies a pushed updates container (Options.OnUpdates).
func (b *Box) Push(u tg.UpdatesClass) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range Events(u) {
		b.pushes++
		if e.Msg != nil {
			b.pushed[e.Msg.ID] = true
		}
		b.applyLocked(e)
	}
}

// Apply applies an event the client got otherwise (the result of its own sendMessage).
func (b *Box) Apply(e Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.applyLocked(e)
}

func (b *Box) applyLocked(e Event) {
	switch start := e.Pts - e.PtsCount; {
	case start == b.pts:
		b.take(e.Msg, e.Name)
		b.pts = e.Pts
		b.drainLocked()
	case e.Pts <= b.pts:
		if e.Msg != nil {
			if old, ok := b.msgs[e.Msg.ID]; ok && e.Msg.Text != "" && old.Text != "" && old.Text != e.Msg.Text {
				b.problems = append(b.problems, fmt.Sprintf("message %d is %q and %q", e.Msg.ID, old.Text, e.Msg.Text))
			}
		}
	default:
		b.pending[start] = e
	}
}

func (b *Box) drainLocked() {
	for {
		e, ok := b.pending[b.pts]
		if !ok {
			break
		}
		delete(b.pending, b.pts)
		b.take(e.Msg, e.Name)
		b.pts = e.Pts
	}
	for start, e := range b.pending {
		if e.Pts <= b.pts {
			delete(b.pending, start)
		}
	}
}

func (b *Box) take(m *Msg, via string) {
	if m == nil {
		return
	}
	if old, ok := b.msgs[m.ID]; ok {
		if old.Text != m.Text && old.Text != "" && m.Text != "" {
			b.problems = append(b.problems, fmt.Sprintf("message %d is %q and %q (%s)", m.ID, old.Text, m.Text, via))
		}
		return
	}
	b.msgs[m.ID] = *m
}

// Sync fills every gap with updates.getDifference until the server has nothing newer, checking that each
// difference's pts add up.
func (b *Box) Sync(ctx context.Context, api *tg.Client) error {
	for range 10000 {
		b.mu.Lock()
		pts, date := b.pts, b.date
		b.mu.Unlock()
		d, err := api.UpdatesGetDifference(ctx, &tg.UpdatesGetDifferenceRequest{Pts: pts, Date: date})
		if err != nil {
			return fmt.Errorf("updates.getDifference(pts %d): %w", pts, err)
		}
		switch d := d.(type) {
		case *tg.UpdatesDifferenceEmpty:
			b.mu.Lock()
			b.date = max(b.date, d.Date)
			b.mu.Unlock()
			return nil
		case *tg.UpdatesDifference:
			b.applyDifference(pts, d.NewMessages, d.OtherUpdates, d.State)
			return nil
		case *tg.UpdatesDifferenceSlice:
			b.applyDifference(pts, d.NewMessages, d.OtherUpdates, d.IntermediateState)
		case *tg.UpdatesDifferenceTooLong:
			b.mu.Lock()
			b.problems = append(b.problems, fmt.Sprintf("differenceTooLong from pts %d to %d", pts, d.Pts))
			b.pts = d.Pts
			b.mu.Unlock()
		default:
			return fmt.Errorf("updates.getDifference answered %T", d)
		}
	}
	return fmt.Errorf("updates.getDifference never ended")
}

func (b *Box) applyDifference(from int, msgs []tg.MessageClass, others []tg.UpdateClass, st tg.UpdatesState) {
	b.mu.Lock()
	defer b.mu.Unlock()
	// A push may have moved the box on meanwhile: the difference still covers (from, st.Pts].
	count := len(msgs)
	for _, m := range msgs {
		b.take(MsgOf(m), "getDifference")
	}
	for _, u := range others {
		for _, e := range updateEvents(nil, u) {
			count += e.PtsCount
			b.take(e.Msg, "getDifference")
		}
	}
	if st.Pts-from != count {
		b.problems = append(b.problems, fmt.Sprintf("getDifference from pts %d to %d carries %d pts of events",
			from, st.Pts, count))
	}
	if st.Pts > b.pts {
		b.pts = st.Pts
	}
	b.date = max(b.date, st.Date)
	b.drainLocked()
}

// Messages lists the box's messages with peer, by id.
func (b *Box) Messages(peer int64) []Msg {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []Msg
	for _, m := range b.msgs {
		if m.Peer == peer {
			out = append(out, m)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Pushed reports whether message id arrived by push.
func (b *Box) Pushed(id int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.pushed[id]
}

// Find returns the message with text, if the box has it.
func (b *Box) Find(text string) (Msg, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range b.msgs {
		if m.Text == text {
			return m, true
		}
	}
	return Msg{}, false
}

// Pending is how many events wait for a gap to be filled.
func (b *Box) Pending() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.pending)
}

// Pushes is how many pts events arrived by push.
func (b *Box) Pushes() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.pushes
}

// Problems lists the inconsistencies seen so far.
func (b *Box) Problems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.problems...)
}
