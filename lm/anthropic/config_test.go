package anthropic_test

import (
	"testing"

	"github.com/godspy/dspy/internal/replay"
	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/lm/anthropic"
)

// TestConfigErrorNotRetried: an ftp:// base URL is a configuration error,
// reported at once with the URL and without the key.
func TestConfigErrorNotRetried(t *testing.T) {
	const key = "sk-ant-config-test-secret"
	replay.ConfigErrorTests(t, func() lm.LM {
		return anthropic.New("m", anthropic.WithBaseURL("ftp://llm.example"), anthropic.WithAPIKey(key))
	}, "ftp://llm.example/v1/messages", key)
}
