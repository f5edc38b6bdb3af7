//go:build race

package sqlite_test

// raceEnabled reports whether the race detector is on: it slows SQLite
// down several times and multiplies the memory a process uses.
const raceEnabled = true
