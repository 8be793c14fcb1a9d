package otel

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/dspytest"
	"github.com/godspy/dspy/lm"
	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// contentKeys are the attributes that carry content.
var contentKeys = []string{"gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.tool.call.arguments", "gen_ai.tool.call.result"}

// runContent runs a ReAct call with one tool and a parse failure (an
// answer that is not a float), and returns the spans.
func runContent(t *testing.T, env string, opts ...Option) tracetest.SpanStubs {
	t.Helper()
	t.Setenv(CaptureContentEnv, env)
	h := newHarness(t)
	model := openaiLM(dspytest.NewScriptedLM(
		dspytest.ChatReply("next_thought", "Look it up.", "next_tool_name", "search", "next_tool_args", `{"q": "secret plans"}`),
		dspytest.ChatReply("next_thought", "Done.", "next_tool_name", "finish", "next_tool_args", `{}`),
		dspytest.ChatReply("reasoning", "r", "answer", "the confidential answer"),
		dspytest.ChatReply("score", "not a number: the hidden reply"),
		`{"score": "not a number: the hidden reply"}`, // the JSON adapter's second try
	))
	ctx := dspy.WithSettings(context.Background(), dspy.WithLM(model), dspy.WithTrace(h.trace(opts...)))
	agent := dspy.NewReAct("question -> answer", reactTools()[:1])
	if _, err := agent.Call(ctx, dspy.Inputs{"question": "What are the secret plans?"}); err != nil {
		t.Fatal(err)
	}
	if _, err := dspy.NewPredict("question -> score: float").Call(ctx, dspy.Inputs{"question": "How sure?"}); err == nil {
		t.Fatal("the unparsable score did not fail")
	}
	return h.spans.GetSpans()
}

// captured lists the content attributes of the spans, and whether any
// attribute or status quotes the texts the run's content had.
func captured(spans tracetest.SpanStubs) (keys map[string]int, leaks []string) {
	keys = map[string]int{}
	secrets := []string{"secret plans", "confidential answer", "hidden reply"}
	for _, s := range spans {
		for _, kv := range s.Attributes {
			for _, k := range contentKeys {
				if string(kv.Key) == k {
					keys[k]++
				}
			}
			for _, sec := range secrets {
				if strings.Contains(kv.Value.String(), sec) {
					leaks = append(leaks, s.Name+" "+string(kv.Key))
				}
			}
		}
		for _, sec := range secrets {
			if strings.Contains(s.Status.Description, sec) {
				leaks = append(leaks, s.Name+" status")
			}
		}
	}
	return keys, leaks
}

func TestContentCapture(t *testing.T) {
	// Five LM calls: three of the agent, and two for the score (the failed
	// parse is tried again with the JSON adapter).
	on := map[string]int{"gen_ai.input.messages": 5, "gen_ai.output.messages": 5, "gen_ai.tool.call.arguments": 1, "gen_ai.tool.call.result": 1}
	tests := []struct {
		name     string
		env      string
		opts     []Option
		want     map[string]int
		wantLeak bool
	}{
		{"default", "", nil, map[string]int{}, false},
		{"option", "", []Option{WithContentCapture(true)}, on, true},
		{"environment", "true", nil, on, true},
		{"option wins over environment", "true", []Option{WithContentCapture(false)}, map[string]int{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys, leaks := captured(runContent(t, tt.env, tt.opts...))
			if d := cmp.Diff(tt.want, keys); d != "" {
				t.Errorf("content attributes, by key (-want +got):\n%s", d)
			}
			if tt.wantLeak != (len(leaks) > 0) {
				t.Errorf("content in spans: %q, want content %v", leaks, tt.wantLeak)
			}
		})
	}
}

// The recorded messages follow the conventions' JSON schemas.
func TestContentMessages(t *testing.T) {
	h := newHarness(t)
	model := openaiLM(dspytest.NewScriptedLM().Push(dspytest.Reply{
		Text: "[[ ## next_thought ## ]]\nCall it.\n\n[[ ## completed ## ]]", Reasoning: "thinking",
		ToolCalls: []lm.ToolCall{{ID: "call_1", Name: "search", Arguments: `{"q": "x"}`}},
	}))
	ctx := dspy.WithSettings(context.Background(), dspy.WithLM(model), dspy.WithTrace(h.trace(WithContentCapture(true))))
	req := &lm.Request{Messages: []lm.Message{
		{Role: lm.RoleSystem, Content: "Be brief."},
		{Role: lm.RoleUser, Content: "Find x."},
		{Role: lm.RoleAssistant, ToolCalls: []lm.ToolCall{{ID: "call_0", Name: "search", Arguments: "not json"}}},
		{Role: lm.RoleTool, ToolCallID: "call_0", Content: "found"},
	}}
	if got := inputMessages(req.Messages); got != `[{"role":"system","parts":[{"type":"text","content":"Be brief."}]},`+
		`{"role":"user","parts":[{"type":"text","content":"Find x."}]},`+
		`{"role":"assistant","parts":[{"type":"tool_call","id":"call_0","name":"search","arguments":"not json"}]},`+
		`{"role":"tool","parts":[{"type":"tool_call_response","id":"call_0","response":"found"}]}]` {
		t.Errorf("inputMessages = %s", got)
	}
	agent := dspy.NewReAct("question -> answer", reactTools()[:1], dspy.WithNativeTools())
	_, _ = agent.Call(ctx, dspy.Inputs{"question": "q"}) // the script ends after one reply
	var out string
	for _, s := range h.spans.GetSpans() {
		for _, kv := range s.Attributes {
			if kv.Key == "gen_ai.output.messages" && out == "" {
				out = kv.Value.AsString()
			}
		}
	}
	var msgs []map[string]any
	if err := json.Unmarshal([]byte(out), &msgs); err != nil {
		t.Fatalf("gen_ai.output.messages %q: %v", out, err)
	}
	want := []map[string]any{{
		"role": "assistant", "finish_reason": "tool_calls",
		"parts": []any{
			map[string]any{"type": "reasoning", "content": "thinking"},
			map[string]any{"type": "text", "content": "[[ ## next_thought ## ]]\nCall it.\n\n[[ ## completed ## ]]"},
			map[string]any{"type": "tool_call", "id": "call_1", "name": "search", "arguments": map[string]any{"q": "x"}},
		},
	}}
	if d := cmp.Diff(want, msgs); d != "" {
		t.Errorf("gen_ai.output.messages (-want +got):\n%s", d)
	}
}
