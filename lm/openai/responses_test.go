package openai_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/godspy/dspy/internal/replay"
	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/lm/cache"
	"github.com/godspy/dspy/lm/openai"
)

func readResponses(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(responsesDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// recorder is a server that keeps each request body and path and answers
// every request with body.
type recorder struct {
	srv    *httptest.Server
	bodies [][]byte
	paths  []string
	header []http.Header
}

func newRecorder(t *testing.T, ctype string, body []byte) *recorder {
	rec := &recorder{}
	rec.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rec.bodies = append(rec.bodies, b)
		rec.paths = append(rec.paths, r.URL.String())
		rec.header = append(rec.header, r.Header.Clone())
		w.Header().Set("Content-Type", ctype)
		w.Write(body)
	}))
	t.Cleanup(rec.srv.Close)
	return rec
}

func TestResponsesRequestEncoding(t *testing.T) {
	temp, topP := 0.25, 0.5
	full := &lm.Request{
		Messages: []lm.Message{
			{Role: lm.RoleSystem, Content: "sys"},
			{Role: lm.RoleUser, Content: "hi"},
			{Role: lm.RoleAssistant, Content: "let me look", ToolCalls: []lm.ToolCall{{ID: "call_1", Name: "f", Arguments: `{"x":1}`}, {ID: "call_2", Name: "g"}}},
			{Role: lm.RoleTool, ToolCallID: "call_1", Content: "2"},
			{Role: lm.RoleTool, ToolCallID: "call_2", Content: ""},
			{Role: lm.RoleAssistant, ToolCalls: []lm.ToolCall{{ID: "call_3", Name: "f", Arguments: "{}"}}},
			{Role: lm.RoleTool, ToolCallID: "call_3", Content: "3"},
			{Role: lm.RoleAssistant, Content: "done", Reasoning: "not sent back"},
		},
		Temperature:    &temp,
		TopP:           &topP,
		MaxTokens:      64,
		ResponseFormat: &lm.ResponseFormat{Type: "json_schema", Schema: map[string]any{"type": "object"}, Strict: true},
		Tools:          []lm.ToolSpec{{Name: "f", Description: "d", Parameters: map[string]any{"type": "object"}}},
		ToolChoice:     "f",
		Extra:          map[string]any{"reasoning": map[string]any{"effort": "low", "summary": "auto"}, "stream": false, "parallel_tool_calls": false},
	}
	tests := []struct {
		name   string
		opts   []openai.Option
		req    *lm.Request
		stream bool
		want   map[string]any
	}{
		{"everything, streamed", nil, full, true, map[string]any{
			"model": "gpt-test",
			"input": []any{
				map[string]any{"role": "system", "content": []any{map[string]any{"type": "input_text", "text": "sys"}}},
				map[string]any{"role": "user", "content": []any{map[string]any{"type": "input_text", "text": "hi"}}},
				map[string]any{"role": "assistant", "content": []any{map[string]any{"type": "output_text", "text": "let me look"}}},
				map[string]any{"type": "function_call", "call_id": "call_1", "name": "f", "arguments": `{"x":1}`},
				map[string]any{"type": "function_call", "call_id": "call_2", "name": "g", "arguments": "{}"},
				map[string]any{"type": "function_call_output", "call_id": "call_1", "output": "2"},
				map[string]any{"type": "function_call_output", "call_id": "call_2", "output": ""},
				map[string]any{"type": "function_call", "call_id": "call_3", "name": "f", "arguments": "{}"},
				map[string]any{"type": "function_call_output", "call_id": "call_3", "output": "3"},
				map[string]any{"role": "assistant", "content": []any{map[string]any{"type": "output_text", "text": "done"}}},
			},
			"temperature":         0.25,
			"top_p":               0.5,
			"max_output_tokens":   float64(64),
			"text":                map[string]any{"format": map[string]any{"type": "json_schema", "name": "response", "schema": map[string]any{"type": "object"}, "strict": true}},
			"tools":               []any{map[string]any{"type": "function", "name": "f", "description": "d", "parameters": map[string]any{"type": "object"}, "strict": false}},
			"tool_choice":         map[string]any{"type": "function", "name": "f"},
			"reasoning":           map[string]any{"effort": "low", "summary": "auto"},
			"parallel_tool_calls": false,
			"store":               false,
			"stream":              true, // Extra cannot turn it off
		}},
		{"client defaults, blocking", []openai.Option{openai.WithTemperature(0.9), openai.WithMaxTokens(99), openai.WithMaxTokensField("max_completion_tokens")},
			&lm.Request{Messages: []lm.Message{{Role: lm.RoleUser, Content: "x"}}, ToolChoice: "required", ResponseFormat: &lm.ResponseFormat{Type: "json_object"}}, false,
			map[string]any{
				"model":             "gpt-test",
				"input":             []any{map[string]any{"role": "user", "content": []any{map[string]any{"type": "input_text", "text": "x"}}}},
				"temperature":       0.9,
				"max_output_tokens": float64(99),
				"tool_choice":       "required",
				"text":              map[string]any{"format": map[string]any{"type": "json_object"}},
				"store":             false,
			}},
		{"reasoning_effort becomes reasoning with a summary; store can be kept", nil,
			&lm.Request{Model: "o4-mini", Messages: []lm.Message{{Role: lm.RoleUser, Content: "x"}}, Extra: map[string]any{"reasoning_effort": "high", "store": true}}, false,
			map[string]any{
				"model":     "o4-mini",
				"input":     []any{map[string]any{"role": "user", "content": []any{map[string]any{"type": "input_text", "text": "x"}}}},
				"reasoning": map[string]any{"effort": "high", "summary": "auto"},
				"store":     true,
			}},
		{"an explicit reasoning wins over reasoning_effort", nil,
			&lm.Request{Messages: []lm.Message{{Role: lm.RoleUser, Content: "x"}}, Extra: map[string]any{"reasoning_effort": "high", "reasoning": map[string]any{"effort": "minimal"}}}, false,
			map[string]any{
				"model":     "gpt-test",
				"input":     []any{map[string]any{"role": "user", "content": []any{map[string]any{"type": "input_text", "text": "x"}}}},
				"reasoning": map[string]any{"effort": "minimal"},
				"store":     false,
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rec *recorder
			if tt.stream {
				rec = newRecorder(t, "text/event-stream", readResponses(t, "openai_gpt-4o_text.sse"))
			} else {
				rec = newRecorder(t, "application/json", readResponses(t, "openai_gpt-4o_text_blocking.json"))
			}
			c := openai.NewResponses("gpt-test", append([]openai.Option{openai.WithBaseURL(rec.srv.URL + "/v1"), openai.WithAPIKey("sk-secret-test-key")}, tt.opts...)...)
			var err error
			if tt.stream {
				_, err = lm.Collect(c.Stream(t.Context(), tt.req))
			} else {
				_, err = c.Generate(t.Context(), tt.req)
			}
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			if err := json.Unmarshal(rec.bodies[0], &got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("body: -want +got\n%s", diff)
			}
			if rec.paths[0] != "/v1/responses" {
				t.Errorf("path %q, want /v1/responses", rec.paths[0])
			}
			if h := rec.header[0].Get("Authorization"); h != "Bearer sk-secret-test-key" {
				t.Errorf("Authorization = %q", h)
			}
			if want := map[bool]string{true: "text/event-stream", false: "application/json"}[tt.stream]; rec.header[0].Get("Accept") != want {
				t.Errorf("Accept = %q, want %q", rec.header[0].Get("Accept"), want)
			}
		})
	}
	if full.Extra["stream"] != false || len(full.Extra) != 3 {
		t.Errorf("the request's Extra was changed: %v", full.Extra)
	}
}

// TestResponsesUnsupportedFields: n, stop and seed do not exist in the
// Responses API; the call fails before anything is sent, blocking and
// streamed, with lm.ErrConfig.
func TestResponsesUnsupportedFields(t *testing.T) {
	seed := int64(1)
	for _, req := range []*lm.Request{{N: 2}, {Stop: []string{"END"}}, {Seed: &seed}} {
		ft := &replay.Script{Answers: []replay.Answer{replay.Status(500, nil, "")}}
		c := openai.NewResponses("m", openai.WithHTTPClient(&http.Client{Transport: ft}))
		_, gerr := c.Generate(t.Context(), req)
		_, serr := lm.Collect(c.Stream(t.Context(), req))
		for _, err := range []error{gerr, serr} {
			if !errors.Is(err, lm.ErrConfig) || lm.Retryable(err) || !strings.Contains(err.Error(), "Responses API has no") {
				t.Errorf("req %+v: err = %v, want lm.ErrConfig naming the field", req, err)
			}
		}
		if ft.Calls() != 0 {
			t.Errorf("req %+v: %d requests sent", req, ft.Calls())
		}
	}
	// N = 1 is the default, not a request for several.
	rec := newRecorder(t, "application/json", readResponses(t, "openai_gpt-4o_text_blocking.json"))
	if _, err := openai.NewResponses("m", openai.WithBaseURL(rec.srv.URL)).Generate(t.Context(), &lm.Request{N: 1}); err != nil {
		t.Errorf("N=1: %v", err)
	}
}

func TestResponsesAzure(t *testing.T) {
	for _, base := range []string{"", "/openai/v1", "/openai/v1/"} {
		rec := newRecorder(t, "application/json", readResponses(t, "openai_gpt-4o_text_blocking.json"))
		c := openai.NewResponses("my-deploy", openai.WithBaseURL(rec.srv.URL+base), openai.WithAPIKey("azkey"), openai.WithAzure("2024-10-21"))
		if _, err := c.Generate(t.Context(), userReq("x")); err != nil {
			t.Fatal(err)
		}
		var body struct{ Model string }
		json.Unmarshal(rec.bodies[0], &body)
		if rec.paths[0] != "/openai/v1/responses" || rec.header[0].Get("Api-Key") != "azkey" || rec.header[0].Get("Authorization") != "" || body.Model != "my-deploy" {
			t.Errorf("base %q: path %q api-key %q auth %q model %q", base, rec.paths[0], rec.header[0].Get("Api-Key"), rec.header[0].Get("Authorization"), body.Model)
		}
	}
}

// finalResponse returns the response object of a recorded stream's last
// event (response.completed or response.incomplete): the same reply as a
// blocking body, recorded in the same call.
func finalResponse(t *testing.T, stream []byte) []byte {
	t.Helper()
	var last []byte
	for _, line := range bytes.Split(stream, []byte("\n")) {
		data, ok := bytes.CutPrefix(line, []byte("data: "))
		if !ok {
			continue
		}
		var ev struct {
			Type     string          `json:"type"`
			Response json.RawMessage `json:"response"`
		}
		if json.Unmarshal(data, &ev) == nil && (ev.Type == "response.completed" || ev.Type == "response.incomplete") {
			last = ev.Response
		}
	}
	if last == nil {
		t.Fatal("no response.completed in the capture")
	}
	return last
}

// TestResponsesGenerateAgreesWithStream: for every recorded stream that
// ends well, Generate on the response object its last event carries (the
// whole reply, as a blocking call returns it) gives exactly what the
// stream's deltas add up to, reasoning separators and tool calls included.
func TestResponsesGenerateAgreesWithStream(t *testing.T) {
	n := 0
	for _, path := range replay.Captures(t, responsesDir, func(string) bool { return true }) {
		name := filepath.Base(path)
		stream := readResponses(t, name)
		if !bytes.Contains(stream, []byte(`"response.completed"`)) && !bytes.Contains(stream, []byte(`"response.incomplete"`)) {
			continue
		}
		n++
		t.Run(name, func(t *testing.T) {
			srv := replay.PieceServer(t, stream, 11)
			streamed, serr := replay.Collect(t, openai.NewResponses("m", openai.WithBaseURL(srv.URL), openai.WithRetry(lm.NoRetry())).Stream(t.Context(), userReq("x")))
			rec := newRecorder(t, "application/json", finalResponse(t, stream))
			got, gerr := openai.NewResponses("m", openai.WithBaseURL(rec.srv.URL), openai.WithRetry(lm.NoRetry())).Generate(t.Context(), userReq("x"))
			if diff := cmp.Diff(fmt.Sprint(serr), fmt.Sprint(gerr)); diff != "" {
				t.Fatalf("errors: -stream +generate\n%s", diff)
			}
			if diff := cmp.Diff(streamed, got); diff != "" {
				t.Errorf("-stream +generate\n%s", diff)
			}
		})
	}
	if n < 10 {
		t.Errorf("%d captures compared, want the 10 that end in a response", n)
	}
}

// TestResponsesChunks checks per-chunk facts the summary hides.
func TestResponsesChunks(t *testing.T) {
	read := func(name string) []lm.Chunk {
		srv := replay.PieceServer(t, readResponses(t, name), 3)
		var out []lm.Chunk
		for ch, err := range openai.NewResponses("m", openai.WithBaseURL(srv.URL)).Stream(t.Context(), userReq("x")) {
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, ch)
		}
		return out
	}
	t.Run("argument deltas are tool-call deltas of their output item", func(t *testing.T) {
		var got []lm.ToolCallDelta
		for _, ch := range read("openai_gpt-4o_parallel-function-calls.sse") {
			got = append(got, ch.ToolCalls...)
		}
		want := []lm.ToolCallDelta{
			{Index: 0, ID: "call_sKC7OABqf2A2PTLCm0CLeRWV", Name: "secret_retrieval_tool"},
			{Index: 0, Arguments: "{"}, {Index: 0, Arguments: `"password`}, {Index: 0, Arguments: `":`}, {Index: 0, Arguments: `"m`}, {Index: 0, Arguments: "ell"}, {Index: 0, Arguments: "on"}, {Index: 0, Arguments: `"}`},
			{Index: 1, ID: "call_OdR3s3xop0vtgkDyWRMLafuH", Name: "secret_retrieval_tool"},
			{Index: 1, Arguments: "{"}, {Index: 1, Arguments: `"password`}, {Index: 1, Arguments: `":`}, {Index: 1, Arguments: `"radi`}, {Index: 1, Arguments: "ance"}, {Index: 1, Arguments: `"}`},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("-want +got\n%s", diff)
		}
	})
	t.Run("a call after a reasoning item keeps its output index", func(t *testing.T) {
		for _, ch := range read("openai_gpt-5_encrypted-reasoning-then-function-call.sse") {
			for _, d := range ch.ToolCalls {
				if d.Index != 1 {
					t.Errorf("delta %+v, want output index 1", d)
				}
			}
		}
	})
	t.Run("summary parts are separated once, at the start of parts 2 to 4", func(t *testing.T) {
		seps := 0
		for _, ch := range read("openai_o3-mini_reasoning-summary-four-parts.sse") {
			if strings.HasPrefix(ch.Reasoning, "\n\n**") {
				seps++
			}
		}
		if seps != 3 {
			t.Errorf("%d separated parts, want 3", seps)
		}
	})
	t.Run("every chunk carries the id and model, the last the usage", func(t *testing.T) {
		chunks := read("openai_gpt-4o_text.sse")
		for _, ch := range chunks {
			if ch.ID != "resp_67e554a21aa88191b65876ac5e5bbe0406c52f0e511c76ed" || ch.Model != "gpt-4o-2024-08-06" {
				t.Errorf("chunk %+v", ch)
			}
		}
		last := chunks[len(chunks)-1]
		if last.FinishReason != "stop" || last.Usage == nil || last.Usage.TotalTokens != 287 || last.Text != "" {
			t.Errorf("last chunk %+v", last)
		}
		if len(chunks) != 8 {
			t.Errorf("%d chunks, want 7 deltas and the finish", len(chunks))
		}
	})
}

// TestResponsesEventVariants covers servers whose events differ from
// OpenAI's in ways the recordings do not show: text, reasoning and
// arguments sent only whole in .done events, a call announced only when
// done, an error event with its fields at the top level (as OpenAI
// documents it), an error event that is not JSON, a failed response
// without an error, and an escaped event type.
func TestResponsesEventVariants(t *testing.T) {
	const completed = "data: {\"type\":\"response.completed\",\"response\":{\"id\":\"r\",\"model\":\"m\",\"status\":\"completed\",\"usage\":{\"input_tokens\":3,\"output_tokens\":4}}}\n\n"
	tests := []struct {
		name string
		body string
		want *lm.Response
		err  string
		is   error
	}{
		{"whole parts in done events",
			"data: {\"type\":\"response.reasoning_summary_text.done\",\"output_index\":0,\"summary_index\":0,\"text\":\"think\"}\n\n" +
				"data: {\"type\":\"response.reasoning_text.done\",\"output_index\":0,\"content_index\":0,\"text\":\"more\"}\n\n" +
				"data: {\"type\":\"response.output_text.done\",\"output_index\":1,\"content_index\":0,\"text\":\"Paris\"}\n\n" +
				"data: {\"type\":\"response.output_item.done\",\"output_index\":2,\"item\":{\"type\":\"function_call\",\"call_id\":\"c\",\"name\":\"f\",\"arguments\":\"{\\\"a\\\":1}\"}}\n\n" +
				completed,
			&lm.Response{ID: "r", Model: "m", Usage: lm.Usage{PromptTokens: 3, CompletionTokens: 4, TotalTokens: 7}, Choices: []lm.Choice{{FinishReason: "tool_calls",
				Message: lm.Message{Role: lm.RoleAssistant, Content: "Paris", Reasoning: "think\n\nmore", ToolCalls: []lm.ToolCall{{ID: "c", Name: "f", Arguments: `{"a":1}`}}}}}},
			"", nil},
		{"arguments only in arguments.done",
			"data: {\"type\":\"response.output_item.added\",\"output_index\":0,\"item\":{\"type\":\"function_call\",\"call_id\":\"c\",\"name\":\"f\",\"arguments\":\"\"}}\n\n" +
				"data: {\"type\":\"response.function_call_arguments.done\",\"output_index\":0,\"arguments\":\"{}\"}\n\n" +
				"data: {\"type\":\"response.output_item.done\",\"output_index\":0,\"item\":{\"type\":\"function_call\",\"call_id\":\"c\",\"name\":\"f\",\"arguments\":\"{}\"}}\n\n" +
				completed,
			&lm.Response{ID: "r", Model: "m", Usage: lm.Usage{PromptTokens: 3, CompletionTokens: 4, TotalTokens: 7}, Choices: []lm.Choice{{FinishReason: "tool_calls",
				Message: lm.Message{Role: lm.RoleAssistant, ToolCalls: []lm.ToolCall{{ID: "c", Name: "f", Arguments: "{}"}}}}}},
			"", nil},
		{"escaped type", "data: {\"type\":\"response.output_text\\u002edelta\",\"delta\":\"x\"}\n\n" + completed,
			&lm.Response{ID: "r", Model: "m", Usage: lm.Usage{PromptTokens: 3, CompletionTokens: 4, TotalTokens: 7}, Choices: []lm.Choice{{FinishReason: "stop", Message: lm.Message{Role: lm.RoleAssistant, Content: "x"}}}},
			"", nil},
		{"documented error event", "event: error\ndata: {\"type\":\"error\",\"code\":\"server_error\",\"message\":\"boom\",\"param\":null}\n\n",
			nil, "openai: HTTP 500 (server_error): boom", lm.ErrServer},
		{"error event of another shape", "event: error\ndata: {\"error\":{\"message\":\"context length exceeded\",\"code\":\"context_length_exceeded\"}}\n\n",
			nil, "openai: HTTP 400 (context_length_exceeded): context length exceeded", lm.ErrContextWindow},
		{"error event that is not JSON", "event: error\ndata: upstream went away\n\n",
			nil, "openai: upstream went away", lm.ErrServer},
		{"failed without an error", "data: {\"type\":\"response.failed\",\"response\":{\"status\":\"failed\"}}\n\n",
			nil, "openai (failed): the response failed without an error", lm.ErrServer},
		{"rate limited response", "data: {\"type\":\"response.failed\",\"response\":{\"status\":\"failed\",\"error\":{\"code\":\"rate_limit_exceeded\",\"message\":\"slow down\"}}}\n\n",
			nil, "openai: HTTP 429 (rate_limit_exceeded): slow down", lm.ErrRateLimited},
		{"invalid prompt", "data: {\"type\":\"response.failed\",\"response\":{\"status\":\"failed\",\"error\":{\"code\":\"invalid_prompt\",\"message\":\"flagged\"}}}\n\n",
			nil, "openai: HTTP 400 (invalid_prompt): flagged", lm.ErrBadRequest},
		{"malformed event", "data: {\"type\":\"response.output_text.delta\",\"delta\":1}\n\n",
			nil, `openai: lm: malformed response: event "{\"type\":\"response.output_text.delta\",\"delta\":1}": json: cannot unmarshal number into Go struct field respEvent.delta of type string`, lm.ErrMalformed},
		{"cut before the end", "data: {\"type\":\"response.created\",\"response\":{\"id\":\"r\"}}\n\n", nil, "openai: stream ended before response.completed: unexpected EOF", io.ErrUnexpectedEOF},
		{"[DONE] before the end", "data: [DONE]\n\n", nil, "openai: stream ended before response.completed: unexpected EOF", io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ft := &replay.Script{Answers: []replay.Answer{replay.Status(200, http.Header{"Content-Type": {"text/event-stream"}}, tt.body)}}
			c := openai.NewResponses("m", openai.WithHTTPClient(&http.Client{Transport: ft}), openai.WithRetry(lm.NoRetry()))
			got, err := replay.Collect(t, c.Stream(t.Context(), userReq("x")))
			if tt.err != "" {
				if err == nil || err.Error() != tt.err || !errors.Is(err, tt.is) {
					t.Fatalf("err = %v, want %q matching %v", err, tt.err, tt.is)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("-want +got\n%s", diff)
			}
		})
	}
}

func TestResponsesBlockingStatus(t *testing.T) {
	tests := []struct {
		body string
		err  string
		is   error
	}{
		{`{"id":"r","status":"failed","error":{"code":"server_error","message":"boom"},"output":[]}`, "openai: HTTP 500 (server_error): boom", lm.ErrServer},
		{`{"id":"r","status":"queued","output":[]}`, "openai (queued): the response is queued, not finished (background responses are not supported)", lm.ErrServer},
		{`{"id":`, "openai: lm: malformed response: unexpected end of JSON input", lm.ErrMalformed},
	}
	for _, tt := range tests {
		ft := &replay.Script{Answers: []replay.Answer{replay.Status(200, nil, tt.body)}}
		_, err := openai.NewResponses("m", openai.WithHTTPClient(&http.Client{Transport: ft}), openai.WithRetry(lm.NoRetry())).Generate(t.Context(), userReq("x"))
		if err == nil || err.Error() != tt.err || !errors.Is(err, tt.is) {
			t.Errorf("body %s: err = %v, want %q matching %v", tt.body, err, tt.err, tt.is)
		}
	}
}

// TestResponsesRetries: the retry policy is the chat client's. A 429 or an
// error event that can succeed later, before the first chunk, is retried
// (Retry-After honoured); one after it is an *lm.StreamError and is not.
func TestResponsesRetries(t *testing.T) {
	okStream := replay.Status(200, http.Header{"Content-Type": {"text/event-stream"}}, string(readResponses(t, "openai_gpt-4o_text.sse")))
	okJSON := replay.Status(200, nil, string(readResponses(t, "openai_gpt-4o_text_blocking.json")))
	quota := replay.Status(200, http.Header{"Content-Type": {"text/event-stream"}}, string(readResponses(t, "openai_gpt-5-nano_error-event-insufficient-quota.sse")))
	tests := []struct {
		name   string
		stream bool
		first  []replay.Answer
		last   replay.Answer
		calls  int
		wait   time.Duration
		is     error
	}{
		{"429 with retry-after, generate", false, []replay.Answer{replay.Status(429, http.Header{"Retry-After": {"3"}}, "")}, okJSON, 2, 3 * time.Second, nil},
		{"429 with retry-after, stream", true, []replay.Answer{replay.Status(429, http.Header{"Retry-After": {"3"}}, "")}, okStream, 2, 3 * time.Second, nil},
		{"error event before the first chunk is retried", true, []replay.Answer{quota}, okStream, 2, 0, nil},
		{"error events until the retries are spent", true, nil, quota, 3, 0, lm.ErrRateLimited},
		{"401 not retried", false, nil, replay.Status(401, nil, string(readResponses(t, "openai_http-401_invalid-api-key_blocking.json"))), 1, 0, lm.ErrAuth},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ft := &replay.Script{Answers: append(append([]replay.Answer{}, tt.first...), tt.last)}
				c := openai.NewResponses("m", openai.WithHTTPClient(&http.Client{Transport: ft}), openai.WithRetry(lm.RetryPolicy{BaseDelay: time.Nanosecond, MaxDelay: time.Nanosecond}))
				start := time.Now()
				var resp *lm.Response
				var err error
				if tt.stream {
					resp, err = lm.Collect(c.Stream(t.Context(), userReq("x")))
				} else {
					resp, err = c.Generate(t.Context(), userReq("x"))
				}
				if tt.is == nil && (err != nil || resp.Text() == "") || tt.is != nil && !errors.Is(err, tt.is) {
					t.Fatalf("resp %v err %v, want %v", resp, err, tt.is)
				}
				if ft.Calls() != tt.calls {
					t.Errorf("%d calls, want %d", ft.Calls(), tt.calls)
				}
				if d := time.Since(start); d < tt.wait || d > tt.wait+time.Millisecond {
					t.Errorf("waited %v, want %v", d, tt.wait)
				}
			})
		})
	}
}

// cut returns the first n events of a recorded stream.
func cut(t *testing.T, name string, n int) string {
	events := strings.SplitAfter(string(readResponses(t, name)), "\n\n")
	return strings.Join(events[:n], "")
}

func TestResponsesNoRetryAfterFirstChunk(t *testing.T) {
	// The text capture cut after its third delta, then a reset.
	part := cut(t, "openai_gpt-4o_text.sse", 7)
	ft := &replay.Script{Answers: []replay.Answer{func(r *http.Request) (*http.Response, error) {
		pr, pw := io.Pipe()
		go func() {
			io.WriteString(pw, part)
			pw.CloseWithError(io.ErrUnexpectedEOF)
		}()
		return &http.Response{StatusCode: 200, Header: http.Header{}, Body: pr, Request: r}, nil
	}}}
	c := openai.NewResponses("m", openai.WithHTTPClient(&http.Client{Transport: ft}), openai.WithRetry(lm.RetryPolicy{MaxRetries: 5, BaseDelay: time.Millisecond}))
	_, err := replay.Collect(t, c.Stream(t.Context(), userReq("x")))
	var se *lm.StreamError
	if !errors.As(err, &se) || se.Partial.Text() != "The capital of" || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v", err)
	}
	if ft.Calls() != 1 {
		t.Errorf("%d requests: a stream must not retry after output", ft.Calls())
	}
}

func TestResponsesStallProtection(t *testing.T) {
	replay.StallTests(t, replay.ResponsesWire(), func(hc *http.Client) lm.LM {
		return openai.NewResponses("m", openai.WithHTTPClient(hc), openai.WithRetry(lm.NoRetry()))
	})
}

func TestResponsesConfigErrorNotRetried(t *testing.T) {
	const key = "sk-config-test-secret"
	replay.ConfigErrorTests(t, func() lm.LM {
		return openai.NewResponses("m", openai.WithBaseURL("ftp://llm.example/v1"), openai.WithAPIKey(key))
	}, "ftp://llm.example/v1/responses", key)
}

// TestResponsesKeyRedaction: a server that echoes the key (in an error
// body, an error event, a failed response) leaves it nowhere in the error
// tree, blocking or streamed.
func TestResponsesKeyRedaction(t *testing.T) {
	const key = "sk-live-responses-0123456789"
	echo := "key " + key + " is wrong"
	tests := []struct {
		name   string
		status int
		body   string
	}{
		{"401 body", 401, `{"error":{"message":"Incorrect API key provided: ` + key + `.","type":"invalid_request_error","code":"invalid_api_key"}}`},
		{"error event", 200, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\",\"code\":\"" + key + "\",\"message\":\"" + echo + "\"}}\n\n"},
		{"failed response", 200, "data: {\"type\":\"response.failed\",\"response\":{\"status\":\"failed\",\"error\":{\"code\":\"server_error\",\"message\":\"" + echo + "\"}}}\n\n"},
		{"malformed event", 200, "data: {\"type\":\"response.output_text.delta\",\"delta\":\"" + key + "\",\"x\":}\n\n"},
		{"error event not JSON", 200, "event: error\ndata: " + echo + "\n\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ft := &replay.Script{Answers: []replay.Answer{replay.Status(tt.status, http.Header{"X-Request-Id": {"req_" + key}}, tt.body)}}
			c := openai.NewResponses("m", openai.WithHTTPClient(&http.Client{Transport: ft}), openai.WithAPIKey(key), openai.WithRetry(lm.NoRetry()))
			_, serr := lm.Collect(c.Stream(t.Context(), userReq("x")))
			errs := []error{serr}
			if tt.status != 200 {
				_, gerr := c.Generate(t.Context(), userReq("x"))
				errs = append(errs, gerr)
			}
			for _, err := range errs {
				if err == nil {
					t.Fatal("no error")
				}
				for e := err; e != nil; e = errors.Unwrap(e) {
					for _, s := range []string{e.Error(), fmt.Sprintf("%+v", e), fmt.Sprintf("%#v", e)} {
						if strings.Contains(s, key) {
							t.Errorf("key left in %T: %s", e, s)
						}
					}
				}
			}
		})
	}
}

// TestResponsesBreakCancelsRequest: breaking out of the stream ends the
// HTTP request at once, while the server is still sending.
func TestResponsesBreakCancelsRequest(t *testing.T) {
	body := readResponses(t, "openai_o3-mini_reasoning-summary-four-parts.sse")
	var gone atomic.Bool
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(done)
		w.Header().Set("Content-Type", "text/event-stream")
		rc := http.NewResponseController(w)
		for b := body; len(b) > 0; b = b[min(len(b), 512):] {
			if _, err := w.Write(b[:min(len(b), 512)]); err != nil {
				break
			}
			rc.Flush()
			select {
			case <-r.Context().Done():
				gone.Store(true)
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}))
	defer srv.Close()
	n := 0
	for _, err := range openai.NewResponses("m", openai.WithBaseURL(srv.URL)).Stream(t.Context(), userReq("x")) {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 3 {
			break
		}
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the server was still sending 5 s after the break")
	}
	if !gone.Load() {
		t.Error("the server wrote the whole stream: break did not cancel the request")
	}
}

// TestResponsesCacheKeys: the Responses and chat-completions clients of one
// model and server never share cache entries, directly wrapped or through
// lm.Identify/lm.Endpoint.
func TestResponsesCacheKeys(t *testing.T) {
	store := cache.NewMemory(10, 1<<20)
	chat := cache.Wrap(openai.New("gpt-4o", openai.WithBaseURL("https://api.openai.com/v1")), store)
	resp := cache.Wrap(openai.NewResponses("gpt-4o", openai.WithBaseURL("https://api.openai.com/v1")), store)
	req := userReq("x")
	req.Model = "gpt-4o" // a request's model must not erase the difference
	kc, err1 := chat.Key(req)
	kr, err2 := resp.Key(req)
	if err1 != nil || err2 != nil || kc == kr {
		t.Errorf("chat key %s, responses key %s (%v, %v): want different keys", kc, kr, err1, err2)
	}
	if p, m := lm.Identify(resp); p != "openai" || m != "gpt-4o" {
		t.Errorf("Identify = %q, %q", p, m)
	}
	if e := lm.Endpoint(resp); e != "https://api.openai.com/v1/responses" {
		t.Errorf("Endpoint = %q", e)
	}
}

func TestResponsesString(t *testing.T) {
	c := openai.NewResponses("gpt-5-mini", openai.WithAPIKey("sk-never-printed-123"))
	for _, s := range []string{c.String(), fmt.Sprintf("%v", c), fmt.Sprintf("%#v", c), fmt.Sprintf("%+v", c)} {
		if s != "openai.Responses(openai/gpt-5-mini)" {
			t.Errorf("printed as %q", s)
		}
	}
}

// TestResponsesLimit: lm.Limit takes a Responses client like any LM and
// charges the reported usage.
func TestResponsesLimit(t *testing.T) {
	rec := newRecorder(t, "text/event-stream", readResponses(t, "openai_gpt-4o_text.sse"))
	m := lm.Limit(openai.NewResponses("m", openai.WithBaseURL(rec.srv.URL)), lm.Limits{MaxInFlight: 1, TokensPerMinute: 1_000_000})
	resp, err := lm.Collect(m.Stream(context.Background(), userReq("x")))
	if err != nil || resp.Text() != "The capital of France is Paris." || resp.Usage.TotalTokens != 287 {
		t.Fatalf("resp %+v err %v", resp, err)
	}
}

// TestResponsesDeltaAllocs is the allocation budget of a text delta: one
// allocation, its text (the event's type, item id, logprobs and
// obfuscation are not kept). Measured as the difference between streams of
// 200 and 100 deltas, so the fixed cost of a call cancels out.
func TestResponsesDeltaAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	allocs := func(n int) float64 {
		body := string(responsesDeltaStream(t, n))
		ft := &replay.Script{Answers: []replay.Answer{replay.Status(200, nil, body)}}
		c := openai.NewResponses("m", openai.WithHTTPClient(&http.Client{Transport: ft}), openai.WithIdleTimeout(-1))
		return testing.AllocsPerRun(20, func() {
			for _, err := range c.Stream(context.Background(), userReq("x")) {
				if err != nil {
					t.Fatal(err)
				}
			}
		})
	}
	per := (allocs(200) - allocs(100)) / 100
	if per > 1.05 {
		t.Errorf("%.2f allocations per text delta, want 1", per)
	}
}

// TestResponsesConcurrent: one client serves many streams and blocking
// calls at once (run with -race), each with the recorded outcome.
func TestResponsesConcurrent(t *testing.T) {
	stream := readResponses(t, "openai_gpt-4o_parallel-function-calls.sse")
	blocking := readResponses(t, "openai_gpt-4o_parallel-function-calls_blocking.json")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b struct{ Stream bool }
		json.NewDecoder(r.Body).Decode(&b)
		if b.Stream {
			w.Header().Set("Content-Type", "text/event-stream")
			w.Write(stream)
			return
		}
		w.Write(blocking)
	}))
	defer srv.Close()
	c := openai.NewResponses("m", openai.WithBaseURL(srv.URL))
	call := func(id, pw string) lm.ToolCall {
		return lm.ToolCall{ID: id, Name: "secret_retrieval_tool", Arguments: `{"password":"` + pw + `"}`}
	}
	// Two recordings of the same request, with their own call ids.
	wantStream := []lm.ToolCall{call("call_sKC7OABqf2A2PTLCm0CLeRWV", "mellon"), call("call_OdR3s3xop0vtgkDyWRMLafuH", "radiance")}
	wantBlocking := []lm.ToolCall{call("call_bzXaB1HDWsWy7n6bMrxJzNNa", "mellon"), call("call_Dd4wvykCr6NttXKxRK0BFH96", "radiance")}
	errs := make(chan error, 64)
	for i := range 64 {
		go func() {
			var resp *lm.Response
			var err error
			want := wantStream
			if i%2 == 0 {
				resp, err = lm.Collect(c.Stream(t.Context(), userReq("x")))
			} else {
				resp, err = c.Generate(t.Context(), userReq("x"))
				want = wantBlocking
			}
			if err == nil {
				if diff := cmp.Diff(want, resp.Choices[0].Message.ToolCalls); diff != "" {
					err = fmt.Errorf("call %d: -want +got\n%s", i, diff)
				}
			}
			errs <- err
		}()
	}
	for range 64 {
		select {
		case err := <-errs:
			if err != nil {
				t.Error(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("calls still running after 10 s")
		}
	}
}
