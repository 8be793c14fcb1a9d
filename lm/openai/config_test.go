package openai_test

import (
	"testing"

	"github.com/godspy/dspy/internal/replay"
	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/lm/openai"
)

// TestConfigErrorNotRetried: an ftp:// base URL is a configuration error,
// reported at once with the URL and without the key.
func TestConfigErrorNotRetried(t *testing.T) {
	const key = "sk-config-test-secret"
	replay.ConfigErrorTests(t, func() lm.LM {
		return openai.New("m", openai.WithBaseURL("ftp://llm.example/v1"), openai.WithAPIKey(key))
	}, "ftp://llm.example/v1/chat/completions", key)
}
