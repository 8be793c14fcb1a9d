package otel

import (
	"context"
	"errors"
	"testing"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/dspytest"
	"github.com/google/go-cmp/cmp"
)

// The LM span's attributes every test LM call has.
var chatAttrs = attrs(
	"gen_ai.operation.name", "chat",
	"gen_ai.provider.name", "openai",
	"gen_ai.request.model", "gpt-4o-mini",
	"gen_ai.response.id", "scripted",
	"gen_ai.response.model", "scripted",
)

func TestSpansChainOfThought(t *testing.T) {
	h := newHarness(t)
	model := openaiLM(dspytest.NewScriptedLM().Push(dspytest.Reply{
		Text:  dspytest.ChatReply("reasoning", "Paris is in France.", "answer", "Paris"),
		Usage: usage(52, 11),
	}))
	cot := dspy.NewChainOfThought("question -> answer", dspy.WithTemperature(0.3), dspy.WithMaxTokens(100))
	ctx := dspy.WithSettings(context.Background(), dspy.WithLM(model), dspy.WithTrace(h.trace()))
	if _, err := cot.Call(ctx, dspy.Inputs{"question": "Capital of France?"}); err != nil {
		t.Fatal(err)
	}
	want := []node{{
		Name: "dspy.ChainOfThought",
		Children: []node{{
			Name:  "dspy.Predict predict",
			Attrs: attrs("godspy.module.path", "predict"),
			Children: []node{{
				Name: "chat gpt-4o-mini",
				Kind: "client",
				Attrs: merge(chatAttrs, attrs(
					"gen_ai.request.temperature", "0.3",
					"gen_ai.request.max_tokens", "100",
					"gen_ai.response.finish_reasons", `["stop"]`,
					"gen_ai.usage.input_tokens", "52",
					"gen_ai.usage.output_tokens", "11",
				)),
			}},
		}},
	}}
	got := tree(h.spans.GetSpans())
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("span tree (-want +got):\n%s", d)
	}
}

var errBackend = errors.New("backend down")

func reactTools() []*dspy.Tool {
	search := dspy.NewTool("search", "Searches the web.", func(_ context.Context, a struct {
		Q string `json:"q"`
	}) (string, error) {
		return "found " + a.Q, nil
	})
	broken := dspy.NewTool("broken", "Always fails.", func(context.Context, struct{}) (string, error) {
		return "", errBackend
	})
	return []*dspy.Tool{search, broken}
}

func TestSpansReAct(t *testing.T) {
	h := newHarness(t)
	reply := func(text string) dspytest.Reply { return dspytest.Reply{Text: text, Usage: usage(100, 20)} }
	model := openaiLM(dspytest.NewScriptedLM().Push(
		reply(dspytest.ChatReply("next_thought", "Search first.", "next_tool_name", "search", "next_tool_args", `{"q": "paris"}`)),
		reply(dspytest.ChatReply("next_thought", "Try the other.", "next_tool_name", "broken", "next_tool_args", `{}`)),
		reply(dspytest.ChatReply("next_thought", "Enough.", "next_tool_name", "finish", "next_tool_args", `{}`)),
		reply(dspytest.ChatReply("reasoning", "It was found.", "answer", "Paris")),
	))
	agent := dspy.NewReAct("question -> answer", reactTools())
	ctx := dspy.WithSettings(context.Background(), dspy.WithLM(model), dspy.WithTrace(h.trace()))
	if _, err := agent.Call(ctx, dspy.Inputs{"question": "Capital of France?"}); err != nil {
		t.Fatal(err)
	}
	chat := node{Name: "chat gpt-4o-mini", Kind: "client", Attrs: merge(chatAttrs, attrs(
		"gen_ai.response.finish_reasons", `["stop"]`,
		"gen_ai.usage.input_tokens", "100",
		"gen_ai.usage.output_tokens", "20",
	))}
	react := node{
		Name:     "dspy.Predict react",
		Attrs:    attrs("godspy.module.path", "react"),
		Children: []node{chat},
	}
	tool := func(name, desc string) node {
		return node{Name: "execute_tool " + name, Attrs: attrs(
			"gen_ai.operation.name", "execute_tool",
			"gen_ai.tool.name", name,
			"gen_ai.tool.type", "function",
			"gen_ai.tool.description", desc,
		)}
	}
	broken := tool("broken", "Always fails.")
	broken.Status = "Error: backend down"
	broken.Attrs["error.type"] = "_OTHER"
	want := []node{{
		Name: "invoke_agent",
		Attrs: attrs(
			"gen_ai.operation.name", "invoke_agent",
			"gen_ai.provider.name", "openai",
			"gen_ai.request.model", "gpt-4o-mini",
			"godspy.module.type", "dspy.ReAct",
		),
		Children: []node{
			{
				Name:  "dspy.ChainOfThought extract",
				Attrs: attrs("godspy.module.path", "extract"),
				Children: []node{{
					Name:     "dspy.Predict extract.predict",
					Attrs:    attrs("godspy.module.path", "extract.predict"),
					Children: []node{chat},
				}},
			},
			{Name: "step 0", Attrs: attrs("godspy.step.index", "0"), Children: []node{react, tool("search", "Searches the web.")}},
			{Name: "step 1", Attrs: attrs("godspy.step.index", "1"), Children: []node{react, broken}},
			{Name: "step 2", Attrs: attrs("godspy.step.index", "2", "godspy.step.done", "true"), Children: []node{react}},
		},
	}}
	got := tree(h.spans.GetSpans())
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("span tree (-want +got):\n%s", d)
	}
}
