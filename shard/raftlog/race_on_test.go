//go:build race

package raftlog

// raceEnabled lets heavy tests do less work under the race detector (10x slower here).
const raceEnabled = true
