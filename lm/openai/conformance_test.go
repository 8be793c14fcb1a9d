package openai_test

import (
	"context"
	"errors"
	"github.com/godspy/dspy/internal/replay"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

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

// TestConformance replays real recorded streams (testdata/sse, see
// ATTRIBUTION.md there), written in small random pieces, and compares what
// the client assembles.
func TestConformance(t *testing.T) {
	tests := []struct {
		file       string
		want       replay.Summary
		noResponse bool
		err        func(*testing.T, error)
	}{
		{file: "azure-openai_gpt-35-turbo_prompt-filter-results-first-chunk.sse", want: replay.Summary{ID: "chatcmpl-9HpbaAXyt0cAnlWvI8kUAFpZt5jyQ", Model: "gpt-35-turbo", Finish: "stop", TextLen: 120, TextHead: "Why did the Opentelemetry developer brin", TextTail: "to reach new traces!", ReasoningLen: 0, ReasoningHead: ""}},
		{file: "deepseek_reasoner_reasoning-content_usage.sse", want: replay.Summary{ID: "33be18fc-3842-486c-8c29-dd8e578f7f20", Model: "deepseek-reasoner", Finish: "stop", Usage: lm.Usage{PromptTokens: 6, CompletionTokens: 212, TotalTokens: 218, CachedTokens: 0, ReasoningTokens: 198}, TextLen: 43, TextHead: "Hello there! 😊 How can I help you tod", TextTail: "an I help you today?", ReasoningLen: 882, ReasoningHead: "Hmm, the user just said \"Hello\". It's a "}},
		{file: "gemini-openai-compat_gemini-2.0-flash_text_usage-on-every-chunk.sse", want: replay.Summary{ID: "", Model: "gemini-2.0-flash", Finish: "stop", Usage: lm.Usage{PromptTokens: 3, CompletionTokens: 11, TotalTokens: 14, CachedTokens: 0, ReasoningTokens: 0}, TextLen: 39, TextHead: "Hello there! How can I help you today?\n", TextTail: "n I help you today?\n", ReasoningLen: 0, ReasoningHead: ""}},
		{file: "gemini-openai-compat_gemini-2.0-flash_tool-call-no-index-empty-id.sse", want: replay.Summary{ID: "", Model: "gemini-2.0-flash", Finish: "stop", Usage: lm.Usage{PromptTokens: 14, CompletionTokens: 11, TotalTokens: 25, CachedTokens: 0, ReasoningTokens: 0}, TextLen: 0, TextHead: "", TextTail: "", Calls: []lm.ToolCall{lm.ToolCall{ID: "", Name: "return_list_of_str", Arguments: "{\"value\":[\"apple\",\"banana\",\"orange\"]}"}}}},
		{file: "groq_compound-beta_u003c-escapes_reasoning-tool-output.sse", want: replay.Summary{ID: "chatcmpl-03ea1ed2-c2dc-4f8d-ba51-54e08ca9287c", Model: "groq/compound", Finish: "stop", Usage: lm.Usage{PromptTokens: 5003, CompletionTokens: 359, TotalTokens: 5362, CachedTokens: 0, ReasoningTokens: 0}, TextLen: 202, TextHead: "The weather in San Francisco today is pa", TextTail: "ity level of 90-94%.", ReasoningLen: 6304, ReasoningHead: "<think>\nTo find the current weather in S"}},
		{file: "groq_gpt-oss-120b_error-event-no-done.sse", want: replay.Summary{ID: "chatcmpl-4f39f3af-3267-4ac1-a0cf-6aa7451877dc", Model: "openai/gpt-oss-120b", Finish: "", TextLen: 0, TextHead: "", TextTail: "", ReasoningLen: 412, ReasoningHead: "We need to call the tool with invalid pa"}, err: midStream(400, "tool_use_failed", lm.ErrBadRequest)},
		{file: "groq_gpt-oss-120b_reasoning-then-whole-tool-call.sse", want: replay.Summary{ID: "chatcmpl-e35442a8-12c0-4fb4-8be4-0e51727ce7b7", Model: "openai/gpt-oss-120b", Finish: "tool_calls", Usage: lm.Usage{PromptTokens: 304, CompletionTokens: 49, TotalTokens: 353, CachedTokens: 0, ReasoningTokens: 23}, TextLen: 0, TextHead: "", TextTail: "", ReasoningLen: 92, ReasoningHead: "We need to call the function with correc", Calls: []lm.ToolCall{lm.ToolCall{ID: "fc_bfb39741-3748-4def-9886-a93fc9c64a90", Name: "get_something_by_name", Arguments: "{\"name\":\"example\"}"}}}},
		{file: "ollama-v1_llama3.1_text_no-usage-chunk.sse", want: replay.Summary{ID: "chatcmpl-10", Model: "llama3.1", Finish: "stop", TextLen: 91, TextHead: "Hello! How are you today? Is there somet", TextTail: "ld you like to chat?", ReasoningLen: 0, ReasoningHead: ""}},
		{file: "ollama-v1_llama3.1_tool-call-whole-chunk.sse", want: replay.Summary{ID: "chatcmpl-908", Model: "llama3.1", Finish: "stop", TextLen: 0, TextHead: "", TextTail: "", Calls: []lm.ToolCall{lm.ToolCall{ID: "call_28sm5ma0", Name: "return_list_of_int", Arguments: "{\"value\":\"[1, 2, 3, 4, 5]\"}"}}}},
		{file: "openai_gpt-4o-mini_latex-backslash-token-splits.sse", want: replay.Summary{ID: "chatcmpl-BWlJCN7VZTtSHROczp0AbrjFGhRMA", Model: "gpt-4o-mini-2024-07-18", Finish: "stop", Usage: lm.Usage{PromptTokens: 87, CompletionTokens: 26, TotalTokens: 113, CachedTokens: 0, ReasoningTokens: 0}, TextLen: 56, TextHead: "The result of \\( 1231 \\times 2331 \\) is ", TextTail: " is \\( 2,869,461 \\).", ReasoningLen: 0, ReasoningHead: ""}},
		{file: "openai_gpt-4o-mini_tool-call-arg-fragments_usage.sse", want: replay.Summary{ID: "chatcmpl-Dx0XpqH8w09uBXwq1zFGYdETjtnEl", Model: "gpt-4o-mini-2024-07-18", Finish: "tool_calls", Usage: lm.Usage{PromptTokens: 53, CompletionTokens: 15, TotalTokens: 68, CachedTokens: 0, ReasoningTokens: 0}, TextLen: 0, TextHead: "", TextTail: "", Calls: []lm.ToolCall{lm.ToolCall{ID: "call_ZR5UUuTt3pf61kjwAJIYdVMj", Name: "get_capital", Arguments: "{\"country\":\"UK\"}"}}}},
		{file: "openai_gpt-4o_json-schema-content-escaped-quotes.sse", want: replay.Summary{ID: "chatcmpl-CoDX5g6U9ga65gx3fxV3dXmLy6mKh", Model: "gpt-4o-2024-08-06", Finish: "stop", Usage: lm.Usage{PromptTokens: 172, CompletionTokens: 29, TotalTokens: 201, CachedTokens: 0, ReasoningTokens: 0}, TextLen: 100, TextHead: "{\"title\":\"THE NAME OF THE WIND\",\"author\"", TextTail: "thfuss\"},\"rating\":7}", ReasoningLen: 0, ReasoningHead: ""}},
		{file: "openai_gpt-4o_parallel-tool-calls_usage.sse", want: replay.Summary{ID: "chatcmpl-AU9UWVZJHxSXwx1SffWtyoXswc5zK", Model: "gpt-4o-2024-08-06", Finish: "tool_calls", Usage: lm.Usage{PromptTokens: 82, CompletionTokens: 50, TotalTokens: 132, CachedTokens: 0, ReasoningTokens: 0}, TextLen: 0, TextHead: "", TextTail: "", Calls: []lm.ToolCall{lm.ToolCall{ID: "call_8Sp49rZGndlZALo0uq1XvA7A", Name: "plus", Arguments: "{\"a\": 2, \"b\": 3}"}, lm.ToolCall{ID: "call_u5dbdPz1mAis8zZVk4ZBqXgL", Name: "minus", Arguments: "{\"a\": 3, \"b\": 2}"}}}},
		{file: "openai_gpt-4o_text-then-tool-call_usage.sse", want: replay.Summary{ID: "chatcmpl-AZCKpkxaAFkeRLY66s44FuICTMbAh", Model: "gpt-4o-2024-08-06", Finish: "tool_calls", Usage: lm.Usage{PromptTokens: 58, CompletionTokens: 32, TotalTokens: 90, CachedTokens: 0, ReasoningTokens: 0}, TextLen: 79, TextHead: "One of my favorite cities is Paris. I'll", TextTail: "ather for Paris now.", Calls: []lm.ToolCall{lm.ToolCall{ID: "call_QgHUYg30lU8RAkIADo1bLA3P", Name: "get_weather", Arguments: "{\"location\":\"Paris\"}"}}}},
		{file: "openai_gpt-5-mini_length-no-content.sse", want: replay.Summary{ID: "chatcmpl-CpaLKsZmiiFPwrb0Ocw5FOVrMV89U", Model: "gpt-5-mini-2025-08-07", Finish: "length", Usage: lm.Usage{PromptTokens: 13, CompletionTokens: 50, TotalTokens: 63, CachedTokens: 0, ReasoningTokens: 50}, TextLen: 0, TextHead: "", TextTail: "", ReasoningLen: 0, ReasoningHead: ""}},
		{file: "openai_gpt-5_moderation-trailing-chunk.sse", want: replay.Summary{ID: "chatcmpl-E4Rjs6IxaJVge9Ntk5keJsaeDy6vS", Model: "gpt-5-2025-08-07", Finish: "stop", Usage: lm.Usage{PromptTokens: 13, CompletionTokens: 11, TotalTokens: 24, CachedTokens: 0, ReasoningTokens: 0}, TextLen: 6, TextHead: "Paris.", TextTail: "Paris.", ReasoningLen: 0, ReasoningHead: ""}},
		{file: "openai_gpt35-turbo_count1to5_include-usage.sse", want: replay.Summary{ID: "chatcmpl-C6bjxzOr3Oz1rTiafksd6himIit3q", Model: "gpt-3.5-turbo-0125", Finish: "stop", Usage: lm.Usage{PromptTokens: 14, CompletionTokens: 13, TotalTokens: 27, CachedTokens: 0, ReasoningTokens: 0}, TextLen: 13, TextHead: "1, 2, 3, 4, 5", TextTail: "1, 2, 3, 4, 5", ReasoningLen: 0, ReasoningHead: ""}},
		{file: "openrouter_claude-sonnet-4.5_reasoning-details_comments.sse", want: replay.Summary{ID: "gen-1765226419-AGrwjunAftQIAgweibL8", Model: "anthropic/claude-sonnet-4.5", Finish: "stop", Usage: lm.Usage{PromptTokens: 43, CompletionTokens: 36, TotalTokens: 79, CachedTokens: 0, ReasoningTokens: 13}, TextLen: 9, TextHead: "2 + 2 = 4", TextTail: "2 + 2 = 4", ReasoningLen: 51, ReasoningHead: "This is a simple arithmetic question. 2+"}},
		{file: "openrouter_llama32-3b-venice_processing-comment_usage.sse", want: replay.Summary{ID: "gen-1754667632-NNYO7FUAFP6cwNW8jL7x", Model: "meta-llama/llama-3.2-3b-instruct:free", Finish: "stop", Usage: lm.Usage{PromptTokens: 586, CompletionTokens: 3, TotalTokens: 589, CachedTokens: 0, ReasoningTokens: 0}, TextLen: 13, TextHead: "test response", TextTail: "test response", ReasoningLen: 0, ReasoningHead: ""}},
		{file: "openrouter_minimax-m2_midstream-error-chunk.sse", want: replay.Summary{ID: "gen-1762179802-UN8pkJI4AGZvryk0kFnb", Model: "minimax/minimax-m2:free", Finish: "length", TextLen: 0, TextHead: "", TextTail: "", ReasoningLen: 42, ReasoningHead: "We need to respond to a greeting. The us"}, err: midStream(400, "400", lm.ErrBadRequest)},
		{file: "together_llama-3.3-70b-turbo_usage-in-finish-chunk_big-seed.sse", want: replay.Summary{ID: "ovCb55p-zfFMX-a273a0f90faa9289", Model: "meta-llama/Llama-3.3-70B-Instruct-Turbo", Finish: "stop", Usage: lm.Usage{PromptTokens: 41, CompletionTokens: 15, TotalTokens: 56, CachedTokens: 0, ReasoningTokens: 0}, TextLen: 14, TextHead: "1, 2, 3, 4, 5.", TextTail: "1, 2, 3, 4, 5.", ReasoningLen: 0, ReasoningHead: ""}},
		{file: "vllm-0.24_llama-3.3-70b_crusoe_usage.sse", want: replay.Summary{ID: "chatcmpl-bcfbe349402eb3d2", Model: "meta-llama/Llama-3.3-70B-Instruct", Finish: "stop", Usage: lm.Usage{PromptTokens: 46, CompletionTokens: 14, TotalTokens: 60, CachedTokens: 0, ReasoningTokens: 0}, TextLen: 13, TextHead: "1, 2, 3, 4, 5", TextTail: "1, 2, 3, 4, 5", ReasoningLen: 0, ReasoningHead: ""}},
		{file: "openai_gpt-4o_refusal-deltas_utf8-apostrophe.sse", noResponse: true, err: refusal("I'm sorry, I can’t assist with that request.")},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join("..", "..", "testdata", "sse", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			for seed := range uint64(3) {
				srv := replay.PieceServer(t, body, seed)
				c := openai.New("m", openai.WithBaseURL(srv.URL), openai.WithRetry(lm.NoRetry()))
				resp, err := lm.Collect(c.Stream(t.Context(), &lm.Request{Messages: []lm.Message{{Role: lm.RoleUser, Content: "hi"}}}))
				if tt.err != nil {
					tt.err(t, err)
					var se *lm.StreamError
					if errors.As(err, &se) {
						resp = &se.Partial
					}
				} else if err != nil {
					t.Fatalf("err = %v", err)
				}
				if tt.noResponse {
					continue
				}
				if resp == nil {
					t.Fatal("no response")
				}
				if diff := cmp.Diff(tt.want, replay.Summarize(resp)); diff != "" {
					t.Errorf("seed %d: -want +got\n%s", seed, diff)
				}
			}
		})
	}
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
