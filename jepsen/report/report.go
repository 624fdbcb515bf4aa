package report

import (
	"fmt"
	"html"
	"html/template"
	"io"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/raftgram/raftgram/jepsen/history"
	"github.com/raftgram/raftgram/jepsen/validate"
)

// Meta describes the run.
type Meta struct {
	Title     string
	Command   string
	Start     time.Time
	Duration  time.Duration
	Seed      uint64
	Workloads []string
	Nemeses   []string
	Injected  map[string]int // faults that started, by name
	Notes     []string
}

// Window is a fault's time span.
type Window struct {
	Name, What string
	From, To   int64 // ns on the run clock; To = end of run when never healed
}

// Windows pairs the nemesis's start and stop operations.
func Windows(ops []history.Op, end int64) []Window {
	var out []Window
	cur := map[int]int{} // nemesis process -> index of its open window
	for _, o := range ops {
		p := o.Invoke.Process
		if !history.IsNemesis(p) {
			continue
		}
		switch o.Invoke.F {
		case "start":
			if o.Outcome() != history.OK {
				continue
			}
			out = append(out, Window{Name: o.Invoke.Key, What: o.Complete.Value, From: o.Invoke.Time, To: end})
			cur[p] = len(out) - 1
		case "stop":
			if i, ok := cur[p]; ok {
				out[i].To = o.End(end)
				delete(cur, p)
			}
		}
	}
	return out
}

type row struct {
	Checker, Verdict, Note, Stats string
	Anomalies                     []anomaly
	Dropped                       int
}

type anomaly struct {
	Kind, Text string
	Events     []history.Event
}

type page struct {
	Meta      Meta
	Verdict   string
	Rows      []row
	Counts    string
	Timeline  template.HTML
	Latency   template.HTML
	Generated string
	Anomalous bool
	Windows   []Window
	Sampled   string
}

// Write renders the report.
func Write(w io.Writer, meta Meta, events []history.Event, results []validate.Result) error {
	ops, err := history.Pair(events)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	end := history.MaxTime(events) + 1
	byIndex := make(map[int64]history.Event, len(events))
	for _, e := range events {
		byIndex[e.Index] = e
	}
	marked := map[int64]bool{}
	p := page{Meta: meta, Verdict: "valid", Generated: meta.Start.Add(meta.Duration).UTC().Format(time.RFC3339)}
	for _, r := range results {
		if r.Verdict == validate.Invalid {
			p.Verdict = "invalid"
		} else if r.Verdict == validate.Unknown && p.Verdict == "valid" {
			p.Verdict = "unknown"
		}
		rw := row{Checker: r.Checker, Verdict: string(r.Verdict), Note: r.Note, Dropped: r.Dropped, Stats: stats(r.Stats)}
		for _, a := range r.Anomalies {
			an := anomaly{Kind: a.Kind, Text: a.Text}
			for _, i := range a.Events {
				if e, ok := byIndex[i]; ok {
					an.Events = append(an.Events, e)
					marked[i] = true
				}
			}
			rw.Anomalies = append(rw.Anomalies, an)
			p.Anomalous = true
		}
		p.Rows = append(p.Rows, rw)
	}
	p.Counts = counts(ops)
	wins := Windows(ops, end)
	p.Windows = wins
	show, total := drawn(ops, marked)
	if len(show) < total {
		p.Sampled = fmt.Sprintf("Drawing %d of %d operations: every failed, indeterminate and anomalous one, and a "+
			"regular sample of the rest.", len(show), total)
	}
	p.Timeline = template.HTML(timeline(show, wins, end, marked))
	p.Latency = template.HTML(latency(show, wins, end))
	return tmpl.Execute(w, p)
}

func stats(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b []string
	for _, k := range keys {
		b = append(b, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return strings.Join(b, " ")
}

func counts(ops []history.Op) string {
	c := map[string]int{}
	for _, o := range ops {
		if history.IsNemesis(o.Invoke.Process) {
			continue
		}
		c[o.Invoke.F+":"+string(o.Outcome())]++
	}
	return stats(c)
}

// maxDrawn bounds the operations drawn in each picture: beyond it, only every k-th ok operation is drawn (all
// others, and every operation of an anomaly, always are), so a long run's report stays a few MB. A variable
// for tests.
var maxDrawn = 20000

func drawn(ops []history.Op, marked map[int64]bool) ([]history.Op, int) {
	var client []history.Op
	for _, o := range ops {
		if !history.IsNemesis(o.Invoke.Process) {
			client = append(client, o)
		}
	}
	if len(client) <= maxDrawn {
		return client, len(client)
	}
	stride := (len(client) + maxDrawn - 1) / maxDrawn
	var out []history.Op
	for i, o := range client {
		if i%stride == 0 || o.Outcome() != history.OK || marked[o.Invoke.Index] {
			out = append(out, o)
		}
	}
	return out, len(client)
}

var outcomeColor = map[history.Type]string{history.OK: "#2e9d4b", history.Fail: "#c9463d", history.Info: "#e39b26"}

const (
	svgW   = 1100.0
	margin = 60.0
)

func xOf(t, end int64) float64 { return margin + (svgW-margin-10)*float64(t)/float64(end) }

func axis(b *strings.Builder, end int64, height float64) {
	step := niceStep(time.Duration(end))
	for t := time.Duration(0); int64(t) <= end; t += step {
		x := xOf(int64(t), end)
		fmt.Fprintf(b, `<line x1="%.1f" y1="0" x2="%.1f" y2="%.1f" stroke="#eee"/>`, x, x, height)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" font-size="10" text-anchor="middle">%s</text>`, x, height+12, t)
	}
}

func niceStep(d time.Duration) time.Duration {
	for _, s := range []time.Duration{time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second,
		30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute} {
		if d/s <= 12 {
			return s
		}
	}
	return 30 * time.Minute
}

func bands(b *strings.Builder, wins []Window, end int64, height float64) {
	for _, w := range wins {
		x0, x1 := xOf(w.From, end), xOf(w.To, end)
		fmt.Fprintf(b, `<rect x="%.1f" y="0" width="%.1f" height="%.1f" fill="#8a63d2" fill-opacity="0.13"><title>%s: %s</title></rect>`,
			x0, math.Max(x1-x0, 1), height, html.EscapeString(w.Name), html.EscapeString(w.What))
		fmt.Fprintf(b, `<text x="%.1f" y="10" font-size="9" fill="#5b3b9a">%s</text>`, x0+2, html.EscapeString(w.Name))
	}
}

// timeline: one lane per process, one bar per operation from invocation to completion.
func timeline(ops []history.Op, wins []Window, end int64, marked map[int64]bool) string {
	lanes := map[int]int{}
	var procs []int
	for _, o := range ops {
		if history.IsNemesis(o.Invoke.Process) {
			continue
		}
		if _, ok := lanes[o.Invoke.Process]; !ok {
			lanes[o.Invoke.Process] = 0
			procs = append(procs, o.Invoke.Process)
		}
	}
	sort.Ints(procs)
	for i, p := range procs {
		lanes[p] = i
	}
	lane := 7.0
	if len(procs) > 80 {
		lane = math.Max(2, 560/float64(len(procs)))
	}
	height := 16 + lane*float64(len(procs))
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="sans-serif">`, svgW, height+18)
	axis(&b, end, height)
	bands(&b, wins, end, height)
	fmt.Fprintf(&b, `<text x="2" y="24" font-size="10">process</text>`)
	for _, o := range ops {
		if history.IsNemesis(o.Invoke.Process) {
			continue
		}
		y := 16 + lane*float64(lanes[o.Invoke.Process])
		x0 := xOf(o.Invoke.Time, end)
		x1 := xOf(end, end)
		if o.Complete != nil { // an info op is drawn until the client gave up, though it may land later
			x1 = xOf(o.Complete.Time, end)
		}
		col, ok := outcomeColor[o.Outcome()]
		if !ok || o.Complete == nil {
			col = "#999"
		}
		stroke := ""
		if marked[o.Invoke.Index] || o.Complete != nil && marked[o.Complete.Index] {
			stroke = ` stroke="#000" stroke-width="1.5"`
		}
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"%s><title>%s</title></rect>`,
			x0, y, math.Max(x1-x0, 0.8), math.Max(lane-1, 1), col, stroke, html.EscapeString(describe(o)))
	}
	b.WriteString(`</svg>`)
	return b.String()
}

// latency: one dot per completed operation at (invocation time, latency), log scale.
func latency(ops []history.Op, wins []Window, end int64) string {
	const h = 220.0
	maxLat := int64(time.Millisecond)
	for _, o := range ops {
		if o.Complete != nil && !history.IsNemesis(o.Invoke.Process) {
			maxLat = max(maxLat, o.Complete.Time-o.Invoke.Time)
		}
	}
	lo, hi := math.Log10(float64(100*time.Microsecond)), math.Log10(float64(maxLat))+0.1
	yOf := func(d int64) float64 {
		v := math.Log10(math.Max(float64(d), float64(100*time.Microsecond)))
		return h - (v-lo)/(hi-lo)*(h-14)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="sans-serif">`, svgW, h+18)
	axis(&b, end, h)
	bands(&b, wins, end, h)
	for _, d := range []time.Duration{time.Millisecond, 10 * time.Millisecond, 100 * time.Millisecond, time.Second, 10 * time.Second} {
		if int64(d) > maxLat*2 {
			break
		}
		y := yOf(int64(d))
		fmt.Fprintf(&b, `<line x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f" stroke="#ddd"/><text x="2" y="%.1f" font-size="10">%s</text>`,
			margin, y, svgW-10, y, y+3, d)
	}
	for _, o := range ops {
		if o.Complete == nil || history.IsNemesis(o.Invoke.Process) {
			continue
		}
		fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="1.6" fill="%s" fill-opacity="0.7"/>`,
			xOf(o.Invoke.Time, end), yOf(o.Complete.Time-o.Invoke.Time), outcomeColor[o.Outcome()])
	}
	b.WriteString(`</svg>`)
	return b.String()
}

func describe(o history.Op) string {
	e := o.Invoke
	s := fmt.Sprintf("#%d p%d n%d %s", e.Index, e.Process, e.Node+1, e.F)
	if e.Key != "" {
		s += " " + e.Key
	}
	if e.Value != "" {
		s += " " + e.Value
	}
	if e.Text != "" {
		s += " " + e.Text
	}
	s += " → " + string(o.Outcome())
	if c := o.Complete; c != nil {
		s += fmt.Sprintf(" in %s", time.Duration(c.Time-e.Time).Round(time.Microsecond))
		if c.Error != "" {
			s += " (" + c.Error + ")"
		}
	}
	return s
}

// eventDetail renders one event's fields for the anomaly tables.
func eventDetail(e history.Event) string {
	var parts []string
	add := func(k string, v any, ok bool) {
		if ok {
			parts = append(parts, fmt.Sprintf("%s=%v", k, v))
		}
	}
	add("key", e.Key, e.Key != "")
	add("value", e.Value, e.Value != "")
	add("expect", e.Expect, e.Expect != "")
	add("absent", e.Absent, e.Absent)
	add("mismatch", e.Mismatch, e.Mismatch)
	add("user", e.User, e.User != 0)
	add("peer", e.Peer, e.Peer != 0)
	add("device", e.Device, e.Device != 0)
	add("text", e.Text, e.Text != "")
	add("msg_id", e.MsgID, e.MsgID != 0)
	add("pts", e.Pts, e.Pts != 0)
	add("final", e.Final, e.Final)
	if len(e.Msgs) > 0 {
		var ms []string
		for _, m := range e.Msgs {
			ms = append(ms, fmt.Sprintf("%d:%s", m.ID, m.Text))
		}
		if len(ms) > 30 {
			ms = append(ms[:30], fmt.Sprintf("… %d more", len(e.Msgs)-30))
		}
		parts = append(parts, "msgs=["+strings.Join(ms, " ")+"]")
	}
	add("error", e.Error, e.Error != "")
	return strings.Join(parts, " ")
}

var tmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"dur":    func(ns int64) string { return time.Duration(ns).Round(time.Millisecond).String() },
	"detail": eventDetail,
	"node": func(n int) string {
		if n < 0 {
			return "-"
		}
		return fmt.Sprintf("n%d", n+1)
	},
}).Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>{{.Meta.Title}}</title>
<style>
body{font-family:sans-serif;margin:20px;color:#222;max-width:1140px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:3px 7px;font-size:13px;text-align:left;vertical-align:top}
.valid{background:#d9f2df}.invalid{background:#f7d4d1}.unknown{background:#fbe9c8}
code{font-size:12px}.legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 12px}
h2{margin-top:28px}
</style></head><body>
<h1>{{.Meta.Title}} — <span class="{{.Verdict}}">{{.Verdict}}</span></h1>
<p>Started {{.Meta.Start.UTC.Format "2006-01-02 15:04:05 UTC"}}, ran {{.Meta.Duration}}, seed {{.Meta.Seed}}.
Workloads: {{range .Meta.Workloads}}<code>{{.}}</code> {{end}}. Nemeses: {{range .Meta.Nemeses}}<code>{{.}}</code> {{end}}.</p>
{{if .Meta.Command}}<p>Reproduce: <code>{{.Meta.Command}}</code></p>{{end}}
<p>Faults injected: {{range $k, $v := .Meta.Injected}}<code>{{$k}}×{{$v}}</code> {{else}}none{{end}}</p>
<p>Operations: <code>{{.Counts}}</code></p>
{{range .Meta.Notes}}<p>Note: {{.}}</p>{{end}}
<h2>Verdicts</h2>
<table><tr><th>checker</th><th>verdict</th><th>anomalies</th><th>stats</th></tr>
{{range .Rows}}<tr><td>{{.Checker}}</td><td class="{{.Verdict}}">{{.Verdict}}{{if .Note}} ({{.Note}}){{end}}</td>
<td>{{len .Anomalies}}{{if .Dropped}} (+{{.Dropped}} not shown){{end}}</td><td><code>{{.Stats}}</code></td></tr>{{end}}
</table>
<h2>Timeline</h2>
{{if .Sampled}}<p>{{.Sampled}}</p>{{end}}
<p class="legend"><span style="background:#2e9d4b"></span>ok<span style="background:#c9463d"></span>fail<span style="background:#e39b26"></span>info (unknown)<span style="background:#999"></span>never completed<span style="background:#8a63d2;opacity:.35"></span>fault window; black outline: part of an anomaly. Hover for details.</p>
{{.Timeline}}
<h2>Latency over time</h2>
{{.Latency}}
<h2>Faults</h2>
<table><tr><th>fault</th><th>what</th><th>from</th><th>to</th></tr>
{{range .Windows}}<tr><td>{{.Name}}</td><td>{{.What}}</td><td>{{dur .From}}</td><td>{{dur .To}}</td></tr>{{else}}<tr><td colspan="4">none</td></tr>{{end}}
</table>
<h2>Anomalies</h2>
{{range .Rows}}{{$c := .Checker}}{{range .Anomalies}}
<h3>{{$c}}: {{.Kind}}</h3><p>{{.Text}}</p>
<table><tr><th>#</th><th>time</th><th>process</th><th>node</th><th>type</th><th>f</th><th>details</th></tr>
{{range .Events}}<tr><td>{{.Index}}</td><td>{{dur .Time}}</td><td>{{.Process}}</td><td>{{node .Node}}</td><td>{{.Type}}</td><td>{{.F}}</td><td><code>{{detail .}}</code></td></tr>{{end}}
</table>{{end}}{{end}}{{if not .Anomalous}}<p>None.</p>{{end}}
<p style="color:#888;font-size:11px">Generated by the raftgram Jepsen runner ({{.Generated}}).</p>
</body></html>
`))
