package tl

import (
	"errors"
	"fmt"
)

// Sentinel errors. Decoding errors reach callers wrapped in *DecodeError; use errors.Is / errors.As.
var (
	// ErrTruncated: the input ended inside a value.
	ErrTruncated = errors.New("tl: truncated input")
	// ErrTooLong: a length or vector count exceeds what the remaining input (or the wire format) can hold.
	ErrTooLong = errors.New("tl: length out of range")
	// ErrTooDeep: objects nest deeper than the Decoder's limit.
	ErrTooDeep = errors.New("tl: nesting too deep")
	// ErrNonCanonical: a bytes/string value uses the long length form for a short value or non-zero padding.
	ErrNonCanonical = errors.New("tl: non-canonical bytes encoding")
	// ErrNilObject: a required object field is nil when encoding.
	ErrNilObject = errors.New("tl: nil object")
	// ErrPartialFlagGroup: fields sharing one flag bit must be all set or all unset when encoding.
	ErrPartialFlagGroup = errors.New("tl: fields sharing a flag bit must be set together")
	// ErrGzipTooLarge: a gzip_packed value expands beyond the Decoder's budget.
	ErrGzipTooLarge = errors.New("tl: gzip_packed expands beyond limit")
)

// UnknownConstructorError reports a constructor id that the registry (or, when Type is set, the expected
// abstract type) does not know.
type UnknownConstructorError struct {
	ID   uint32
	Type string // expected type ("" when any object was allowed)
}

func (e *UnknownConstructorError) Error() string {
	if e.Type != "" {
		return fmt.Sprintf("tl: unexpected constructor %#08x for type %s", e.ID, e.Type)
	}
	return fmt.Sprintf("tl: unknown constructor %#08x", e.ID)
}

// TrailingBytesError reports bytes left after a complete value.
type TrailingBytesError struct{ N int }

func (e *TrailingBytesError) Error() string { return fmt.Sprintf("tl: %d trailing bytes", e.N) }

// DecodeError carries the input offset where decoding failed.
type DecodeError struct {
	Offset int
	Err    error
}

func (e *DecodeError) Error() string { return fmt.Sprintf("%v (at offset %d)", e.Err, e.Offset) }

func (e *DecodeError) Unwrap() error { return e.Err }
