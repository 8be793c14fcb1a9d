package reliability

import (
	"encoding/json"
	"testing"
)

// rowMarker starts a test log line that cmd/report turns into a row of
// RELIABILITY.md.
const rowMarker = "reliability-row: "

// Areas of RELIABILITY.md, in table order.
const (
	areaFault   = "Provider fault"
	areaLoad    = "Load"
	areaHostile = "Hostile input"
	areaSecret  = "Secrets"
	areaPanic   = "Panic"
	areaFuzz    = "Fuzz corpus"
)

// row records the row of RELIABILITY.md that the running test backs: what
// was tried and what happened. Call it after the checks, so the row states
// what was verified; cmd/report marks it FAIL if the test fails anyway.
func row(t *testing.T, area, tried, result string) {
	t.Helper()
	b, err := json.Marshal(map[string]string{"area": area, "tried": tried, "result": result})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(rowMarker + string(b))
}
