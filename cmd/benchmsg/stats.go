package main

import (
	"fmt"
	"io"
	"runtime"
	"slices"
	"time"
)

// result is one run at a number of pairs.
type result struct {
	pairs    int
	elapsed  time.Duration
	acked    int
	errors   int
	ack      []time.Duration // sendMessage round trips
	push     []time.Duration // send start -> push at the peer
	unpushed int             // acknowledged, no push within the grace period
	// push latencies split by whether the pair's users are on one shard or two (relayed between shards)
	pushSame, pushCross []time.Duration
	crossPairs          int
	clientCPU           time.Duration // CPU the benchmark process (its clients) used during the run
	load                string        // 1-minute load average at the end of the run
}

// percentile returns the p-th percentile (0 < p <= 100) of ds by nearest rank; 0 for none.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := int(p/100*float64(len(s))+0.999999) - 1
	return s[min(max(rank, 0), len(s)-1)]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)) }

func printTable(w io.Writer, rs []result) {
	fmt.Fprintf(w, "%6s %12s %9s %9s %10s %10s %9s %7s\n", "pairs", "acked/s", "ack p50", "ack p99",
		"push p50", "push p99", "unpushed", "errors")
	for _, r := range rs {
		rate := 0.0
		if r.elapsed > 0 {
			rate = float64(r.acked) / r.elapsed.Seconds()
		}
		fmt.Fprintf(w, "%6d %12.1f %9s %9s %10s %10s %9d %7d\n", r.pairs, rate, ms(percentile(r.ack, 50)),
			ms(percentile(r.ack, 99)), ms(percentile(r.push, 50)), ms(percentile(r.push, 99)), r.unpushed, r.errors)
	}
	fmt.Fprintln(w, "(latencies in ms; push = from the sendMessage call to the peer's client receiving the message)")
	fmt.Fprintf(w, "\n%6s %14s %14s\n", "pairs", "client CPU", "load average")
	for _, r := range rs {
		cores := 0.0
		if r.elapsed > 0 {
			cores = r.clientCPU.Seconds() / r.elapsed.Seconds()
		}
		fmt.Fprintf(w, "%6d %13.2fc %14s\n", r.pairs, cores, r.load)
	}
	fmt.Fprintf(w, "(client CPU: cores the benchmark's own clients kept busy on this %d-core machine)\n",
		runtime.NumCPU())
	fmt.Fprintf(w, "\n%6s %14s %10s %10s %16s %10s %10s\n", "pairs", "same-shard", "push p50", "push p99",
		"cross-shard", "push p50", "push p99")
	for _, r := range rs {
		fmt.Fprintf(w, "%6d %14d %10s %10s %16d %10s %10s\n", r.pairs, r.pairs-r.crossPairs,
			ms(percentile(r.pushSame, 50)), ms(percentile(r.pushSame, 99)), r.crossPairs,
			ms(percentile(r.pushCross, 50)), ms(percentile(r.pushCross, 99)))
	}
}
