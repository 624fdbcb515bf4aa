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
	return &Store{opts: o, seed: maphash.MakeSeed(), ctx: ctx, cancel: cancel}
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
	live := append(slices.Clone(all[start:]), all[:start]...)
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

// Get returns the bytes of the newest decodable write of k (DESIGN.md invariant 3).
func (s *Store) Get(ctx context.Context, k Key) ([]byte, error) {
	all := s.opts.Nodes()
	got := make([][][]byte, len(all))
	errs := make([]error, len(all))
	var wg sync.WaitGroup
	for i, n := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
			defer cancel()
			got[i], errs[i] = n.Shards(cctx, k)
		}()
	}
	wg.Wait()
	writes := map[uint64][]*Shard{}
	for i, encoded := range got {
		for _, b := range encoded {
			sh, err := DecodeShard(b)
			if err != nil || sh.Key != k {
				s.opts.Log.Warn("files: bad shard", "key", k, "node", all[i].ID(), "err", err)
				continue
			}
			if w := writes[sh.Gen]; len(w) > 0 && !w[0].sameWrite(sh) {
				s.opts.Log.Warn("files: shard disagrees with its write", "key", k, "gen", sh.Gen, "node", all[i].ID())
				continue
			}
			writes[sh.Gen] = append(writes[sh.Gen], sh)
		}
	}
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
		if err != nil {
			continue // torn below k shards
		}
		if checksum(part) != w[0].PartCRC {
			s.opts.Log.Warn("files: decoded part fails its checksum", "key", k, "gen", g)
			continue
		}
		return part, nil
	}
	var failed, held []string
	for i, err := range errs {
		if err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", all[i].ID(), err))
		} else {
			held = append(held, fmt.Sprintf("%s holds %d", all[i].ID(), len(got[i])))
		}
	}
	if len(failed) > 0 {
		return nil, fmt.Errorf("%w: %v (%s; %s)", ErrUnavailable, k, strings.Join(held, ", "), strings.Join(failed, "; "))
	}
	return nil, fmt.Errorf("%w: %v", ErrNotFound, k)
}
