package openai

import (
	"net/http"
	"testing"

	"github.com/godspy/dspy/internal/replay"
	"github.com/godspy/dspy/lm"
)

func TestRequestHeaders(t *testing.T) {
	const reply = `{"id":"r","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}]}`
	replay.HeaderTests(t, replay.OpenAIWire(), reply, func(base string, hc *http.Client) lm.LM {
		return New("m", WithBaseURL(base), WithAPIKey("sk-test"), WithHeader("X-Extra", "e"), WithHTTPClient(hc))
	}, func(stream bool) http.Header {
		accept := "application/json"
		if stream {
			accept = "text/event-stream"
		}
		return http.Header{"Content-Type": {"application/json"}, "Accept": {accept}, "Authorization": {"Bearer sk-test"}, "X-Extra": {"e"}}
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
		{"own client", New("m"), true},
		{"nil client keeps the own", New("m", WithHTTPClient(nil)), true},
		{"caller's client", New("m", WithHTTPClient(&http.Client{})), false},
		{"responses, caller's client", NewResponses("m", WithHTTPClient(&http.Client{})).c, false},
	} {
		if got := tt.c.hdr.Shared(); got != tt.want {
			t.Errorf("%s: calls share a header map: %v, want %v", tt.name, got, tt.want)
		}
	}
}
