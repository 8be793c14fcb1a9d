//go:build race

package openai_test

// raceEnabled reports a -race build: the load test skips there, as the
// detector's cost would swamp what it measures.
const raceEnabled = true
