//go:build !race

// The race detector adds allocations of its own, so these budgets are
// checked only without it (.ci/run's second pass).

package openai_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/lm/openai"
)

// memTransport answers every request with body from memory: no network, so
// what a stream allocates is the client's own.
type memTransport struct{ body []byte }

func (m memTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/event-stream"}},
		Body: io.NopCloser(bytes.NewReader(m.body)), Request: r}, nil
}

// chatStream is an OpenAI chat stream of n content chunks of the given
// JSON-encoded content, in the shape OpenAI sends.
func chatStream(n int, content string) []byte {
	const pre = `data: {"id":"chatcmpl-C6bjxzOr3Oz1rTiafksd6himIit3q","object":"chat.completion.chunk","created":1755600000,"model":"gpt-4o-mini-2024-07-18","service_tier":"default","system_fingerprint":"fp_560af6e559","choices":[{"index":0,"delta":`
	var b bytes.Buffer
	b.WriteString(pre + `{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"k3Jd"}` + "\n\n")
	for i := range n {
		fmt.Fprintf(&b, pre+`{"content":%s},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"aB%d"}`+"\n\n", content, i)
	}
	b.WriteString(pre + `{},"logprobs":null,"finish_reason":"stop"}],"usage":null,"obfuscation":"x"}` + "\n\n")
	b.WriteString("data: [DONE]\n\n")
	return b.Bytes()
}

// streamAllocs is the allocations of one whole stream of n chunks.
func streamAllocs(t *testing.T, content string, n int) float64 {
	c := openai.New("gpt-4o-mini", openai.WithHTTPClient(&http.Client{Transport: memTransport{chatStream(n, content)}}), openai.WithRetry(lm.NoRetry()))
	req := &lm.Request{Messages: []lm.Message{{Role: lm.RoleUser, Content: "Tell me about Paris."}}}
	return testing.AllocsPerRun(20, func() {
		got := 0
		for _, err := range c.Stream(t.Context(), req) {
			if err != nil {
				t.Fatal(err)
			}
			got++
		}
		if got != n+1 {
			t.Fatalf("%d chunks, want %d", got, n+1)
		}
	})
}

// slack absorbs amortised growth (a buffer that doubles once in 100
// chunks); a new allocation on every chunk exceeds it.
const slack = 0.1

// TestStreamChunkAllocs holds the chat stream's decoding to its allocation
// budget per chunk: the allocations of a stream of 200 chunks less those of
// one of 100 (what a call costs whatever its length cancels out), over 100.
// Budgets measured 2026-12-02 with go1.26 (issue 21): the chunk shape the
// fast path decodes allocates only the content string; a chunk it leaves to
// encoding/json (a \u escape in the content) also allocates the decoder's
// scratch.
func TestStreamChunkAllocs(t *testing.T) {
	for _, tt := range []struct {
		name, content string
		budget        float64
	}{
		{"fast path", `" fox"`, 1},
		{"encoding/json", `" caf\u00e9"`, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			per := (streamAllocs(t, tt.content, 200) - streamAllocs(t, tt.content, 100)) / 100
			if per > tt.budget+slack {
				t.Errorf("%.2f allocations per chunk, budget %v", per, tt.budget)
			}
			t.Logf("%.2f allocations per chunk (budget %v)", per, tt.budget)
		})
	}
}
