package openai_test

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/godspy/dspy/internal/replay"
	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/lm/openai"
)

// FuzzStreamChunks feeds arbitrary bodies through the stream decoder: it
// must never panic, yield an error only last, and keep every delivered
// chunk in a StreamError's Partial.
func FuzzStreamChunks(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "sse", "*.sse"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil && len(b) < 16<<10 {
			f.Add(b)
		}
	}
	f.Add([]byte("data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"function\":{\"arguments\":\"{}\"}}]},\"finish_reason\":\"stop\"}]}\n\n"))
	f.Add([]byte("event: error\ndata: {\"error\":{\"code\":429}}\n\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		ft := &replay.Script{Answers: []replay.Answer{replay.Status(200, nil, string(body))}}
		c := openai.New("m", openai.WithHTTPClient(&http.Client{Transport: ft}), openai.WithRetry(lm.NoRetry()))
		replay.Collect(t, c.Stream(t.Context(), &lm.Request{}))
	})
}
