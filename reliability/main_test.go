package reliability

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// Every test in this package ends with no goroutine of its own left: the
// client transports it creates are closed, and goleak checks the rest.
// Started with envReplica set, the test binary is a replica process of
// TestFleetProducerKilled instead.
func TestMain(m *testing.M) {
	if cfg := os.Getenv(envReplica); cfg != "" {
		os.Exit(runReplica(cfg))
	}
	goleak.VerifyTestMain(m)
}
