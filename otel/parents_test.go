package otel

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"testing"
	"time"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/dspytest"
	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/streaming"
	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// A native-tools ReAct whose LM asks for two tools in one reply: they run
// concurrently (each waits for the other), each span is the parent of what
// its tool does (an instrumented client would start "GET ..." in its
// context), and each carries the LM's tool-call id. The LM's own request
// sees the chat span as its parent.
func TestSpansReActNativeParallelTools(t *testing.T) {
	h := newHarness(t)
	client := h.tp.Tracer("client")
	arrived := make(chan string, 2)
	meet := func(name string) *dspy.Tool {
		return dspy.NewTool(name, "Looks up "+name+".", func(ctx context.Context, a struct {
			N int `json:"n"`
		}) (string, error) {
			_, s := client.Start(ctx, "GET /"+name)
			defer s.End()
			arrived <- name
			// Both tools run at once: wait (bounded) until the other has arrived.
			deadline := time.After(10 * time.Second)
			for len(arrived) < 2 {
				select {
				case <-deadline:
					return "", fmt.Errorf("tool %s: the other tool never ran concurrently", name)
				case <-time.After(time.Millisecond):
				}
			}
			return fmt.Sprintf("%s(%d)", name, a.N), nil
		})
	}
	scripted := dspytest.NewScriptedLM().Push(
		dspytest.Reply{Text: "[[ ## next_thought ## ]]\nAsk both.\n\n[[ ## completed ## ]]", Usage: usage(10, 5), ToolCalls: []lm.ToolCall{
			{ID: "call_a", Name: "a", Arguments: `{"n": 1}`},
			{ID: "call_b", Name: "b", Arguments: `{"n": 2}`},
		}},
		dspytest.Reply{Text: "Both known.", Usage: usage(10, 5)},
		dspytest.Reply{Text: dspytest.ChatReply("reasoning", "r", "answer", "a b"), Usage: usage(10, 5)},
	)
	model := openaiLM(scripted)
	model.inside = func(ctx context.Context) {
		_, s := client.Start(ctx, "POST /v1/chat/completions", trace.WithSpanKind(trace.SpanKindClient))
		s.End()
	}
	agent := dspy.NewReAct("question -> answer", []*dspy.Tool{meet("a"), meet("b")}, dspy.WithNativeTools())
	ctx := dspy.WithSettings(context.Background(), dspy.WithLM(model), dspy.WithTrace(h.trace()))
	if _, err := agent.Call(ctx, dspy.Inputs{"question": "q"}); err != nil {
		t.Fatal(err)
	}
	http := node{Name: "POST /v1/chat/completions", Kind: "client"}
	chat := func(reason string) node {
		return node{Name: "chat gpt-4o-mini", Kind: "client", Children: []node{http}, Attrs: merge(chatAttrs, attrs(
			"gen_ai.response.finish_reasons", `["`+reason+`"]`,
			"gen_ai.usage.input_tokens", "10",
			"gen_ai.usage.output_tokens", "5",
		))}
	}
	react := func(reason string) node {
		return node{
			Name:     "dspy.Predict react",
			Attrs:    attrs("godspy.module.path", "react"),
			Children: []node{chat(reason)},
		}
	}
	tool := func(name string) node {
		return node{
			Name: "execute_tool " + name,
			Attrs: attrs(
				"gen_ai.operation.name", "execute_tool",
				"gen_ai.tool.name", name,
				"gen_ai.tool.type", "function",
				"gen_ai.tool.description", "Looks up "+name+".",
				"gen_ai.tool.call.id", "call_"+name,
			),
			Children: []node{{Name: "GET /" + name}},
		}
	}
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
					Children: []node{chat("stop")},
				}},
			},
			{Name: "step 0", Attrs: attrs("godspy.step.index", "0"), Children: []node{react("tool_calls"), tool("a"), tool("b")}},
			{Name: "step 1", Attrs: attrs("godspy.step.index", "1", "godspy.step.done", "true"), Children: []node{react("stop")}},
		},
	}}
	got := tree(h.spans.GetSpans())
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("span tree (-want +got):\n%s", d)
	}
}

// fanOut calls its predictor twice with ACall and Gather, then once per
// input through Batch.
type fanOut struct{ p *dspy.Predict }

func (f *fanOut) Forward(ctx context.Context, in dspy.Inputs) (*dspy.Prediction, error) {
	a, b := f.p.ACall(ctx, in), f.p.ACall(ctx, in)
	if _, err := dspy.Gather(ctx, a, b); err != nil {
		return nil, err
	}
	res, err := dspy.Batch(ctx, f.p, []dspy.Inputs{in, in, in}, dspy.BatchOptions{Concurrency: 3})
	if err != nil {
		return nil, err
	}
	return res[0].Prediction, res[0].Err
}

// Calls that run on other goroutines (ACall, Gather, Batch) are children
// of the call that started them, and the outermost call is a child of the
// span in the caller's context.
func TestSpansAcrossGoroutines(t *testing.T) {
	h := newHarness(t)
	model := openaiLM(dspytest.NewScriptedLMFunc(func(*lm.Request) (dspytest.Reply, error) {
		return dspytest.Reply{Text: dspytest.ChatReply("answer", "a"), Usage: usage(3, 1)}, nil
	}))
	ctx := dspy.WithSettings(context.Background(), dspy.WithLM(model), dspy.WithTrace(h.trace()))
	ctx, request := h.tp.Tracer("server").Start(ctx, "POST /ask", trace.WithSpanKind(trace.SpanKindServer))
	if _, err := dspy.Call(ctx, &fanOut{p: dspy.NewPredict("question -> answer")}, dspy.Inputs{"question": "q"}); err != nil {
		t.Fatal(err)
	}
	request.End()
	predict := node{
		Name:  "dspy.Predict p",
		Attrs: attrs("godspy.module.path", "p"),
		Children: []node{{Name: "chat gpt-4o-mini", Kind: "client", Attrs: merge(chatAttrs, attrs(
			"gen_ai.response.finish_reasons", `["stop"]`,
			"gen_ai.usage.input_tokens", "3",
			"gen_ai.usage.output_tokens", "1",
		))}},
	}
	want := []node{{
		Name: "POST /ask",
		Kind: "server",
		Children: []node{{
			Name:     "otel.fanOut",
			Children: []node{predict, predict, predict, predict, predict},
		}},
	}}
	got := tree(h.spans.GetSpans())
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("span tree (-want +got):\n%s", d)
	}
}

// A program that streams from its own goroutine (not inline), broken off:
// every span has ended when the loop is left, cancelled.
func TestSpansStreamBrokenOffOnRunGoroutine(t *testing.T) {
	h := newHarness(t)
	stall := stallLM{chunks: []string{"[[ ## answer ## ]]\n", "one ", "two ", "three ", "four "}}
	prog := streaming.MustStreamify(&fanIn{p: dspy.NewPredict("question -> answer")}, streaming.WithListeners(streaming.NewListener("answer")))
	ctx := dspy.WithSettings(context.Background(), dspy.WithLM(openaiLM(stall)), dspy.WithTrace(h.trace()))
	events := 0
	for _, err := range prog.Stream(ctx, dspy.Inputs{"question": "q"}) {
		if err != nil {
			t.Fatal(err)
		}
		if events++; events == 3 {
			break
		}
	}
	spans := h.spans.GetSpans()
	var names []string
	for _, s := range spans {
		names = append(names, s.Name)
		if s.Status.Code != codes.Error {
			t.Errorf("span %s: status %v, want Error (cancelled)", s.Name, s.Status)
		}
		for _, kv := range s.Attributes {
			if kv.Key == "error.type" && kv.Value.AsString() != "canceled" {
				t.Errorf("span %s: error.type %q, want canceled", s.Name, kv.Value.AsString())
			}
		}
	}
	if d := cmp.Diff([]string{"chat gpt-4o-mini", "dspy.Predict p", "otel.fanIn"}, names); d != "" {
		t.Errorf("ended spans, in the order they ended (-want +got):\n%s", d)
	}
}

// fanIn is a program that is not a bare Predict, so streaming runs it on a
// goroutine of its own.
type fanIn struct{ p *dspy.Predict }

func (f *fanIn) Forward(ctx context.Context, in dspy.Inputs) (*dspy.Prediction, error) {
	return f.p.Call(ctx, in)
}

// stallLM streams its chunks, then waits for the caller to leave (at most
// ten seconds), so that breaking out of the stream is sure to cancel it.
type stallLM struct {
	lm.LM
	chunks []string
}

func (s stallLM) Stream(ctx context.Context, _ *lm.Request) iter.Seq2[lm.Chunk, error] {
	return func(yield func(lm.Chunk, error) bool) {
		for _, c := range s.chunks {
			if !yield(lm.Chunk{Text: c}, nil) {
				return
			}
		}
		select {
		case <-ctx.Done():
			yield(lm.Chunk{}, ctx.Err())
		case <-time.After(10 * time.Second):
			yield(lm.Chunk{}, errors.New("stallLM: the consumer never left"))
		}
	}
}
