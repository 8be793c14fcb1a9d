package reliability

import (
	"testing"

	"go.uber.org/goleak"
)

// Every test in this package ends with no goroutine of its own left: the
// client transports it creates are closed, and goleak checks the rest.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
