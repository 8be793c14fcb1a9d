package openai_test

import (
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/godspy/dspy/internal/replay"
	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/lm/openai"
)

// midStream checks an error that arrived inside a stream after output: a
// *lm.StreamError around an *lm.APIError.
func midStream(status int, code string, is error) func(*testing.T, error) {
	return func(t *testing.T, err error) {
		t.Helper()
		var se *lm.StreamError
		var api *lm.APIError
		if !errors.As(err, &se) || !errors.As(err, &api) {
			t.Fatalf("err = %T %v, want *lm.StreamError around *lm.APIError", err, err)
		}
		if api.StatusCode != status || api.Code != code || !errors.Is(err, is) {
			t.Errorf("APIError = %+v, want status %d code %q matching %v", api, status, code, is)
		}
	}
}

func refusal(text string) func(*testing.T, error) {
	return func(t *testing.T, err error) {
		t.Helper()
		var re *openai.RefusalError
		if !errors.Is(err, lm.ErrRefusal) || !errors.As(err, &re) || re.Refusal != text {
			t.Fatalf("err = %v, want refusal %q", err, text)
		}
	}
}

var update = flag.Bool("update", false, "rewrite testdata/sse/*.expected.json of the captures this package replays")

// typed holds the checks of captures whose error must be of a kind, beyond
// its text in the expected values.
var typed = map[string]func(*testing.T, error){
	"groq_gpt-oss-120b_error-event-no-done.sse":        midStream(400, "tool_use_failed", lm.ErrBadRequest),
	"openrouter_minimax-m2_midstream-error-chunk.sse":  midStream(400, "400", lm.ErrBadRequest),
	"openai_gpt-4o_refusal-deltas_utf8-apostrophe.sse": refusal("I'm sorry, I can’t assist with that request."),
}

// TestConformance replays every real recorded chat-completions stream in
// testdata/sse (see ATTRIBUTION.md there; the anthropic_ ones are
// lm/anthropic's), written in small random pieces, and compares the whole
// outcome (text, reasoning, tool calls, finish, usage, error) with
// NAME.expected.json.
func TestConformance(t *testing.T) {
	captures := replay.Captures(t, filepath.Join("..", "..", "testdata", "sse"), func(name string) bool {
		return !strings.HasPrefix(name, "anthropic_")
	})
	replay.Conformance(t, captures, func(url string) lm.LM {
		return openai.New("m", openai.WithBaseURL(url), openai.WithRetry(lm.NoRetry()))
	}, *update, func(t *testing.T, name string, err error) {
		if check, ok := typed[name]; ok {
			check(t, err)
		} else if err != nil {
			t.Errorf("err = %v", err)
		}
	})
}

// TestConformanceChunks checks per-chunk facts the summary hides.
func TestConformanceChunks(t *testing.T) {
	read := func(name string) []lm.Chunk {
		body, err := os.ReadFile(filepath.Join("..", "..", "testdata", "sse", name))
		if err != nil {
			t.Fatal(err)
		}
		srv := replay.PieceServer(t, body, 7)
		c := openai.New("m", openai.WithBaseURL(srv.URL))
		var out []lm.Chunk
		for ch, err := range c.Stream(context.Background(), &lm.Request{}) {
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, ch)
		}
		return out
	}
	t.Run("parallel tool calls keep their index", func(t *testing.T) {
		idx := map[int]bool{}
		for _, ch := range read("openai_gpt-4o_parallel-tool-calls_usage.sse") {
			for _, d := range ch.ToolCalls {
				idx[d.Index] = true
			}
		}
		if diff := cmp.Diff(map[int]bool{0: true, 1: true}, idx); diff != "" {
			t.Error(diff)
		}
	})
	t.Run("usage on every chunk", func(t *testing.T) {
		n := 0
		for _, ch := range read("gemini-openai-compat_gemini-2.0-flash_text_usage-on-every-chunk.sse") {
			if ch.Usage != nil {
				n++
			}
		}
		if n < 2 {
			t.Errorf("%d chunks with usage, want every chunk", n)
		}
	})
	t.Run("no empty chunks", func(t *testing.T) {
		for _, ch := range read("azure-openai_gpt-35-turbo_prompt-filter-results-first-chunk.sse") {
			if ch.Text == "" && ch.Reasoning == "" && ch.ToolCalls == nil && ch.FinishReason == "" && ch.Usage == nil {
				t.Errorf("empty chunk %+v", ch)
			}
		}
	})
}

// TestToolCallsWithoutIndex covers servers that omit the index: whole calls
// side by side, and calls streamed in fragments.
func TestToolCallsWithoutIndex(t *testing.T) {
	const (
		head = `data: {"choices":[{"index":0,"delta":{"tool_calls":[`
		tail = `]},"finish_reason":null}]}` + "\n\n"
		end  = `data: {"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}` + "\n\ndata: [DONE]\n\n"
	)
	tests := []struct {
		name string
		body string
		want []lm.ToolCall
	}{
		{"two whole calls in one delta, empty ids",
			head + `{"id":"","type":"function","function":{"name":"a","arguments":"{}"}},{"id":"","type":"function","function":{"name":"a","arguments":"{\"x\":1}"}}` + tail + end,
			[]lm.ToolCall{{Name: "a", Arguments: "{}"}, {Name: "a", Arguments: `{"x":1}`}}},
		{"fragments",
			head + `{"id":"c1","function":{"name":"f","arguments":""}}` + tail +
				head + `{"function":{"arguments":"{\"q\":"}}` + tail +
				head + `{"function":{"arguments":"2}"}}` + tail +
				head + `{"id":"c2","function":{"name":"g","arguments":"{}"}}` + tail + end,
			[]lm.ToolCall{{ID: "c1", Name: "f", Arguments: `{"q":2}`}, {ID: "c2", Name: "g", Arguments: "{}"}}},
		{"id repeated on every fragment",
			head + `{"id":"c1","function":{"name":"f","arguments":"{\"a\""}}` + tail +
				head + `{"id":"c1","function":{"arguments":":1}"}}` + tail + end,
			[]lm.ToolCall{{ID: "c1", Name: "f", Arguments: `{"a":1}`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := replay.PieceServer(t, []byte(tt.body), 5)
			resp, err := lm.Collect(openai.New("m", openai.WithBaseURL(srv.URL)).Stream(t.Context(), &lm.Request{}))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, resp.Choices[0].Message.ToolCalls); diff != "" {
				t.Errorf("-want +got\n%s", diff)
			}
		})
	}
}
