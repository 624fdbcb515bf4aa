package node

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/raftgram/raftgram/shard"
)

// metrics owns the node's Prometheus registry. Library packages only fire shard.Events; this turns them
// into series.
type metrics struct {
	reg           *prometheus.Registry
	leaderChanges *prometheus.CounterVec
	forwarded     *prometheus.CounterVec
	applyLatency  *prometheus.HistogramVec
	batchSize     *prometheus.HistogramVec
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		leaderChanges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "raftgram_shard_leader_changes_total",
			Help: "Leadership gains and losses seen by this node, per group.",
		}, []string{"group"}),
		forwarded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "raftgram_shard_forwarded_requests_total",
			Help: "Requests this node forwarded to another node's leader, per group.",
		}, []string{"group"}),
		applyLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "raftgram_shard_apply_latency_seconds",
			Help:    "Time from a command entering the leader's batcher to its applied result, per group.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}, []string{"group"}),
		batchSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "raftgram_shard_batch_commands",
			Help:    "Client commands packed into one Raft log entry by the leader's batcher, per group.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 10),
		}, []string{"group"}),
	}
	m.reg.MustRegister(m.leaderChanges, m.forwarded, m.applyLatency, m.batchSize,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func groupLabel(g uint32) string {
	if g == shard.MetaGroup {
		return "meta"
	}
	return strconv.FormatUint(uint64(g), 10)
}

func (m *metrics) events() shard.Events {
	return shard.Events{
		OnLeaderChange: func(g uint32, _ bool) { m.leaderChanges.WithLabelValues(groupLabel(g)).Inc() },
		OnForward:      func(g uint32) { m.forwarded.WithLabelValues(groupLabel(g)).Inc() },
		OnBatch:        func(g uint32, n int) { m.batchSize.WithLabelValues(groupLabel(g)).Observe(float64(n)) },
		OnApply: func(g uint32, d time.Duration) {
			m.applyLatency.WithLabelValues(groupLabel(g)).Observe(d.Seconds())
		},
	}
}

func (m *metrics) register(n *Node) {
	m.reg.MustRegister(&groupCollector{n: n})
}

// groupCollector reports each open group's Raft indexes at scrape time.
type groupCollector struct{ n *Node }

var (
	descCommit  = prometheus.NewDesc("raftgram_shard_commit_index", "Raft commit index per group.", []string{"group"}, nil)
	descApplied = prometheus.NewDesc("raftgram_shard_applied_index", "Index applied by the state machine per group.", []string{"group"}, nil)
	descTerm    = prometheus.NewDesc("raftgram_shard_term", "Raft term per group.", []string{"group"}, nil)
	descLeader  = prometheus.NewDesc("raftgram_shard_is_leader", "1 when this node leads the group.", []string{"group"}, nil)
	descSyncs   = prometheus.NewDesc("raftgram_raftlog_wal_syncs_total", "WAL fsyncs of the shared Raft log store.", nil, nil)
)

func (c *groupCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descCommit, descApplied, descTerm, descLeader, descSyncs} {
		ch <- d
	}
}

func (c *groupCollector) Collect(ch chan<- prometheus.Metric) {
	for _, st := range c.n.shards.Status() {
		l := groupLabel(st.Group)
		ch <- prometheus.MustNewConstMetric(descCommit, prometheus.GaugeValue, float64(st.CommitIndex), l)
		ch <- prometheus.MustNewConstMetric(descApplied, prometheus.GaugeValue, float64(st.AppliedIndex), l)
		ch <- prometheus.MustNewConstMetric(descTerm, prometheus.GaugeValue, float64(st.Term), l)
		lead := 0.0
		if st.State == "Leader" {
			lead = 1
		}
		ch <- prometheus.MustNewConstMetric(descLeader, prometheus.GaugeValue, lead, l)
	}
	ch <- prometheus.MustNewConstMetric(descSyncs, prometheus.CounterValue, float64(c.n.logs.Metrics().WALSyncs))
}
