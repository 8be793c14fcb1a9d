package cache_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// A child process of the multi-process disk test runs its part and
	// exits without running the tests.
	if os.Getenv(childEnv) != "" {
		os.Exit(diskChild())
	}
	goleak.VerifyTestMain(m)
}
