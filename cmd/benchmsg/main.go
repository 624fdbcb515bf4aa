package main

import (
	"context"
	"crypto/rsa"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"

	gwcrypto "github.com/raftgram/raftgram/gateway/crypto"
	"github.com/raftgram/raftgram/node/e2e/tgclient"
	"github.com/raftgram/raftgram/node/testcluster"
	"github.com/raftgram/raftgram/shard"
)

type config struct {
	pairs    []int
	duration time.Duration
	grace    time.Duration
	connect  []string
	pubkey   string
	code     string
	dir      string
	workers  int
	shards   int
	procs    int
	client   string
	// phoneBase numbers the signed-up phones (1888<base><k>); 0 takes it from the clock, so that runs against
	// one cluster do not collide.
	phoneBase int64
}

func main() {
	var cfg config
	pairs := flag.String("pairs", "10,100", "comma-separated numbers of client pairs, one run each")
	flag.DurationVar(&cfg.duration, "duration", 20*time.Second, "length of each run")
	flag.DurationVar(&cfg.grace, "grace", 2*time.Second, "how long after a run pushes are still awaited")
	connect := flag.String("connect", "", "comma-separated MTProto addresses of a running cluster (default: start a 3-node loopback cluster)")
	flag.StringVar(&cfg.pubkey, "pubkey", "", "the running cluster's public key file (server_rsa.pub.pem), with -connect")
	flag.StringVar(&cfg.code, "code", "22222", "the login code the cluster accepts (its --dev-code)")
	flag.StringVar(&cfg.dir, "dir", "", "parent directory of the started cluster's data (default: a temporary one, removed after)")
	flag.IntVar(&cfg.workers, "signup-workers", 8, "clients signing up at once")
	flag.IntVar(&cfg.shards, "shards", 3, "the started cluster's number of shards (init --shards); with -connect, the "+
		"running cluster's (to tell same-shard from cross-shard pairs)")
	flag.StringVar(&cfg.client, "client", "gotd", "the benchmark's MTProto client: gotd (github.com/gotd/td) or raw "+
		"(the project's lean client, internal/testclient: less CPU taken from a cluster on the same machine)")
	flag.IntVar(&cfg.procs, "node-procs", max(1, runtime.NumCPU()/3), "GOMAXPROCS of each started node: "+
		"three nodes share this machine, each gets its share of the cores (0: Go's default, all cores each)")
	cpuProfile := flag.String("cpuprofile", "", "write the benchmark process's CPU profile to this file (where its clients spend)")
	flag.Parse()
	for _, p := range strings.Split(*pairs, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n <= 0 {
			fmt.Fprintf(os.Stderr, "benchmsg: bad -pairs %q\n", *pairs)
			os.Exit(2)
		}
		cfg.pairs = append(cfg.pairs, n)
	}
	if cfg.shards < 1 {
		fmt.Fprintf(os.Stderr, "benchmsg: bad -shards %d\n", cfg.shards)
		os.Exit(2)
	}
	if cfg.client != "gotd" && cfg.client != "raw" {
		fmt.Fprintf(os.Stderr, "benchmsg: bad -client %q (gotd or raw)\n", cfg.client)
		os.Exit(2)
	}
	if *connect != "" {
		cfg.connect = strings.Split(*connect, ",")
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchmsg: -cpuprofile:", err)
			os.Exit(2)
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, cfg, os.Stdout, log); err != nil {
		fmt.Fprintln(os.Stderr, "benchmsg:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg config, out io.Writer, log *slog.Logger) error {
	addrs, pub, closeCluster, err := cluster(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer closeCluster()
	maxPairs := 0
	for _, p := range cfg.pairs {
		maxPairs = max(maxPairs, p)
	}
	tr := &tracker{}
	log.Info("signing up clients", "users", 2*maxPairs, "nodes", len(addrs))
	pairs, err := signUp(ctx, cfg, addrs, pub, maxPairs, tr)
	defer func() {
		for _, p := range pairs {
			p.close()
		}
	}()
	if err != nil {
		return err
	}
	var results []result
	for i, n := range cfg.pairs {
		log.Info("run", "pairs", n, "duration", cfg.duration)
		r, err := measure(ctx, cfg, pairs[:n], tr, i, log)
		if err != nil {
			return err
		}
		results = append(results, r)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	procs := "GOMAXPROCS default"
	if len(cfg.connect) == 0 && cfg.procs > 0 {
		procs = fmt.Sprintf("GOMAXPROCS=%d per node", cfg.procs)
	}
	fmt.Fprintf(out, "raftgram messaging over MTProto: %d nodes, %d shards, loopback, fsync on, %s; %s clients; each sender one sendMessage in flight; %v per run\n",
		len(addrs), cfg.shards, procs, cfg.client, cfg.duration)
	printTable(out, results)
	return nil
}

// cluster starts a 3-node cluster (or uses -connect) and returns its client addresses and public key.
func cluster(ctx context.Context, cfg config, log *slog.Logger) ([]string, *rsa.PublicKey, func(), error) {
	if len(cfg.connect) > 0 {
		pem, err := os.ReadFile(cfg.pubkey)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("-pubkey: %w", err)
		}
		pub, err := gwcrypto.ParsePublicPEM(pem)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("-pubkey: %w", err)
		}
		return cfg.connect, pub, func() {}, nil
	}
	dir, err := os.MkdirTemp(cfg.dir, "benchmsg-")
	if err != nil {
		return nil, nil, nil, err
	}
	log.Info("starting a 3-node cluster (building raftgram)", "dir", dir)
	sctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	var env []string
	if cfg.procs > 0 {
		env = append(env, "GOMAXPROCS="+strconv.Itoa(cfg.procs))
	}
	c, err := testcluster.Start(sctx, testcluster.Options{Client: true, DevCode: cfg.code, Shards: cfg.shards, Dir: dir, Env: env})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("start cluster (logs in %s): %w", dir, err)
	}
	closeAll := func() {
		c.Close()
		_ = os.RemoveAll(dir)
	}
	pem, err := c.PublicKeyPEM()
	var pub *rsa.PublicKey
	if err == nil {
		pub, err = gwcrypto.ParsePublicPEM(pem)
	}
	if err != nil {
		closeAll()
		return nil, nil, nil, fmt.Errorf("public key: %w", err)
	}
	var addrs []string
	for _, n := range c.Nodes {
		addrs = append(addrs, n.Client)
	}
	return addrs, pub, closeAll, nil
}

// client is one signed-up user's MTProto client (gotd or the lean raw one).
type client interface {
	// importPeer imports phone as contact number i and returns that user as this one may address it.
	importPeer(ctx context.Context, phone string, i int) (id, accessHash int64, err error)
	// sendText sends one message to the user to and waits for its acknowledgement; an rpc_error is an *rpcError.
	sendText(ctx context.Context, to peerRef, text string, randomID int64) error
	// listen starts handing the texts of incoming messages to the tracker (a no-op where that already runs).
	listen()
	close()
}

// peerRef is a user as another user may address it.
type peerRef struct{ id, accessHash int64 }

// rpcError is an rpc_error answer to a send, whatever the client library.
type rpcError struct {
	code int
	err  error
}

func (e *rpcError) Error() string { return e.err.Error() }
func (e *rpcError) Unwrap() error { return e.err }

// pair is a sender and a receiver, each one client, usually on different nodes.
type pair struct {
	sender, receiver client
	peer             peerRef // the receiver as the sender may address it
	cross            bool    // the two users' boxes are in different shards
}

func (p *pair) close() {
	for _, c := range []client{p.sender, p.receiver} {
		if c != nil {
			c.close()
		}
	}
}

// member is one signed-up user with its client.
type member struct {
	c     client
	id    int64
	phone string
	shard uint32
}

// gotdClient is a gotd/td client (-client gotd, the default).
type gotdClient struct{ d *tgclient.Device }

func (g gotdClient) importPeer(ctx context.Context, phone string, i int) (int64, int64, error) {
	res, err := g.d.API.ContactsImportContacts(ctx, []tg.InputPhoneContact{{ClientID: int64(i), Phone: phone,
		FirstName: "Bench", LastName: strconv.Itoa(i)}})
	if err != nil {
		return 0, 0, fmt.Errorf("contacts.importContacts: %w", err)
	}
	if len(res.Imported) != 1 {
		return 0, 0, errors.New("contacts.importContacts: the contact was not imported")
	}
	for _, u := range res.Users {
		if u, ok := u.(*tg.User); ok && u.ID == res.Imported[0].UserID {
			h, _ := u.GetAccessHash()
			return u.ID, h, nil
		}
	}
	return 0, 0, errors.New("contacts.importContacts: the imported user is not in the answer")
}

func (g gotdClient) sendText(ctx context.Context, to peerRef, text string, randomID int64) error {
	_, err := g.d.API.MessagesSendMessage(ctx, &tg.MessagesSendMessageRequest{Peer: &tg.InputPeerUser{
		UserID: to.id, AccessHash: to.accessHash}, Message: text, RandomID: randomID})
	if rpc, ok := tgerr.As(err); ok {
		return &rpcError{code: rpc.Code, err: err}
	}
	return err
}

func (g gotdClient) listen() {}
func (g gotdClient) close()  { _ = g.d.Close() }

// startClient starts user k's client on addr and signs it up.
func startClient(ctx context.Context, cfg config, addr string, pub *rsa.PublicKey, tr *tracker, phone string, k int) (client, int64, error) {
	if cfg.client == "raw" {
		c, err := dialRaw(ctx, addr, pub, tr)
		if err != nil {
			return nil, 0, err
		}
		id, err := c.login(ctx, phone, cfg.code, "Bench", strconv.Itoa(k))
		if err != nil {
			c.close()
			return nil, 0, fmt.Errorf("user %d: %w", k, err)
		}
		return c, id, nil
	}
	d, err := tgclient.Start(ctx, tgclient.Options{Addr: addr, PublicKey: pub, OnUpdates: tr.onPush})
	if err != nil {
		return nil, 0, err
	}
	u, err := d.Login(ctx, phone, cfg.code, "Bench", strconv.Itoa(k))
	if err != nil {
		_ = d.Close()
		return nil, 0, fmt.Errorf("user %d: %w", k, err)
	}
	return gotdClient{d}, u.ID, nil
}

// signUp signs up 2n users (phones unique to this process's start time, so runs against one cluster do not
// collide), clients spread over the nodes, and pairs them: even pairs within one shard, odd pairs across two
// (where the users' shards allow), so both delivery paths are measured. Pushes go to tr.
func signUp(ctx context.Context, cfg config, addrs []string, pub *rsa.PublicKey, n int, tr *tracker) ([]*pair, error) {
	base := cfg.phoneBase
	if base == 0 {
		base = time.Now().Unix() % 100000
	}
	members := make([]*member, 2*n)
	jobs := make(chan int)
	errs := make(chan error, 2*n)
	var wg sync.WaitGroup
	for range max(cfg.workers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range jobs {
				ph := fmt.Sprintf("1888%05d%04d", base, k)
				c, id, err := startClient(ctx, cfg, addrs[k%len(addrs)], pub, tr, ph, k)
				if err != nil {
					errs <- err
					continue
				}
				members[k] = &member{c: c, id: id, phone: ph, shard: shard.Of(id, cfg.shards)}
			}
		}()
	}
	for k := range 2 * n {
		select {
		case jobs <- k:
		case <-ctx.Done():
		}
	}
	close(jobs)
	wg.Wait()
	close(errs)
	var pairs []*pair
	if err := <-errs; err != nil {
		for _, m := range members {
			if m != nil {
				m.c.close()
			}
		}
		return nil, err
	}
	for i, pm := range pairUp(members, n) {
		s, r := pm[0], pm[1]
		p := &pair{sender: s.c, receiver: r.c, cross: s.shard != r.shard}
		pairs = append(pairs, p)
		id, h, err := s.c.importPeer(ctx, r.phone, i)
		if err != nil {
			return pairs, fmt.Errorf("pair %d: %w", i, err)
		}
		if id != r.id {
			return pairs, fmt.Errorf("pair %d: imported user %d, want %d", i, id, r.id)
		}
		p.peer = peerRef{id: id, accessHash: h}
		r.c.listen()
	}
	return pairs, nil
}

// pairUp makes n (sender, receiver) pairs of 2n members: pair i within one shard if i is even, across two
// shards if odd, as far as the members' shards allow. Deterministic for a given input.
func pairUp(ms []*member, n int) [][2]*member {
	buckets := map[uint32][]*member{}
	var shards []uint32
	for _, m := range ms {
		if _, ok := buckets[m.shard]; !ok {
			shards = append(shards, m.shard)
		}
		buckets[m.shard] = append(buckets[m.shard], m)
	}
	slices.Sort(shards)
	// biggest returns the shards by remaining members, most first.
	biggest := func() []uint32 {
		s := slices.Clone(shards)
		slices.SortStableFunc(s, func(a, b uint32) int { return len(buckets[b]) - len(buckets[a]) })
		return s
	}
	pop := func(s uint32) *member {
		m := buckets[s][0]
		buckets[s] = buckets[s][1:]
		return m
	}
	var out [][2]*member
	for i := range n {
		order := biggest()
		a, b := order[0], order[0]
		if len(order) > 1 && len(buckets[order[1]]) > 0 && (i%2 == 1 || len(buckets[order[0]]) < 2) {
			b = order[1]
		}
		out = append(out, [2]*member{pop(a), pop(b)})
	}
	return out
}

// tracker matches pushes at receivers with the sends, by text.
type tracker struct {
	mu     sync.Mutex
	sent   map[string]sendInfo
	pushed map[string]bool
	push   [2][]time.Duration // send start -> push; [1]: cross-shard pairs
}

type sendInfo struct {
	at    time.Time
	cross bool
}

func (t *tracker) reset() {
	t.mu.Lock()
	t.sent, t.pushed, t.push = map[string]sendInfo{}, map[string]bool{}, [2][]time.Duration{}
	t.mu.Unlock()
}

func (t *tracker) sending(text string, at time.Time, cross bool) {
	t.mu.Lock()
	t.sent[text] = sendInfo{at: at, cross: cross}
	t.mu.Unlock()
}

// onPush is gotd's update handler.
func (t *tracker) onPush(u tg.UpdatesClass) {
	var texts []string
	for _, e := range tgclient.Events(u) {
		if e.Msg != nil && !e.Msg.Out {
			texts = append(texts, e.Msg.Text)
		}
	}
	t.received(texts...)
}

// received records the push of incoming messages with these texts.
func (t *tracker) received(texts ...string) {
	if len(texts) == 0 {
		return
	}
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, text := range texts {
		if s, ok := t.sent[text]; ok && !t.pushed[text] {
			t.pushed[text] = true
			k := 0
			if s.cross {
				k = 1
			}
			t.push[k] = append(t.push[k], now.Sub(s.at))
		}
	}
}

// measure runs one round: every sender keeps one sendMessage in flight until the duration is over.
// A 4xx answer other than FLOOD_WAIT ends the run with an error: the cluster cannot serve the benchmark.
func measure(ctx context.Context, cfg config, pairs []*pair, tr *tracker, round int, log *slog.Logger) (result, error) {
	tr.reset()
	ctx, abort := context.WithCancelCause(ctx)
	defer abort(nil)
	r := result{pairs: len(pairs)}
	cpu0 := cpuTime()
	var mu sync.Mutex
	var ackedTexts []string
	start := time.Now()
	deadline := start.Add(cfg.duration)
	var wg sync.WaitGroup
	for i, p := range pairs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var acks []time.Duration
			var texts []string
			errs := 0
			for seq := 0; time.Now().Before(deadline) && ctx.Err() == nil; seq++ {
				text := fmt.Sprintf("r%d p%d m%d", round, i, seq)
				t0 := time.Now()
				tr.sending(text, t0, p.cross)
				cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				err := p.sender.sendText(cctx, p.peer, text, rand.Int64())
				cancel()
				var rpcErr *rpcError
				if errors.As(err, &rpcErr) && rpcErr.code >= 400 && rpcErr.code < 500 && rpcErr.code != 420 {
					abort(fmt.Errorf("pair %d: sendMessage: %w", i, err))
					break
				}
				if err != nil {
					errs++
					if errs <= 3 && ctx.Err() == nil {
						log.Warn("sendMessage failed", "pair", i, "err", err)
					}
					time.Sleep(50 * time.Millisecond)
					continue
				}
				acks = append(acks, time.Since(t0))
				texts = append(texts, text)
			}
			mu.Lock()
			r.ack = append(r.ack, acks...)
			r.errors += errs
			ackedTexts = append(ackedTexts, texts...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	r.elapsed = time.Since(start)
	r.clientCPU = cpuTime() - cpu0
	r.load = loadAvg()
	r.acked = len(ackedTexts)
	waitUntil := time.Now().Add(cfg.grace)
	for time.Now().Before(waitUntil) {
		tr.mu.Lock()
		done := len(tr.pushed) >= len(ackedTexts)
		tr.mu.Unlock()
		if done {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	tr.mu.Lock()
	r.push = append(slices.Clone(tr.push[0]), tr.push[1]...)
	r.pushSame, r.pushCross = slices.Clone(tr.push[0]), slices.Clone(tr.push[1])
	for _, p := range pairs {
		if p.cross {
			r.crossPairs++
		}
	}
	for _, t := range ackedTexts {
		if !tr.pushed[t] {
			r.unpushed++
		}
	}
	tr.mu.Unlock()
	if err := context.Cause(ctx); err != nil {
		return r, err
	}
	return r, nil
}

// cpuTime is the CPU time (user + system) this process used so far: the benchmark's own clients compete with
// the cluster for the same cores, and the table says how much.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loadAvg is the machine's 1-minute load average ("" if unknown): other work on the machine skews the numbers.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}
