package anthropic_test

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/godspy/dspy/internal/replay"
	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/lm/anthropic"
)

// bodyTransport answers every request with 200 and a fixed body.
type bodyTransport string

func (b bodyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(string(b))), Request: r}, nil
}

// FuzzDecodeEvents feeds arbitrary event streams through the decoder: no
// panic, an error only last, delivered chunks kept in a StreamError.
func FuzzDecodeEvents(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "sse", "anthropic_*.sse"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil && len(b) < 20<<10 {
			f.Add(b)
		}
	}
	f.Add([]byte(streamHead))
	f.Add([]byte("event: content_block_start\ndata: {\"index\":1000000000000000,\"content_block\":{\"type\":\"tool_use\"}}\n\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		c := anthropic.New("m", anthropic.WithHTTPClient(&http.Client{Transport: bodyTransport(body)}), anthropic.WithRetry(lm.NoRetry()))
		replay.Collect(t, c.Stream(t.Context(), &lm.Request{}))
	})
}
