package openai_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/godspy/dspy/dspytest"
	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/lm/openai"
)

func newClient(srv *dspytest.Server, opts ...openai.Option) *openai.Client {
	return openai.New("gpt-test", append([]openai.Option{openai.WithBaseURL(srv.URL()), openai.WithAPIKey("sk-secret-test-key")}, opts...)...)
}

func userReq(text string) *lm.Request {
	return &lm.Request{Messages: []lm.Message{{Role: lm.RoleUser, Content: text}}}
}

func TestGenerateAndStreamAgree(t *testing.T) {
	tests := []struct {
		name string
		ans  dspytest.Answer
	}{
		{"text", dspytest.Answer{Text: "Paris is the capital of France."}},
		{"reasoning", dspytest.Answer{Reasoning: "Think: France.", Text: "Paris."}},
		{"tool calls", dspytest.Answer{ToolCalls: []lm.ToolCall{
			{ID: "call_1", Name: "plus", Arguments: `{"a": 2, "b": 3}`},
			{ID: "call_2", Name: "minus", Arguments: `{"a": 3, "b": 2}`},
		}}},
		{"unicode", dspytest.Answer{Text: "Grüße 😊 — \"quoted\" \\ backslash\nnew line"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := dspytest.NewServer(dspytest.WithAnswers(tt.ans, tt.ans), dspytest.WithChunkBytes(3))
			defer srv.Close()
			c := newClient(srv)
			got, err := c.Generate(t.Context(), userReq("q"))
			if err != nil {
				t.Fatal(err)
			}
			streamed, err := lm.Collect(c.Stream(t.Context(), userReq("q")))
			if err != nil {
				t.Fatal(err)
			}
			got.ID, streamed.ID = "", ""
			if diff := cmp.Diff(got, streamed); diff != "" {
				t.Errorf("generate vs stream: -generate +stream\n%s", diff)
			}
			m := got.Choices[0].Message
			want := lm.Message{Role: lm.RoleAssistant, Content: tt.ans.Text, Reasoning: tt.ans.Reasoning, ToolCalls: tt.ans.ToolCalls}
			if diff := cmp.Diff(want, m); diff != "" {
				t.Errorf("-want +got\n%s", diff)
			}
			if got.Usage.TotalTokens == 0 {
				t.Error("no usage")
			}
		})
	}
}

func TestRequestEncoding(t *testing.T) {
	srv := dspytest.NewServer()
	defer srv.Close()
	temp, seed := 0.25, int64(1)<<60
	c := newClient(srv, openai.WithHeader("HTTP-Referer", "https://example.test"), openai.WithMaxTokens(99), openai.WithTemperature(0.9))
	req := &lm.Request{
		Messages: []lm.Message{
			{Role: lm.RoleSystem, Content: "sys"},
			{Role: lm.RoleUser, Content: "hi"},
			{Role: lm.RoleAssistant, ToolCalls: []lm.ToolCall{{ID: "c1", Name: "f", Arguments: `{"x":1}`}}},
			{Role: lm.RoleTool, ToolCallID: "c1", Content: "2"},
		},
		Temperature:    &temp,
		N:              2,
		Stop:           []string{"END"},
		Seed:           &seed,
		ResponseFormat: &lm.ResponseFormat{Type: "json_schema", Name: "out", Schema: map[string]any{"type": "object"}, Strict: true},
		Tools:          []lm.ToolSpec{{Name: "f", Description: "d", Parameters: map[string]any{"type": "object"}}},
		ToolChoice:     "f",
		Extra:          map[string]any{"reasoning_effort": "low", "max_tokens": 7, "stream": false},
	}
	if _, err := lm.Collect(c.Stream(t.Context(), req)); err != nil {
		t.Fatal(err)
	}
	rec := srv.Requests()[0]
	var got map[string]any
	if err := json.Unmarshal(rec.Raw, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"model": "gpt-test",
		"messages": []any{
			map[string]any{"role": "system", "content": "sys"},
			map[string]any{"role": "user", "content": "hi"},
			map[string]any{"role": "assistant", "content": nil, "tool_calls": []any{map[string]any{"id": "c1", "type": "function", "function": map[string]any{"name": "f", "arguments": `{"x":1}`}}}},
			map[string]any{"role": "tool", "content": "2", "tool_call_id": "c1"},
		},
		"temperature":      0.25,
		"max_tokens":       float64(7), // Extra wins
		"n":                float64(2),
		"stop":             []any{"END"},
		"seed":             float64(seed),
		"response_format":  map[string]any{"type": "json_schema", "json_schema": map[string]any{"name": "out", "schema": map[string]any{"type": "object"}, "strict": true}},
		"tools":            []any{map[string]any{"type": "function", "function": map[string]any{"name": "f", "description": "d", "parameters": map[string]any{"type": "object"}}}},
		"tool_choice":      map[string]any{"type": "function", "function": map[string]any{"name": "f"}},
		"stream":           true,
		"stream_options":   map[string]any{"include_usage": true},
		"reasoning_effort": "low",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("body: -want +got\n%s", diff)
	}
	if !strings.Contains(string(rec.Raw), `"seed":1152921504606846976`) {
		t.Errorf("seed above 2^53 lost precision: %s", rec.Raw)
	}
	if h := rec.Header.Get("Authorization"); h != "Bearer sk-secret-test-key" {
		t.Errorf("Authorization = %q", h)
	}
	if h := rec.Header.Get("HTTP-Referer"); h != "https://example.test" {
		t.Errorf("HTTP-Referer = %q", h)
	}
	// Client defaults apply when the request sets nothing.
	if _, err := c.Generate(t.Context(), userReq("x")); err != nil {
		t.Fatal(err)
	}
	b := srv.Requests()[1].Body
	if b.MaxTokens != 99 || b.Temperature == nil || *b.Temperature != 0.9 || b.Stream {
		t.Errorf("defaults not applied: %+v", b)
	}
}

func TestMaxCompletionTokensField(t *testing.T) {
	srv := dspytest.NewServer()
	defer srv.Close()
	c := newClient(srv, openai.WithMaxTokensField("max_completion_tokens"))
	req := userReq("x")
	req.MaxTokens = 5
	if _, err := c.Generate(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	ex := srv.Requests()[0].Body.Extra
	if string(ex["max_completion_tokens"]) != "5" || ex["max_tokens"] != nil {
		t.Errorf("body %s", srv.Requests()[0].Raw)
	}
}

func TestAzure(t *testing.T) {
	var gotURL, gotKey, gotAuth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotURL, gotKey, gotAuth = r.URL.String(), r.Header.Get("api-key"), r.Header.Get("Authorization")
		io.WriteString(w, `{"id":"x","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}]}`)
	}))
	defer srv.Close()
	c := openai.New("my-deploy", openai.WithBaseURL(srv.URL), openai.WithAPIKey("azkey"), openai.WithAzure("2024-10-21"))
	resp, err := c.Generate(t.Context(), userReq("x"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Text() != "hi" || gotURL != "/openai/deployments/my-deploy/chat/completions?api-version=2024-10-21" || gotKey != "azkey" || gotAuth != "" {
		t.Errorf("url %q key %q auth %q", gotURL, gotKey, gotAuth)
	}
}

func TestHTTPErrors(t *testing.T) {
	const key = "sk-live-abcdef123456"
	tests := []struct {
		name   string
		status int
		body   string
		is     error
		want   lm.APIError
	}{
		{"auth echoes key", 401, `{"error":{"message":"Incorrect API key provided: sk-live-abcdef123456.","type":"invalid_request_error","code":"invalid_api_key"}}`, lm.ErrAuth,
			lm.APIError{Provider: "openai", StatusCode: 401, Type: "invalid_request_error", Code: "invalid_api_key", Message: "Incorrect API key provided: [redacted].", RequestID: "req_42"}},
		{"context window", 400, `{"error":{"message":"This model's maximum context length is 8192 tokens","type":"invalid_request_error","code":"context_length_exceeded"}}`, lm.ErrContextWindow,
			lm.APIError{Provider: "openai", StatusCode: 400, Type: "invalid_request_error", Code: "context_length_exceeded", Message: "This model's maximum context length is 8192 tokens", RequestID: "req_42"}},
		{"gemini array", 400, `[{"error":{"code":400,"message":"Invalid JSON payload","status":"INVALID_ARGUMENT"}}]`, lm.ErrBadRequest,
			lm.APIError{Provider: "openai", StatusCode: 400, Code: "400", Message: "Invalid JSON payload", RequestID: "req_42"}},
		{"detail", 404, `{"detail":"Not Found"}`, lm.ErrBadRequest,
			lm.APIError{Provider: "openai", StatusCode: 404, Message: "Not Found", RequestID: "req_42"}},
		{"plain text", 503, `upstream unavailable`, lm.ErrServer,
			lm.APIError{Provider: "openai", StatusCode: 503, Message: "upstream unavailable", RequestID: "req_42"}},
		{"empty", 502, ``, lm.ErrServer,
			lm.APIError{Provider: "openai", StatusCode: 502, Message: "Bad Gateway", RequestID: "req_42"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-Request-Id", "req_42")
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			c := openai.New("m", openai.WithBaseURL(srv.URL), openai.WithAPIKey(key), openai.WithRetry(lm.NoRetry()))
			_, gerr := c.Generate(t.Context(), userReq("x"))
			var serr error
			for _, err := range c.Stream(t.Context(), userReq("x")) {
				serr = err
			}
			for _, err := range []error{gerr, serr} {
				var api *lm.APIError
				if !errors.As(err, &api) || !errors.Is(err, tt.is) {
					t.Fatalf("err = %v, want *lm.APIError matching %v", err, tt.is)
				}
				if diff := cmp.Diff(tt.want, *api); diff != "" {
					t.Errorf("-want +got\n%s", diff)
				}
				if strings.Contains(err.Error(), key) {
					t.Errorf("error text leaks the key: %v", err)
				}
			}
		})
	}
}

func TestBlockingRefusal(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"id":"x","choices":[{"index":0,"message":{"role":"assistant","content":null,"refusal":"I can't help."},"finish_reason":"stop"}]}`)
	}))
	defer srv.Close()
	_, err := openai.New("m", openai.WithBaseURL(srv.URL)).Generate(t.Context(), userReq("x"))
	var re *openai.RefusalError
	if !errors.Is(err, lm.ErrRefusal) || !errors.As(err, &re) || re.Refusal != "I can't help." {
		t.Fatalf("err = %v", err)
	}
}

func TestBreakCancelsRequest(t *testing.T) {
	srv := dspytest.NewServer(dspytest.WithChunkDelay(5 * time.Millisecond))
	defer srv.Close()
	srv.Enqueue(dspytest.Answer{Text: strings.Repeat("word ", 200)})
	c := newClient(srv)
	n := 0
	for _, err := range c.Stream(t.Context(), userReq("x")) {
		if err != nil {
			t.Fatal(err)
		}
		n++
		if n == 3 {
			break
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for srv.Disconnects() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if srv.Disconnects() != 1 {
		t.Fatalf("disconnects = %d, want 1: break did not cancel the request", srv.Disconnects())
	}
}

func TestContextCancelStopsStream(t *testing.T) {
	srv := dspytest.NewServer(dspytest.WithChunkDelay(5 * time.Millisecond))
	defer srv.Close()
	srv.Enqueue(dspytest.Answer{Text: strings.Repeat("word ", 200)})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var got []string
	var last error
	for ch, err := range newClient(srv).Stream(ctx, userReq("x")) {
		if err != nil {
			last = err
			break
		}
		got = append(got, ch.Text)
		if len(got) == 2 {
			cancel()
		}
	}
	var se *lm.StreamError
	if !errors.As(last, &se) || !errors.Is(last, context.Canceled) {
		t.Fatalf("err = %v, want StreamError wrapping context.Canceled", last)
	}
	if se.Partial.Text() != strings.Join(got, "") {
		t.Errorf("partial %q, delivered %q", se.Partial.Text(), strings.Join(got, ""))
	}
}
