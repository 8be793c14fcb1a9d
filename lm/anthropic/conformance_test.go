package anthropic_test

import (
	"github.com/godspy/dspy/internal/replay"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/lm/anthropic"
)

// TestConformance replays real recorded Anthropic streams (testdata/sse,
// see ATTRIBUTION.md there), written in small random pieces: pings, split
// escapes and emoji, thinking with signatures, server tools, tool input
// JSON fragments.
func TestConformance(t *testing.T) {
	tests := []struct {
		file string
		want replay.Summary
	}{
		{file: "anthropic_claude-3.5-haiku_zwj-emoji-split-across-deltas.sse", want: replay.Summary{ID: "msg_019x7pt5nQxfYizFZjJ2PnrP", Model: "claude-3-5-haiku-20241022", Finish: "stop", Usage: lm.Usage{PromptTokens: 17, CompletionTokens: 100, TotalTokens: 117}, TextLen: 377, TextHead: "Here's a joke about OpenTelemetry:\n\nWhy ", TextTail: "a nerdy tech humor!)"}},
		{file: "anthropic_claude-sonnet-4-5_redacted-thinking_multiple-pings.sse", want: replay.Summary{ID: "msg_018XZkwvj9asBiffg3fXt88s", Model: "claude-sonnet-4-5-20250929", Finish: "stop", Usage: lm.Usage{PromptTokens: 92, CompletionTokens: 189, TotalTokens: 281}, TextLen: 359, TextHead: "I notice that you've sent what appears t", TextTail: "te task or question?"}},
		{file: "anthropic_claude-sonnet-4-6_code-exec_keycap-emoji-split.sse", want: replay.Summary{ID: "msg_01Js8aWE7YbmiaUPneGiCskE", Model: "claude-sonnet-4-6", Finish: "stop", Usage: lm.Usage{PromptTokens: 4714, CompletionTokens: 304, TotalTokens: 5018}, TextLen: 524, TextHead: "I'll calculate that expression for you r", TextTail: "-428,330,955.97745**", ReasoningLen: 46, ReasoningHead: "Let me calculate this mathematical expre"}},
		{file: "anthropic_claude-sonnet-4_thinking-signature-delta.sse", want: replay.Summary{ID: "msg_01ALwQ87pTS7hH1PjSdC9wJD", Model: "claude-sonnet-4-20250514", Finish: "stop", Usage: lm.Usage{PromptTokens: 43, CompletionTokens: 282, TotalTokens: 325}, TextLen: 1021, TextHead: "Here are the basic steps for safely cros", TextTail: "en crossing streets.", ReasoningLen: 202, ReasoningHead: "This is a straightforward question about"}},
		{file: "anthropic_claude-sonnet-4_tool-input-json-escape-split.sse", want: replay.Summary{ID: "msg_01FLPvUqRrN599PnB9RJvMYA", Model: "claude-sonnet-4-20250514", Finish: "tool_calls", Usage: lm.Usage{PromptTokens: 416, CompletionTokens: 154, TotalTokens: 570}, Calls: []lm.ToolCall{{ID: "toolu_01BLW7UYfUcuD4hBETUdPX9E", Name: "__mirascope_formatted_output_tool__", Arguments: "{\"instructions\": \"I cannot and will not provide instructions for synthesizing fentanyl or any other illegal drugs. Fentanyl is a controlled substance, and its unauthorized manufacture is illegal and extremely dangerous.\\n\\nInstead, I can provide information about:\\n- The legitimate medical uses of fentanyl in healthcare settings\\n- The public health risks associated with illicit fentanyl\\n- Resources for addiction treatment and harm reduction\\n- General information about pharmaceutical chemistry for educational purposes\\n\\nIf you're interested in chemistry or pharmaceutical science for legitimate educational or research purposes, I'd be happy to discuss legal topics in those fields or direct you to appropriate academic resources.\"}"}}}},
		{file: "anthropic_claude-sonnet-4_web-search_emoji_escaped-quote-split.sse", want: replay.Summary{ID: "msg_01Djq4JkGX3XZzhCwVcSMMri", Model: "claude-sonnet-4-20250514", Finish: "stop", Usage: lm.Usage{PromptTokens: 63011, CompletionTokens: 760, TotalTokens: 63771, CachedTokens: 46134, ReasoningTokens: 0}, TextLen: 1609, TextHead: "Based on the search results, I can see c", TextTail: "vious highs in 2025."}},
		{file: "anthropic_claude3-opus_count1to5.sse", want: replay.Summary{ID: "msg_01Ju7oPaDmjgrhWq8gNP4AUj", Model: "claude-3-opus-20240229", Finish: "stop", Usage: lm.Usage{PromptTokens: 15, CompletionTokens: 13, TotalTokens: 28}, TextLen: 9, TextHead: "1\n2\n3\n4\n5", TextTail: "1\n2\n3\n4\n5"}},
		{file: "anthropic_claude3-opus_text-then-tool-use-input-json-delta.sse", want: replay.Summary{ID: "msg_01EAz3WTgmdu4sGrsMWtZZbS", Model: "claude-3-opus-20240229", Finish: "tool_calls", Usage: lm.Usage{PromptTokens: 610, CompletionTokens: 131, TotalTokens: 741}, TextLen: 333, TextHead: "<thinking>\nTo get the weather for a rand", TextTail: "t order.\n</thinking>", Calls: []lm.ToolCall{{ID: "toolu_016tMRxcvkC82nkYxLpk2cHm", Name: "get_weather", Arguments: "{\"location\": \"Madrid, Spain\"}"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join("..", "..", "testdata", "sse", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			for seed := range uint64(3) {
				srv := replay.PieceServer(t, body, seed)
				c := anthropic.New("m", anthropic.WithBaseURL(srv.URL), anthropic.WithRetry(lm.NoRetry()))
				resp, err := lm.Collect(c.Stream(t.Context(), &lm.Request{Messages: []lm.Message{{Role: lm.RoleUser, Content: "hi"}}}))
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tt.want, replay.Summarize(resp)); diff != "" {
					t.Errorf("seed %d: -want +got\n%s", seed, diff)
				}
				m := resp.Choices[0].Message
				if !utf8.ValidString(m.Content) || !utf8.ValidString(m.Reasoning) {
					t.Error("invalid UTF-8 after joining deltas")
				}
			}
		})
	}
}
