//go:build race

package clients_test

// raceEnabled: the test binary is built with -race, so the gotd v0.160 program is too; its packages are then
// the ones the main module's -race tests compiled already (same versions), not a second cold build of gotd's tg.
const raceEnabled = true
