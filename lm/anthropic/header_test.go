package anthropic

import (
	"net/http"
	"testing"

	"github.com/godspy/dspy/internal/replay"
	"github.com/godspy/dspy/lm"
)

func TestRequestHeaders(t *testing.T) {
	replay.HeaderTests(t, replay.AnthropicWire(), holdMessage, func(base string, hc *http.Client) lm.LM {
		return New("claude-x", WithBaseURL(base), WithAPIKey("sk-ant-test"), WithHeader("X-Extra", "e"), WithHTTPClient(hc))
	}, func(stream bool) http.Header {
		h := http.Header{"Content-Type": {"application/json"}, "Anthropic-Version": {APIVersion}, "X-Api-Key": {"sk-ant-test"}, "X-Extra": {"e"}}
		if stream {
			h["Accept"] = []string{"text/event-stream"}
		}
		return h
	})
}

// Only the calls on godspy's own HTTP client share a header map (see
// provider.HTTPClient).
func TestSharedHeaderOwnClientOnly(t *testing.T) {
	for _, tt := range []struct {
		name string
		c    *Client
		want bool
	}{
		{"own client", New("claude-x"), true},
		{"nil client keeps the own", New("claude-x", WithHTTPClient(nil)), true},
		{"caller's client", New("claude-x", WithHTTPClient(&http.Client{})), false},
	} {
		if got := tt.c.hdr.Shared(); got != tt.want {
			t.Errorf("%s: calls share a header map: %v, want %v", tt.name, got, tt.want)
		}
	}
}
