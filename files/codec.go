package files

import (
	"errors"
	"fmt"

	"github.com/klauspost/reedsolomon"
)

// Layout is how a write cuts its part: K data shards and M parity shards, each on its own node.
type Layout struct{ K, M int }

// LayoutFor is the layout of a write to nodes nodes (DESIGN.md "Terms"): m ≥ 1 whenever there is more than one
// node, so that losing any one node leaves k shards.
func LayoutFor(nodes int) Layout {
	switch {
	case nodes <= 1:
		return Layout{1, 0}
	case nodes == 2:
		return Layout{1, 1}
	case nodes <= 4:
		return Layout{nodes - 1, 1}
	default:
		n := min(nodes, MaxShards)
		return Layout{n - 2, 2}
	}
}

// Shards is the number of nodes a write with this layout needs.
func (l Layout) Shards() int { return l.K + l.M }

// encode cuts part into l.K data shards (the last one zero-padded) and computes l.M parity shards.
func encode(part []byte, l Layout) ([][]byte, error) {
	n := ShardLen(len(part), l.K)
	buf := make([]byte, n*l.Shards())
	copy(buf, part)
	shards := make([][]byte, l.Shards())
	for i := range shards {
		shards[i] = buf[i*n : (i+1)*n : (i+1)*n]
	}
	if l.M == 0 {
		return shards, nil
	}
	enc, err := reedsolomon.New(l.K, l.M)
	if err != nil {
		return nil, fmt.Errorf("files: layout %v: %w", l, err)
	}
	if err := enc.Encode(shards); err != nil {
		return nil, fmt.Errorf("files: encode: %w", err)
	}
	return shards, nil
}

var errTooFewShards = errors.New("files: too few shards to decode")

// decode rebuilds a part of size bytes from the shards of one write (nil where missing; at least l.K present).
// It may fill in missing entries of shards.
func decode(shards [][]byte, l Layout, size int) ([]byte, error) {
	present := 0
	for _, s := range shards {
		if s != nil {
			present++
		}
	}
	if present < l.K {
		return nil, errTooFewShards
	}
	dataMissing := false
	for _, s := range shards[:l.K] {
		dataMissing = dataMissing || s == nil
	}
	if dataMissing {
		enc, err := reedsolomon.New(l.K, l.M)
		if err != nil {
			return nil, fmt.Errorf("files: layout %v: %w", l, err)
		}
		if err := enc.ReconstructData(shards); err != nil {
			return nil, fmt.Errorf("files: reconstruct: %w", err)
		}
	}
	out := make([]byte, 0, ShardLen(size, l.K)*l.K)
	for _, s := range shards[:l.K] {
		out = append(out, s...)
	}
	return out[:size], nil
}
