package anthropic_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/lm/anthropic"
)

const benchChunks = 100

// benchStream is an Anthropic stream of benchChunks text deltas in the shape
// the Messages API sends, built once.
func benchStream() []byte {
	var b bytes.Buffer
	words := strings.Fields("the quick brown fox jumps over the lazy dog and keeps running far away")
	b.WriteString("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_01Ju7oPaDmjgrhWq8gNP4AUj\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5-20250929\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":15,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,\"output_tokens\":1,\"service_tier\":\"standard\"}}}\n\n")
	b.WriteString("event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n")
	b.WriteString("event: ping\ndata: {\"type\": \"ping\"}\n\n")
	for i := range benchChunks {
		fmt.Fprintf(&b, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\" %s\"}}\n\n", words[i%len(words)])
	}
	b.WriteString("event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n")
	b.WriteString("event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":100}}\n\n")
	b.WriteString("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")
	return b.Bytes()
}

// BenchmarkStreamChunk is our client reading a local stream of 100 text
// deltas; it reports ns and allocations per delta.
func BenchmarkStreamChunk(b *testing.B) {
	body := benchStream()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		w.Write(body)
	}))
	b.Cleanup(srv.Close)
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	b.Cleanup(tr.CloseIdleConnections)
	c := anthropic.New("claude-sonnet-4-5", anthropic.WithBaseURL(srv.URL), anthropic.WithHTTPClient(&http.Client{Transport: tr}))
	req := &lm.Request{Messages: []lm.Message{{Role: lm.RoleUser, Content: "Tell me about Paris."}}}
	b.ReportAllocs()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	for b.Loop() {
		n := 0
		for ch, err := range c.Stream(b.Context(), req) {
			if err != nil {
				b.Fatal(err)
			}
			n += len(ch.Text)
		}
		if n == 0 {
			b.Fatal("no text")
		}
	}
	runtime.ReadMemStats(&m1)
	n := float64(b.N * benchChunks)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/chunk")
	b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/n, "allocs/chunk")
}
