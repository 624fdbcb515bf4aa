// Package validate holds the checkers: each takes a whole history and returns a verdict (valid, invalid or
// unknown) with the anomalies it found, every anomaly naming the events that show it.
//
// Checkers: Linearizable (porcupine over per-key registers), UniqueClaim, MessageSet, DialogOrder, Pts and
// ReadYourWrites. Each file's header says exactly what its checker asserts.
//
// It must never look at anything but the history (no cluster, no clock), and never stop at the first anomaly
// when others are cheap to find: a report with every anomaly is worth more. Anomalies per checker are capped
// (MaxAnomalies) so a broken run cannot produce an unbounded report.
package validate
