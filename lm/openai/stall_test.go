package openai_test

import (
	"net/http"
	"testing"

	"github.com/godspy/dspy/internal/replay"
	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/lm/openai"
)

func TestStallProtection(t *testing.T) {
	replay.StallTests(t, replay.OpenAIWire(), func(hc *http.Client) lm.LM {
		return openai.New("m", openai.WithHTTPClient(hc), openai.WithRetry(lm.NoRetry()))
	})
}
