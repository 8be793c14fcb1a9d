// Package reliability tests godspy end to end the way trusted HTTP clients
// and servers are tested: a misbehaving LM provider (dspytest.Server's
// faults), a thousand concurrent SSE clients, hostile input and secrets that
// must not leak. It has no API; its tests are the product.
//
// Every test records the row of RELIABILITY.md it backs. Regenerate the
// file from the repository root with
//
//	go generate ./reliability
//
// which runs the tests with -json and turns their rows into the table
// (cmd/report). A row whose test fails is marked FAIL, and the command then
// exits non-zero.
package reliability

//go:generate sh -c "go test -count=1 -json . | go run ./cmd/report > ../RELIABILITY.md"
