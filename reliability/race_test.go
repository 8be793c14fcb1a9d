//go:build race

package reliability

// raceEnabled scales the load tests down under -race, whose detector costs
// about ten times the CPU: CI runs go test -race ./..., and a load test
// must finish there in well under a minute on two cores.
const raceEnabled = true
