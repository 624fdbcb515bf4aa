package fsm

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ApplyError is a deterministic rejection of one command: every replica produces the same one, it is stored for
// idempotence, and it crosses the cluster as (Code, Msg). Codes are upper-case words in the style of Telegram's
// rpc_error (the RPC edge maps them once).
type ApplyError struct {
	Code string
	Msg  string
}

func (e *ApplyError) Error() string {
	if e.Msg == "" {
		return "fsm: " + e.Code
	}
	return "fsm: " + e.Code + ": " + e.Msg
}

// Codes produced by the framework itself.
const (
	// CodeUnknownCommand is no longer produced (an unknown type now halts the FSM, DESIGN.md invariant 6); dedup
	// records stored by older binaries may still carry it.
	CodeUnknownCommand = "UNKNOWN_COMMAND"
	CodeApplyFailed    = "APPLY_FAILED" // an Applier returned an error that was not an *ApplyError
)

// Result is the outcome of one command.
type Result struct {
	Value     []byte
	Err       error // nil or *ApplyError
	Duplicate bool  // the request id was seen before; Value/Err are the first outcome
}

// EntryResult is what ShardFSM returns to raft for one log entry (the ApplyFuture's Response()).
type EntryResult struct {
	Index   uint64
	Results []Result // one per command of the entry, in order; nil when Err != nil or Skipped
	// Err: the entry was not applied and the FSM halted (fail-stop) on a storage failure or on an entry this
	// binary cannot apply (errors.Is ErrUnknownVersion, ErrMalformed or ErrUnknownType).
	Err     error
	Skipped bool // replay after restart: the entry was already applied before
}

// dedup record: time u64 | status u8 | body (see DESIGN.md).
const (
	statusValue = 0
	statusError = 1
)

func encodeRecord(dst []byte, t int64, r Result) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(t))
	var ae *ApplyError
	if errors.As(r.Err, &ae) {
		dst = append(dst, statusError)
		dst = binary.AppendUvarint(dst, uint64(len(ae.Code)))
		dst = append(dst, ae.Code...)
		return append(dst, ae.Msg...)
	}
	dst = append(dst, statusValue)
	return append(dst, r.Value...)
}

func decodeRecord(b []byte) (Result, error) {
	if len(b) < 9 {
		return Result{}, errors.New("fsm: short dedup record")
	}
	body := b[9:]
	switch b[8] {
	case statusValue:
		if len(body) == 0 {
			return Result{Duplicate: true}, nil
		}
		return Result{Value: append([]byte(nil), body...), Duplicate: true}, nil
	case statusError:
		n, k := binary.Uvarint(body)
		if k <= 0 || n > uint64(len(body)-k) {
			return Result{}, errors.New("fsm: bad dedup record")
		}
		body = body[k:]
		return Result{Err: &ApplyError{Code: string(body[:n]), Msg: string(body[n:])}, Duplicate: true}, nil
	}
	return Result{}, fmt.Errorf("fsm: dedup record status %d", b[8])
}
