//go:build !race

// The race detector adds allocations of its own, so this budget is checked
// only without it (.ci/run's second pass).

package anthropic_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/lm/anthropic"
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

// messagesStream is a Messages API stream of n text deltas.
func messagesStream(n int) []byte {
	var b bytes.Buffer
	b.WriteString("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_01Ju7oPaDmjgrhWq8gNP4AUj\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5-20250929\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":15,\"output_tokens\":1}}}\n\n")
	b.WriteString("event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n")
	for range n {
		b.WriteString("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\" fox\"}}\n\n")
	}
	b.WriteString("event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n")
	fmt.Fprintf(&b, "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":%d}}\n\n", n)
	b.WriteString("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")
	return b.Bytes()
}

func streamAllocs(t *testing.T, n int) float64 {
	c := anthropic.New("claude-sonnet-4-5", anthropic.WithHTTPClient(&http.Client{Transport: memTransport{messagesStream(n)}}), anthropic.WithRetry(lm.NoRetry()))
	req := &lm.Request{Messages: []lm.Message{{Role: lm.RoleUser, Content: "Tell me about Paris."}}}
	return testing.AllocsPerRun(20, func() {
		got := 0
		for ch, err := range c.Stream(t.Context(), req) {
			if err != nil {
				t.Fatal(err)
			}
			if ch.Text != "" {
				got++
			}
		}
		if got != n {
			t.Fatalf("%d text chunks, want %d", got, n)
		}
	})
}

// slack absorbs amortised growth (a buffer that doubles once in 100
// chunks); a new allocation on every chunk exceeds it.
const slack = 0.1

// TestStreamChunkAllocs holds the stream's decoding to its allocation budget
// per text delta: the allocations of a stream of 200 deltas less those of
// one of 100 (what a call costs whatever its length cancels out), over 100.
// Budget measured 2026-12-02 with go1.26 (issue 21): the delta's text.
func TestStreamChunkAllocs(t *testing.T) {
	const budget = 1
	per := (streamAllocs(t, 200) - streamAllocs(t, 100)) / 100
	if per > budget+slack {
		t.Errorf("%.2f allocations per chunk, budget %v", per, budget)
	}
	t.Logf("%.2f allocations per chunk (budget %v)", per, budget)
}
