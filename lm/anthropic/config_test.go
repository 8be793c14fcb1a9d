package anthropic_test

import (
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/lm/anthropic"
)

// TestConfigErrorNotRetried: a base URL with a scheme net/http cannot send
// fails at once (no backoff waits on the fake clock), matching
// lm.ErrConfig, naming the URL and not the key.
func TestConfigErrorNotRetried(t *testing.T) {
	const key = "sk-config-test-secret"
	synctest.Test(t, func(t *testing.T) {
		c := anthropic.New("m", anthropic.WithBaseURL("ftp://llm.example"), anthropic.WithAPIKey(key))
		start := time.Now()
		_, gerr := c.Generate(t.Context(), &lm.Request{})
		_, serr := lm.Collect(c.Stream(t.Context(), &lm.Request{}))
		if d := time.Since(start); d != 0 {
			t.Errorf("took %v: a configuration error was retried", d)
		}
		for _, err := range []error{gerr, serr} {
			if !errors.Is(err, lm.ErrConfig) || lm.Retryable(err) {
				t.Errorf("err = %v, want lm.ErrConfig, not retryable", err)
			}
			if msg := err.Error(); !strings.Contains(msg, "ftp://llm.example/v1/messages") || strings.Contains(msg, key) {
				t.Errorf("err = %q, want the URL and no key", msg)
			}
		}
	})
}
