package anthropic_test

import (
	"net/http"
	"testing"

	"github.com/godspy/dspy/internal/replay"
	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/lm/anthropic"
)

func TestStallProtection(t *testing.T) {
	replay.StallTests(t, replay.AnthropicWire(), func(hc *http.Client) lm.LM {
		return anthropic.New("m", anthropic.WithHTTPClient(hc), anthropic.WithRetry(lm.NoRetry()))
	})
}
