#!/usr/bin/env bash
# make bench-cluster: committed commands/s and p50/p99 latency of 256-byte KV puts spread over all shards,
# 3 raftgram processes on 127.0.0.1, fsync on, at 1, 16 and 100 concurrent clients. The run fails if any
# group's Raft term moved (an election on an overloaded box invalidates the numbers).
#
# Knobs (environment): SHARDS (default: init's default), CLIENTS (1,16,100), DURATION (10s), SIZE (256),
# BENCH_DIR (default: a fresh directory under ./tmp, on the same disk as the repo), BASE_PORT (17400),
# SERVE_ARGS (extra flags for every node, e.g. --debug-api to expose /debug/pprof on the admin port).
#
# When Debian's etcd-server (etcd 3.4) is installed, the same run then starts a 3-member etcd on loopback (data
# on the same disk) and drives it with etcd's own benchmark tool (go.etcd.io/etcd/v3/tools/benchmark v3.5.21,
# built in a scratch module under BENCH_DIR so the repo's go.mod is untouched): 16-byte keys, 240-byte values,
# straight to the leader, the same client counts. ETCD=0 skips it. ETCD_TOTALS sets requests per client count;
# ETCD_BENCHMARK names an already built benchmark binary.
#
# Between the two (cluster stopped, so nothing else of ours is on the disk), `raftgram bench --raw-pebble` measures
# the disk's baseline in the same run: synced 256-byte Pebble Sets into one fresh DB under BENCH_DIR from the same
# numbers of concurrent writers (Pebble shares WAL fsyncs among them). PEBBLE=0 skips it. The run ends with a
# table of all three and the ratios raftgram/etcd and raftgram/pebble per client count.
set -euo pipefail
cd "$(dirname "$0")/.."
CLIENTS=${CLIENTS:-1,16,100}
DURATION=${DURATION:-10s}
SIZE=${SIZE:-256}
BASE_PORT=${BASE_PORT:-17400}
mkdir -p tmp
BENCH_DIR=${BENCH_DIR:-$(mktemp -d "$PWD/tmp/bench-cluster.XXXXXX")}
BIN="$BENCH_DIR/raftgram"
go build -o "$BIN" ./cmd/raftgram

pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT

addr() { echo "127.0.0.1:$((BASE_PORT + 2 * ($1 - 1)))"; }
admin() { echo "127.0.0.1:$((BASE_PORT + 2 * ($1 - 1) + 1))"; }
wait_ready() {
	for _ in $(seq 1 300); do
		if curl -fs "http://$(admin "$1")/readyz" >/dev/null 2>&1; then return 0; fi
		sleep 0.2
	done
	echo "node n$1 not ready; log: $BENCH_DIR/n$1.log" >&2
	exit 1
}

shard_flag=()
if [ -n "${SHARDS:-}" ]; then shard_flag=(--shards "$SHARDS"); fi
"$BIN" init --data-dir "$BENCH_DIR/n1" --node-id n1 "${shard_flag[@]}" --listen "$(addr 1)" --admin "$(admin 1)" >/dev/null
"$BIN" serve --data-dir "$BENCH_DIR/n1" --log-level warn ${SERVE_ARGS:-} >"$BENCH_DIR/n1.log" 2>&1 &
pids+=($!)
wait_ready 1
for i in 2 3; do
	tok=$("$BIN" token --data-dir "$BENCH_DIR/n1")
	"$BIN" join "$(addr 1)" --token "$tok" --data-dir "$BENCH_DIR/n$i" --node-id "n$i" \
		--listen "$(addr "$i")" --admin "$(admin "$i")" --log-level warn ${SERVE_ARGS:-} >"$BENCH_DIR/n$i.log" 2>&1 &
	pids+=($!)
	wait_ready "$i"
done
# Let every group reach 3 voters, elect a leader, and the balancer spread the leaderships.
sleep 5
for _ in $(seq 1 60); do
	if out=$("$BIN" status --data-dir "$BENCH_DIR/n1" 2>&1) && ! grep -q '?' <<<"$out" && ! grep -q 'false' <<<"$out"; then break; fi
	sleep 1
done
echo "$out"
echo
RESULTS="$BENCH_DIR/results.txt"
: >"$RESULTS"
bench_rc=0
"$BIN" bench --data-dir "$BENCH_DIR/n1" --clients "$CLIENTS" --duration "$DURATION" --size "$SIZE" |
	tee -a "$RESULTS" | grep -v '^RESULT ' || bench_rc=$?
echo
"$BIN" status --data-dir "$BENCH_DIR/n1"
du -sh "$BENCH_DIR"/n*/raftlog "$BENCH_DIR"/n*/state 2>/dev/null || true

cleanup
pids=()

# ---- raw Pebble synced writes, same disk, same concurrency (the cluster is stopped) ----
if [ "${PEBBLE:-1}" != 0 ]; then
	echo
	"$BIN" bench --raw-pebble "$BENCH_DIR/rawpebble" --clients "$CLIENTS" --duration "$DURATION" --size "$SIZE" |
		tee -a "$RESULTS" | grep -v '^RESULT '
	du -sh "$BENCH_DIR/rawpebble" 2>/dev/null || true
	rm -rf "$BENCH_DIR/rawpebble"
fi

summary() {
	echo
	echo "summary (same run, same disk; rate in commands or writes per second, p50/p99 in ms):"
	python3 - "$RESULTS" "$CLIENTS" <<'PY'
import sys
res = {}
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) >= 4 and f[0] == "RESULT":
        res[(f[1], int(f[2]))] = (float(f[3]), f[4] if len(f) > 4 else "-", f[5] if len(f) > 5 else "-")
def cell(sys_, c):
    r = res.get((sys_, c))
    return "%9.0f %7s %7s" % (r[0], r[1], r[2]) if r else "%9s %7s %7s" % ("-", "-", "-")
def ratio(a, b, c):
    x, y = res.get((a, c)), res.get((b, c))
    return "%6.2f" % (x[0] / y[0]) if x and y and y[0] > 0 else "%6s" % "-"
print("%7s | %-25s | %-25s | %-25s | %8s %8s" % ("clients", "raftgram rate p50 p99", "etcd put rate p50 p99",
      "raw pebble rate p50 p99", "rg/etcd", "rg/pebble"))
for c in [int(x) for x in sys.argv[2].split(",")]:
    print("%7d | %s | %s | %s | %8s %8s" % (c, cell("raftgram", c), cell("etcd", c), cell("pebble", c),
          ratio("raftgram", "etcd", c), ratio("raftgram", "pebble", c)))
PY
}

# ---- etcd, same box, same disk, same concurrency ----
if [ "${ETCD:-1}" = 0 ] || ! command -v etcd >/dev/null 2>&1; then
	echo "etcd comparison skipped (ETCD=0 or no etcd binary: apt-get install etcd-server etcd-client)"
	summary
	exit "$bench_rc"
fi
EB="${ETCD_BENCHMARK:-$BENCH_DIR/etcd-benchmark}"
if [ ! -x "$EB" ]; then
	mkdir -p "$BENCH_DIR/etcdbench"
	(
		cd "$BENCH_DIR/etcdbench"
		printf 'module etcdbench\n\ngo 1.26\n' >go.mod
		printf '//go:build tools\n\npackage tools\n\nimport _ "go.etcd.io/etcd/v3/tools/benchmark"\n' >tools.go
		go get go.etcd.io/etcd/v3/tools/benchmark@v3.5.21 >/dev/null 2>&1
		go build -o "$EB" go.etcd.io/etcd/v3/tools/benchmark
	)
fi
EP=$((BASE_PORT + 50))
cluster=""
for i in 1 2 3; do cluster+="${cluster:+,}e$i=http://127.0.0.1:$((EP + 2 * i + 1))"; done
for i in 1 2 3; do
	etcd --name "e$i" --data-dir "$BENCH_DIR/e$i" \
		--listen-client-urls "http://127.0.0.1:$((EP + 2 * i))" --advertise-client-urls "http://127.0.0.1:$((EP + 2 * i))" \
		--listen-peer-urls "http://127.0.0.1:$((EP + 2 * i + 1))" --initial-advertise-peer-urls "http://127.0.0.1:$((EP + 2 * i + 1))" \
		--initial-cluster "$cluster" --initial-cluster-state new --initial-cluster-token bench \
		--logger zap --log-level warn >"$BENCH_DIR/e$i.log" 2>&1 &
	pids+=($!)
done
eps="http://127.0.0.1:$((EP + 2)),http://127.0.0.1:$((EP + 4)),http://127.0.0.1:$((EP + 6))"
for _ in $(seq 1 100); do
	if ETCDCTL_API=3 etcdctl --endpoints="$eps" endpoint health >/dev/null 2>&1; then break; fi
	sleep 0.2
done
estatus() { ETCDCTL_API=3 etcdctl --endpoints="$eps" endpoint status -w json; }
leader=$(estatus | python3 -c 'import json,sys; s=json.load(sys.stdin); print([e["Endpoint"] for e in s if e["Status"]["header"]["member_id"]==e["Status"]["leader"]][0])')
terms_before=$(estatus | python3 -c 'import json,sys; print(sorted(e["Status"]["raftTerm"] for e in json.load(sys.stdin)))')
echo "etcd 3.4 (3 members, loopback, plain HTTP between members), leader $leader"
IFS=, read -r -a counts <<<"$CLIENTS"
IFS=, read -r -a totals <<<"${ETCD_TOTALS:-3000,20000,50000}"
for k in "${!counts[@]}"; do
	c=${counts[$k]}
	t=${totals[$k]:-20000}
	echo "-- etcd put, $c clients, $t requests"
	out=$("$EB" --endpoints="$leader" --conns="$c" --clients="$c" put --key-size=16 --val-size=240 \
		--key-space-size=1000000 --total="$t" 2>/dev/null || true)
	grep -E "Requests/sec|Slowest|Average|  50%|  99%" <<<"$out" || true
	# etcd's benchmark prints seconds: "Requests/sec:\t1234.5", "  50% in 0.0123 secs."
	python3 - "$c" "$out" >>"$RESULTS" <<'PY' || true
import re, sys
t = sys.argv[2]
rate = re.search(r"Requests/sec:\s*([0-9.]+)", t)
p50 = re.search(r"50% in ([0-9.]+) secs", t)
p99 = re.search(r"99% in ([0-9.]+) secs", t)
if rate:
    ms = lambda m: "%.3f" % (float(m.group(1)) * 1000) if m else "-"
    print("RESULT etcd %s %s %s %s" % (sys.argv[1], rate.group(1), ms(p50), ms(p99)))
PY
done
terms_after=$(estatus | python3 -c 'import json,sys; print(sorted(e["Status"]["raftTerm"] for e in json.load(sys.stdin)))')
echo "etcd raft terms before $terms_before after $terms_after"
summary
exit "$bench_rc"
