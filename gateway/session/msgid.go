package session

import (
	"sync"
	"time"
)

// MsgIDGen issues server msg_ids: time-based (unix seconds << 32 | nanoseconds), strictly increasing across
// every session of the gateway, ≡ 1 mod 4 for responses and ≡ 3 mod 4 for other messages.
type MsgIDGen struct {
	mu   sync.Mutex
	last int64
	now  func() time.Time
}

// NewMsgIDGen returns a generator reading the given clock.
func NewMsgIDGen(now func() time.Time) *MsgIDGen { return &MsgIDGen{now: now} }

// Next returns a new msg_id.
func (g *MsgIDGen) Next(response bool) int64 {
	suffix := int64(3)
	if response {
		suffix = 1
	}
	t := g.now()
	v := (t.Unix()<<32 | int64(t.Nanosecond())) &^ 3
	g.mu.Lock()
	defer g.mu.Unlock()
	if v <= g.last {
		v = (g.last &^ 3) + 4
	}
	v |= suffix
	g.last = v
	return v
}

// Client msg_id problems, as bad_msg_notification error codes.
const (
	CodeMsgIDTooLow       = 16
	CodeMsgIDTooHigh      = 17
	CodeMsgIDBadBits      = 18
	CodeContainerIDReused = 19
	CodeSeqNoTooLow       = 32
	CodeSeqNoTooHigh      = 33
	CodeSeqNoEvenExpected = 34
	CodeSeqNoOddExpected  = 35
	CodeBadServerSalt     = 48
	CodeBadContainer      = 64
)

const (
	maxPast   = 300 * time.Second
	maxFuture = 30 * time.Second
)

// checkTime returns the bad_msg_notification code for a client msg_id at now, or 0.
func checkTime(msgID int64, now time.Time) int32 {
	if msgID&3 != 0 {
		return CodeMsgIDBadBits
	}
	t := time.Unix(msgID>>32, int64(uint32(msgID)))
	if now.Sub(t) > maxPast {
		return CodeMsgIDTooLow
	}
	if t.Sub(now) > maxFuture {
		return CodeMsgIDTooHigh
	}
	return 0
}

// recentIDs remembers the last len(ids) client msg_ids of a session, for duplicate detection. Once full, ids
// not above the lowest remembered one are refused: they could be replays the ring has forgotten.
type recentIDs struct {
	ids  [64]int64
	n    int
	next int
}

func (r *recentIDs) contains(id int64) bool {
	for i := range r.n {
		if r.ids[i] == id {
			return true
		}
	}
	return false
}

func (r *recentIDs) min() int64 {
	m := r.ids[0]
	for i := 1; i < r.n; i++ {
		m = min(m, r.ids[i])
	}
	return m
}

func (r *recentIDs) full() bool { return r.n == len(r.ids) }

func (r *recentIDs) add(id int64) {
	r.ids[r.next] = id
	r.next = (r.next + 1) % len(r.ids)
	if r.n < len(r.ids) {
		r.n++
	}
}
