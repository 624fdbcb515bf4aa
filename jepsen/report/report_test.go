package report

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/raftgram/raftgram/jepsen/history"
	"github.com/raftgram/raftgram/jepsen/validate"
)

func TestReportIsSelfContained(t *testing.T) {
	clk := time.Unix(1000, 0)
	rec := history.NewRecorder(func() time.Time { clk = clk.Add(50 * time.Millisecond); return clk }, nil)
	rec.Add(history.Event{Type: history.Invoke, Process: 0, F: "put", Key: "x", Value: "1"})
	rec.Add(history.Event{Type: history.Invoke, Process: history.NemesisProcess, Node: -1, F: "start", Key: "kill"})
	rec.Add(history.Event{Type: history.OK, Process: history.NemesisProcess, Node: -1, F: "start", Key: "kill", Value: "kill -9 n2"})
	rec.Add(history.Event{Type: history.OK, Process: 0, F: "put", Key: "x", Value: "1"})
	rec.Add(history.Event{Type: history.Invoke, Process: 1, Node: 2, F: "get", Key: "x"})
	rec.Add(history.Event{Type: history.OK, Process: 1, Node: 2, F: "get", Key: "x", Absent: true})
	rec.Add(history.Event{Type: history.Invoke, Process: 2, F: "put", Key: "x", Value: "<script>"})
	rec.Add(history.Event{Type: history.Info, Process: 2, F: "put", Key: "x", Value: "<script>", Error: "timeout"})
	rec.Add(history.Event{Type: history.Invoke, Process: history.NemesisProcess, Node: -1, F: "stop", Key: "kill"})
	rec.Add(history.Event{Type: history.OK, Process: history.NemesisProcess, Node: -1, F: "stop", Key: "kill"})
	evs := rec.Events()
	res := validate.Run(evs, validate.Linearizable{})
	if res[0].Verdict != validate.Invalid {
		t.Fatalf("planted lost write not caught: %+v", res)
	}
	var buf bytes.Buffer
	if err := Write(&buf, Meta{Title: "test run", Start: clk, Duration: time.Second, Workloads: []string{"register"},
		Nemeses: []string{"kill"}, Injected: map[string]int{"kill": 1}}, evs, res); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"<svg", "not-linearizable", "kill -9 n2", "invalid", "Latency over time", "&lt;script&gt;"} {
		if !strings.Contains(out, want) {
			t.Fatalf("report lacks %q", want)
		}
	}
	for _, bad := range []string{"<script", "src=", "href=", "@import"} {
		if strings.Contains(out, bad) {
			t.Fatalf("report is not self-contained / escaped: contains %q", bad)
		}
	}
	ops, _ := history.Pair(evs)
	w := Windows(ops, history.MaxTime(evs)+1)
	if len(w) != 1 || w[0].Name != "kill" || w[0].To <= w[0].From {
		t.Fatalf("windows %+v", w)
	}
}

func TestReportSamplesLongRuns(t *testing.T) {
	defer func(n int) { maxDrawn = n }(maxDrawn)
	maxDrawn = 500
	clk := time.Unix(0, 0)
	rec := history.NewRecorder(func() time.Time { clk = clk.Add(time.Millisecond); return clk }, nil)
	for i := 0; i < 3*maxDrawn; i++ {
		rec.Add(history.Event{Type: history.Invoke, Process: i % 8, F: "get", Key: "k"})
		typ := history.OK
		if i == 7 {
			typ = history.Fail
		}
		rec.Add(history.Event{Type: typ, Process: i % 8, F: "get", Key: "k", Absent: true})
	}
	var buf bytes.Buffer
	if err := Write(&buf, Meta{Title: "long", Start: clk}, rec.Events(), nil); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, "Drawing ") {
		t.Fatal("a long run must say it samples")
	}
	if n := strings.Count(out, "<circle"); n > maxDrawn+1 {
		t.Fatalf("%d dots drawn, cap %d", n, maxDrawn)
	}
	if !strings.Contains(out, "#c9463d") {
		t.Fatal("the failed operation must be drawn")
	}
}
