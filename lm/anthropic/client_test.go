package anthropic_test

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/godspy/dspy/internal/replay"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/lm/anthropic"
)

func TestRequestEncoding(t *testing.T) {
	var got map[string]any
	var hdr http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr = r.Header.Clone()
		json.NewDecoder(r.Body).Decode(&got)
		io.WriteString(w, `{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[{"type":"thinking","thinking":"hmm","signature":"s"},{"type":"text","text":"Hi"},{"type":"tool_use","id":"toolu_1","name":"f","input":{"x":1}}],"stop_reason":"tool_use","usage":{"input_tokens":10,"cache_read_input_tokens":5,"output_tokens":3}}`)
	}))
	defer srv.Close()
	c := anthropic.New("claude-x", anthropic.WithBaseURL(srv.URL), anthropic.WithAPIKey("sk-ant-secret"), anthropic.WithTemperature(0.5))
	req := &lm.Request{
		Messages: []lm.Message{
			{Role: lm.RoleSystem, Content: "be brief"},
			{Role: lm.RoleUser, Content: "hi"},
			{Role: lm.RoleAssistant, Content: "calling", ToolCalls: []lm.ToolCall{{ID: "toolu_0", Name: "f", Arguments: `{"x":1}`}}},
			{Role: lm.RoleTool, ToolCallID: "toolu_0", Content: "2"},
		},
		Stop:       []string{"END"},
		Tools:      []lm.ToolSpec{{Name: "f", Description: "d", Parameters: map[string]any{"type": "object"}}},
		ToolChoice: "required",
		Extra:      map[string]any{"thinking": map[string]any{"type": "enabled", "budget_tokens": 1024}},
	}
	resp, err := c.Generate(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"model": "claude-x", "max_tokens": float64(4096), "system": "be brief", "temperature": 0.5,
		"messages": []any{
			map[string]any{"role": "user", "content": []any{map[string]any{"type": "text", "text": "hi"}}},
			map[string]any{"role": "assistant", "content": []any{map[string]any{"type": "text", "text": "calling"}, map[string]any{"type": "tool_use", "id": "toolu_0", "name": "f", "input": map[string]any{"x": float64(1)}}}},
			map[string]any{"role": "user", "content": []any{map[string]any{"type": "tool_result", "tool_use_id": "toolu_0", "content": "2"}}},
		},
		"stop_sequences": []any{"END"},
		"tools":          []any{map[string]any{"name": "f", "description": "d", "input_schema": map[string]any{"type": "object"}}},
		"tool_choice":    map[string]any{"type": "any"},
		"thinking":       map[string]any{"type": "enabled", "budget_tokens": float64(1024)},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("body -want +got\n%s", diff)
	}
	if hdr.Get("X-Api-Key") != "sk-ant-secret" || hdr.Get("Anthropic-Version") != anthropic.APIVersion {
		t.Errorf("headers %v", hdr)
	}
	wantResp := &lm.Response{ID: "msg_1", Model: "claude-x", Choices: []lm.Choice{{
		Message:      lm.Message{Role: lm.RoleAssistant, Content: "Hi", Reasoning: "hmm", ToolCalls: []lm.ToolCall{{ID: "toolu_1", Name: "f", Arguments: `{"x":1}`}}},
		FinishReason: "tool_calls",
	}}, Usage: lm.Usage{PromptTokens: 15, CompletionTokens: 3, TotalTokens: 18, CachedTokens: 5}}
	if diff := cmp.Diff(wantResp, resp); diff != "" {
		t.Errorf("response -want +got\n%s", diff)
	}
}

func TestHTTPErrors(t *testing.T) {
	const key = "sk-ant-api03-secretsecret"
	tests := []struct {
		status int
		body   string
		is     error
		typ    string
	}{
		{401, `{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key sk-ant-api03-secretsecret"}}`, lm.ErrAuth, "authentication_error"},
		{429, `{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}`, lm.ErrRateLimited, "rate_limit_error"},
		{529, `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`, lm.ErrServer, "overloaded_error"},
		{400, `{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 210000 tokens > 200000 maximum"}}`, lm.ErrContextWindow, "invalid_request_error"},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Request-Id", "req_a1")
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			c := anthropic.New("m", anthropic.WithBaseURL(srv.URL), anthropic.WithAPIKey(key), anthropic.WithRetry(lm.NoRetry()))
			_, gerr := c.Generate(t.Context(), &lm.Request{})
			var serr error
			for _, err := range c.Stream(t.Context(), &lm.Request{}) {
				serr = err
			}
			for _, err := range []error{gerr, serr} {
				var api *lm.APIError
				if !errors.As(err, &api) || !errors.Is(err, tt.is) || api.StatusCode != tt.status || api.Type != tt.typ || api.RequestID != "req_a1" {
					t.Errorf("err = %#v, want %v", err, tt.is)
				}
				if strings.Contains(err.Error(), key) {
					t.Errorf("key leaked: %v", err)
				}
			}
		})
	}
}

const streamHead = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"model\":\"claude-x\",\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\n" +
	"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n" +
	"event: ping\ndata: {\"type\": \"ping\"}\n\n" +
	"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hel\"}}\n\n"

func TestStreamErrors(t *testing.T) {
	tests := []struct {
		name string
		tail string
		is   error
	}{
		{"overloaded event", "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n", lm.ErrServer},
		{"rate limit event", "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\",\"message\":\"x\"}}\n\n", lm.ErrRateLimited},
		{"cut before stop", "", io.ErrUnexpectedEOF},
		{"malformed", "event: content_block_delta\ndata: {\"type\":\n\n", lm.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := replay.PieceServer(t, []byte(streamHead+tt.tail), 3)
			c := anthropic.New("m", anthropic.WithBaseURL(srv.URL), anthropic.WithRetry(lm.NoRetry()))
			_, err := lm.Collect(c.Stream(t.Context(), &lm.Request{}))
			var se *lm.StreamError
			if !errors.Is(err, tt.is) || !errors.As(err, &se) || se.Partial.Text() != "Hel" {
				t.Errorf("err = %v, want StreamError(%v) keeping \"Hel\"", err, tt.is)
			}
		})
	}
}

func TestStreamWithoutEventNames(t *testing.T) {
	var b strings.Builder
	for _, l := range strings.Split(streamHead, "\n") {
		if !strings.HasPrefix(l, "event:") {
			b.WriteString(l + "\n")
		}
	}
	b.WriteString("data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"max_tokens\"},\"usage\":{\"output_tokens\":7}}\n\ndata: {\"type\":\"message_stop\"}\n\n")
	srv := replay.PieceServer(t, []byte(b.String()), 1)
	resp, err := lm.Collect(anthropic.New("m", anthropic.WithBaseURL(srv.URL)).Stream(t.Context(), &lm.Request{}))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Text() != "Hel" || resp.Choices[0].FinishReason != "length" || resp.Usage.CompletionTokens != 7 {
		t.Errorf("resp %+v", resp)
	}
}

func TestRetryBeforeFirstChunk(t *testing.T) {
	var calls atomic.Int32
	full := streamHead + "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":2}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After-Ms", "1")
			w.WriteHeader(529)
			io.WriteString(w, `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`)
			return
		}
		io.WriteString(w, full)
	}))
	defer srv.Close()
	resp, err := lm.Collect(anthropic.New("m", anthropic.WithBaseURL(srv.URL)).Stream(t.Context(), &lm.Request{}))
	if err != nil || resp.Text() != "Hel" || calls.Load() != 2 {
		t.Fatalf("resp %v err %v calls %d", resp, err, calls.Load())
	}
}

func TestBreakCancels(t *testing.T) {
	gone := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		io.WriteString(w, streamHead)
		rc.Flush()
		for {
			select {
			case <-r.Context().Done():
				close(gone)
				return
			case <-time.After(5 * time.Millisecond):
				io.WriteString(w, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"x\"}}\n\n")
				rc.Flush()
			}
		}
	}))
	defer srv.Close()
	for _, err := range anthropic.New("m", anthropic.WithBaseURL(srv.URL)).Stream(context.Background(), &lm.Request{}) {
		if err != nil {
			t.Fatal(err)
		}
		break
	}
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
		t.Fatal("server never saw the client leave")
	}
}

func TestFinishReason(t *testing.T) {
	for in, want := range map[string]string{"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "tool_use": "tool_calls", "refusal": "content_filter", "pause_turn": "pause_turn"} {
		if got := anthropic.FinishReason(in); got != want {
			t.Errorf("FinishReason(%q) = %q, want %q", in, got, want)
		}
	}
}
