// Package report renders a run as one self-contained HTML file: the verdict of every checker, a timeline of
// operations and fault windows (inline SVG), latency over time (inline SVG), and every anomaly with the events
// that show it.
//
// It must never reference anything outside the file (no scripts, fonts or styles fetched at view time) and
// never judge the run itself: verdicts come from jepsen/validate.
package report
