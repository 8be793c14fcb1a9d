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

// FuzzResponsesStream feeds arbitrary bodies through the Responses event
// decoder, streamed and blocking: it must never panic; a stream yields an
// error only last, keeps every delivered chunk in a StreamError's Partial,
// and ends well only after a finish reason.
func FuzzResponsesStream(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "responses", "*.sse"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil && len(b) < 16<<10 {
			f.Add(b)
		}
	}
	f.Add([]byte("data: {\"type\":\"response.output_item.added\",\"output_index\":3,\"item\":{\"type\":\"function_call\",\"call_id\":\"c\",\"name\":\"f\"}}\n\n" +
		"data: {\"type\":\"response.function_call_arguments.done\",\"output_index\":3,\"arguments\":\"{}\"}\n\n" +
		"data: {\"type\":\"response.completed\",\"response\":{\"status\":\"completed\"}}\n\n"))
	f.Add([]byte("event: error\ndata: {\"type\":\"error\",\"code\":\"server_error\",\"message\":\"x\"}\n\n"))
	f.Add([]byte("data: {\"type\":\"response.reasoning_summary_text.delta\",\"summary_index\":1,\"delta\":\"a\"}\n\ndata: [DONE]\n\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		ft := &replay.Script{Answers: []replay.Answer{replay.Status(200, nil, string(body))}}
		c := openai.NewResponses("m", openai.WithHTTPClient(&http.Client{Transport: ft}), openai.WithRetry(lm.NoRetry()))
		resp, err := replay.Collect(t, c.Stream(t.Context(), &lm.Request{}))
		if err == nil && resp.Choices[0].FinishReason == "" {
			t.Fatalf("a stream ended well without a finish reason: %+v", resp)
		}
		c.Generate(t.Context(), &lm.Request{})
	})
}
