package openai_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/lm/openai"
)

const benchChunks = 100

// benchStream is an OpenAI stream of benchChunks content chunks in the exact
// shape OpenAI sends (with the usage chunk), built once.
func benchStream() []byte {
	var b bytes.Buffer
	words := strings.Fields("the quick brown fox jumps over the lazy dog and keeps running far away")
	b.WriteString(`data: {"id":"chatcmpl-C6bjxzOr3Oz1rTiafksd6himIit3q","object":"chat.completion.chunk","created":1755600000,"model":"gpt-4o-mini-2024-07-18","service_tier":"default","system_fingerprint":"fp_560af6e559","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"k3Jd"}` + "\n\n")
	for i := range benchChunks {
		fmt.Fprintf(&b, `data: {"id":"chatcmpl-C6bjxzOr3Oz1rTiafksd6himIit3q","object":"chat.completion.chunk","created":1755600000,"model":"gpt-4o-mini-2024-07-18","service_tier":"default","system_fingerprint":"fp_560af6e559","choices":[{"index":0,"delta":{"content":" %s"},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"aB3dE"}`+"\n\n", words[i%len(words)])
	}
	b.WriteString(`data: {"id":"chatcmpl-C6bjxzOr3Oz1rTiafksd6himIit3q","object":"chat.completion.chunk","created":1755600000,"model":"gpt-4o-mini-2024-07-18","service_tier":"default","system_fingerprint":"fp_560af6e559","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null,"obfuscation":"x"}` + "\n\n")
	b.WriteString(`data: {"id":"chatcmpl-C6bjxzOr3Oz1rTiafksd6himIit3q","object":"chat.completion.chunk","created":1755600000,"model":"gpt-4o-mini-2024-07-18","service_tier":"default","system_fingerprint":"fp_560af6e559","choices":[],"usage":{"prompt_tokens":14,"completion_tokens":100,"total_tokens":114,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},"obfuscation":"yz"}` + "\n\n")
	b.WriteString("data: [DONE]\n\n")
	return b.Bytes()
}

const benchJSON = `{"id":"chatcmpl-C6bjxzOr3Oz1rTiafksd6himIit3q","object":"chat.completion","created":1755600000,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":{"role":"assistant","content":"The capital of France is Paris. It is known for the Eiffel Tower, the Louvre and its cafes.","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":14,"completion_tokens":22,"total_tokens":36,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},"service_tier":"default","system_fingerprint":"fp_560af6e559"}`

// memServer serves body from memory, with no delay, to every POST.
func memServer(b *testing.B, body []byte, ctype string) (*httptest.Server, *http.Client) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", ctype)
		w.Write(body)
	}))
	b.Cleanup(srv.Close)
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	b.Cleanup(tr.CloseIdleConnections)
	return srv, &http.Client{Transport: tr}
}

var benchReq = &lm.Request{Messages: []lm.Message{{Role: lm.RoleUser, Content: "Tell me about Paris."}}}

// perChunk reports ns and allocations per streamed chunk.
func perChunk(b *testing.B, run func()) {
	b.ReportAllocs()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	for b.Loop() {
		run()
	}
	runtime.ReadMemStats(&m1)
	n := float64(b.N * benchChunks)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/chunk")
	b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/n, "allocs/chunk")
}

// BenchmarkStreamChunk is our client reading a local stream of 100 chunks;
// compare ns/chunk and allocs/chunk with BenchmarkStreamChunkFloor.
func BenchmarkStreamChunk(b *testing.B) {
	srv, hc := memServer(b, benchStream(), "text/event-stream")
	c := openai.New("gpt-4o-mini", openai.WithBaseURL(srv.URL), openai.WithHTTPClient(hc))
	perChunk(b, func() {
		n := 0
		for ch, err := range c.Stream(b.Context(), benchReq) {
			if err != nil {
				b.Fatal(err)
			}
			n += len(ch.Text)
		}
		if n == 0 {
			b.Fatal("no text")
		}
	})
}

// BenchmarkStreamChunkFloor is the least a Go client can do for the same
// stream: net/http, bufio.Scanner with a raised buffer, encoding/json into a
// minimal struct, and the text summed.
func BenchmarkStreamChunkFloor(b *testing.B) {
	srv, hc := memServer(b, benchStream(), "text/event-stream")
	body, _ := json.Marshal(map[string]any{"model": "gpt-4o-mini", "stream": true, "stream_options": map[string]any{"include_usage": true},
		"messages": []map[string]string{{"role": "user", "content": "Tell me about Paris."}}})
	type chunk struct {
		ID      string `json:"id"`
		Model   string `json:"model"`
		Choices []struct {
			Delta struct {
				Content string `json:"content"`
			} `json:"delta"`
			FinishReason *string `json:"finish_reason"`
		} `json:"choices"`
		Usage *struct {
			PromptTokens     int `json:"prompt_tokens"`
			CompletionTokens int `json:"completion_tokens"`
		} `json:"usage"`
	}
	perChunk(b, func() {
		req, _ := http.NewRequestWithContext(b.Context(), "POST", srv.URL+"/chat/completions", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer x")
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 8<<20)
		n := 0
		for sc.Scan() {
			line := sc.Bytes()
			if !bytes.HasPrefix(line, []byte("data: ")) {
				continue
			}
			data := line[6:]
			if string(data) == "[DONE]" {
				break
			}
			var c chunk
			if err := json.Unmarshal(data, &c); err != nil {
				b.Fatal(err)
			}
			if len(c.Choices) > 0 {
				n += len(c.Choices[0].Delta.Content)
			}
		}
		resp.Body.Close()
		if n == 0 {
			b.Fatal("no text")
		}
	})
}

// BenchmarkGenerate is one blocking call through our client.
func BenchmarkGenerate(b *testing.B) {
	srv, hc := memServer(b, []byte(benchJSON), "application/json")
	c := openai.New("gpt-4o-mini", openai.WithBaseURL(srv.URL), openai.WithHTTPClient(hc))
	b.ReportAllocs()
	for b.Loop() {
		r, err := c.Generate(b.Context(), benchReq)
		if err != nil || r.Text() == "" {
			b.Fatal(err)
		}
	}
}

// BenchmarkGenerateFloor is the minimal blocking call: marshal, POST,
// ReadAll, unmarshal into a minimal struct.
func BenchmarkGenerateFloor(b *testing.B) {
	srv, hc := memServer(b, []byte(benchJSON), "application/json")
	type resp struct {
		ID      string `json:"id"`
		Model   string `json:"model"`
		Choices []struct {
			Message struct {
				Role    string `json:"role"`
				Content string `json:"content"`
			} `json:"message"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
		Usage struct {
			PromptTokens     int `json:"prompt_tokens"`
			CompletionTokens int `json:"completion_tokens"`
			TotalTokens      int `json:"total_tokens"`
		} `json:"usage"`
	}
	b.ReportAllocs()
	for b.Loop() {
		body, _ := json.Marshal(map[string]any{"model": "gpt-4o-mini", "messages": []map[string]string{{"role": "user", "content": "Tell me about Paris."}}})
		req, _ := http.NewRequestWithContext(b.Context(), "POST", srv.URL+"/chat/completions", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer x")
		res, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		raw, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			b.Fatal(err)
		}
		var r resp
		if err := json.Unmarshal(raw, &r); err != nil || len(r.Choices) == 0 {
			b.Fatal(err)
		}
	}
}

// responsesDeltaStream is a Responses stream of n text deltas: the
// recorded gpt-4o stream testdata/responses/openai_gpt-4o_json-schema-text.sse
// with its deltas replaced by n deltas of the same shape (item id,
// logprobs, obfuscation, sequence number), its other events as recorded.
func responsesDeltaStream(tb testing.TB, n int) []byte {
	rec, err := os.ReadFile(filepath.Join("testdata", "responses", "openai_gpt-4o_json-schema-text.sse"))
	if err != nil {
		tb.Fatal(err)
	}
	words := strings.Fields("the quick brown fox jumps over the lazy dog and keeps running far away")
	var out bytes.Buffer
	deltas := false
	for _, ev := range strings.SplitAfter(string(rec), "\n\n") {
		if !strings.Contains(ev, `"response.output_text.delta"`) {
			out.WriteString(ev)
			continue
		}
		if deltas {
			continue
		}
		deltas = true
		for i := range n {
			fmt.Fprintf(&out, "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_number\":%d,\"item_id\":\"msg_029d5dc66e70cbc20068f966e708cc8193acf8b763b15bfa21\",\"output_index\":0,\"content_index\":0,\"delta\":\" %s\",\"logprobs\":[],\"obfuscation\":\"nvXSPvjxpSLVJx\"}\n\n", i+4, words[i%len(words)])
		}
	}
	return out.Bytes()
}

// BenchmarkResponsesStreamChunk is the Responses client reading a local
// stream of 100 text deltas; compare with BenchmarkStreamChunk.
func BenchmarkResponsesStreamChunk(b *testing.B) {
	srv, hc := memServer(b, responsesDeltaStream(b, benchChunks), "text/event-stream")
	c := openai.NewResponses("gpt-4o", openai.WithBaseURL(srv.URL), openai.WithHTTPClient(hc))
	perChunk(b, func() {
		n := 0
		for ch, err := range c.Stream(b.Context(), benchReq) {
			if err != nil {
				b.Fatal(err)
			}
			n += len(ch.Text)
		}
		if n == 0 {
			b.Fatal("no text")
		}
	})
}
