package files

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
)

// Node is one cluster member as the store sees it: where shards are put and read. The node this store runs on
// is one of them (its Local, called directly).
type Node interface {
	ID() string
	// PutShard stores one encoded shard durably (Local.Put on that node).
	PutShard(ctx context.Context, encoded []byte) error
	// Shards returns every shard of k the node holds, encoded (Local.Shards on that node).
	Shards(ctx context.Context, k Key) ([][]byte, error)
	// Trim deletes the node's shards of k's writes older than gen (Local.Trim on that node).
	Trim(ctx context.Context, k Key, gen uint64) error
}

var (
	// ErrNotFound: every node answered and none holds a decodable write of the key.
	ErrNotFound = errors.New("files: part not found")
	// ErrUnavailable: too few nodes answered to store or read the part (try again).
	ErrUnavailable = errors.New("files: too few nodes reachable")
)

// StoreOptions configure a Store.
type StoreOptions struct {
	// Nodes lists the cluster's members, this node included (called for every Put and Get).
	Nodes func() []Node
	// Timeout bounds each node's part of a Put or Get (default 5 s).
	Timeout time.Duration
	Clock   func() time.Time // default time.Now
	Rand    io.Reader        // default crypto/rand
	Log     *slog.Logger
}

// Store is the cluster-wide chunk store: Put spreads a part's shards over the nodes, Get gathers them.
type Store struct {
	opts StoreOptions
	seed maphash.Seed

	genMu   sync.Mutex
	lastGen uint64

	suspectMu sync.Mutex
	suspect   map[string]time.Time // node id -> until when new writes leave it out

	bg     sync.WaitGroup // trims after acknowledged writes
	ctx    context.Context
	cancel context.CancelFunc
}

// NewStore returns a Store; Close stops its background trims.
func NewStore(o StoreOptions) *Store {
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Store{opts: o, seed: maphash.MakeSeed(), ctx: ctx, cancel: cancel, suspect: map[string]time.Time{}}
}

// Close cancels and waits for the background trims.
func (s *Store) Close() {
	s.cancel()
	s.bg.Wait()
}

// newGen is the id of a new write: the clock in nanoseconds, low 16 bits random, above every id this store
// gave before.
func (s *Store) newGen() (uint64, error) {
	var r [2]byte
	if _, err := io.ReadFull(s.opts.Rand, r[:]); err != nil {
		return 0, fmt.Errorf("files: random: %w", err)
	}
	g := uint64(s.opts.Clock().UnixNano())&^0xffff | uint64(binary.BigEndian.Uint16(r[:]))
	s.genMu.Lock()
	defer s.genMu.Unlock()
	g = max(g, s.lastGen+1)
	s.lastGen = g
	return g, nil
}

// SuspectFor is how long a node that failed to take a shard is left out of new writes: without it a partitioned
// node (no answer, no refusal) would cost every part a full Timeout before the write degrades.
const SuspectFor = 10 * time.Second

// trusted is nodes without the suspects, unless that leaves fewer than two of a multi-node cluster (then the
// suspects are tried again).
func (s *Store) trusted(nodes []Node) []Node {
	now := s.opts.Clock()
	s.suspectMu.Lock()
	defer s.suspectMu.Unlock()
	out := make([]Node, 0, len(nodes))
	for _, n := range nodes {
		if until, ok := s.suspect[n.ID()]; !ok || now.After(until) {
			out = append(out, n)
		}
	}
	if len(out) < 2 && len(nodes) > 1 {
		return nodes
	}
	return out
}

func (s *Store) setSuspect(id string, failed bool) {
	s.suspectMu.Lock()
	defer s.suspectMu.Unlock()
	if failed {
		s.suspect[id] = s.opts.Clock().Add(SuspectFor)
	} else {
		delete(s.suspect, id)
	}
}

// Put stores part under k and returns once every shard of one write is synced on its own node (DESIGN.md
// invariants 1 and 4). part must be 1..MaxPart bytes.
func (s *Store) Put(ctx context.Context, k Key, part []byte) error {
	if len(part) < 1 || len(part) > MaxPart || k.Part < 0 {
		return fmt.Errorf("files: part %v of %d bytes", k, len(part))
	}
	all := s.opts.Nodes()
	if len(all) == 0 {
		return ErrUnavailable
	}
	// Rotate by key so that data and parity positions, and the node written first, spread over the nodes.
	start := int(maphash.Comparable(s.seed, k) % uint64(len(all)))
	live := s.trusted(append(slices.Clone(all[start:]), all[:start]...))
	live = live[:min(len(live), MaxShards)]
	crc := checksum(part)
	var lastErr error
	for {
		if len(live) == 0 || (len(live) < 2 && len(all) > 1) {
			return fmt.Errorf("%w: %d of %d nodes took the shards of %v (last error: %v)", ErrUnavailable, len(live),
				len(all), k, lastErr)
		}
		l := LayoutFor(len(live))
		gen, err := s.newGen()
		if err != nil {
			return err
		}
		shards, err := encode(part, l)
		if err != nil {
			return err
		}
		errs := make([]error, l.Shards())
		var wg sync.WaitGroup
		for i := range l.Shards() {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sh := Shard{Key: k, Gen: gen, K: l.K, M: l.M, Index: i, Size: len(part), PartCRC: crc, Data: shards[i]}
				cctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
				defer cancel()
				errs[i] = live[i].PutShard(cctx, sh.Encode(nil))
			}()
		}
		wg.Wait()
		var took []Node
		for i, err := range errs {
			s.setSuspect(live[i].ID(), err != nil)
			if err == nil {
				took = append(took, live[i])
				continue
			}
			lastErr = err
			s.opts.Log.Warn("files: shard not stored", "key", k, "gen", gen, "node", live[i].ID(), "err", err)
		}
		if len(took) == len(live) {
			s.trimLater(took, k, gen)
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		live = took // invariant 4: a new write among the nodes that answered
	}
}

// trimLater tells the nodes of a complete write to drop the key's older writes (DESIGN.md invariant 2). Best
// effort: a missed trim leaves an older write behind, never loses the new one.
func (s *Store) trimLater(nodes []Node, k Key, gen uint64) {
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		for _, n := range nodes {
			ctx, cancel := context.WithTimeout(s.ctx, s.opts.Timeout)
			if err := n.Trim(ctx, k, gen); err != nil && s.ctx.Err() == nil {
				s.opts.Log.Warn("files: trim", "key", k, "node", n.ID(), "err", err)
			}
			cancel()
		}
	}()
}

// Get returns the bytes of the newest decodable write of k (DESIGN.md invariant 3). It does not wait for the
// last node to answer when the others already show a decodable write and nothing newer: every acknowledged
// write spans at least two nodes (invariant 4), so a newer acknowledged write would have a shard among the
// answers. A partitioned node therefore costs a read nothing.
func (s *Store) Get(ctx context.Context, k Key) ([]byte, error) {
	all := s.opts.Nodes()
	type answer struct {
		i      int
		shards [][]byte
		err    error
	}
	cctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel() // the node not waited for gives up
	answers := make(chan answer, len(all))
	for i, n := range all {
		go func() {
			b, err := n.Shards(cctx, k)
			answers <- answer{i, b, err}
		}()
	}
	writes := map[uint64][]*Shard{}
	held := make([]int, len(all))
	errs := make([]error, len(all))
	for pending := len(all); pending > 0; {
		a := <-answers
		pending--
		held[a.i], errs[a.i] = len(a.shards), a.err
		for _, b := range a.shards {
			sh, err := DecodeShard(b)
			if err != nil || sh.Key != k {
				s.opts.Log.Warn("files: bad shard", "key", k, "node", all[a.i].ID(), "err", err)
				continue
			}
			if w := writes[sh.Gen]; len(w) > 0 && !w[0].sameWrite(sh) {
				s.opts.Log.Warn("files: shard disagrees with its write", "key", k, "gen", sh.Gen, "node", all[a.i].ID())
				continue
			}
			writes[sh.Gen] = append(writes[sh.Gen], sh)
		}
		if pending == 1 {
			if part, ok := s.newest(k, writes, true); ok {
				return part, nil
			}
		}
	}
	if part, ok := s.newest(k, writes, false); ok {
		return part, nil
	}
	var failed, holds []string
	for i, err := range errs {
		if err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", all[i].ID(), err))
		} else {
			holds = append(holds, fmt.Sprintf("%s holds %d", all[i].ID(), held[i]))
		}
	}
	if len(failed) > 0 {
		return nil, fmt.Errorf("%w: %v (%s; %s)", ErrUnavailable, k, strings.Join(holds, ", "), strings.Join(failed, "; "))
	}
	return nil, fmt.Errorf("%w: %v", ErrNotFound, k)
}

// newest decodes the newest write of writes that decodes whole; with onlyNewest, only the newest write seen
// counts (a newer one that does not decode yet may still complete with the shards of the node not heard).
func (s *Store) newest(k Key, writes map[uint64][]*Shard, onlyNewest bool) ([]byte, bool) {
	gens := make([]uint64, 0, len(writes))
	for g := range writes {
		gens = append(gens, g)
	}
	slices.Sort(gens)
	for _, g := range slices.Backward(gens) {
		w := writes[g]
		l := Layout{w[0].K, w[0].M}
		shards := make([][]byte, l.Shards())
		for _, sh := range w {
			shards[sh.Index] = sh.Data
		}
		part, err := decode(shards, l, w[0].Size)
		switch {
		case err != nil:
			// torn below k shards (or, with onlyNewest, perhaps not yet)
		case checksum(part) != w[0].PartCRC:
			s.opts.Log.Warn("files: decoded part fails its checksum", "key", k, "gen", g)
		default:
			return part, true
		}
		if onlyNewest {
			return nil, false
		}
	}
	return nil, false
}
