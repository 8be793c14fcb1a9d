package otel

import (
	"context"
	"testing"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/dspytest"
	"github.com/godspy/dspy/streaming"
	"github.com/google/go-cmp/cmp"
)

func TestSpansStreamBrokenOff(t *testing.T) {
	h := newHarness(t)
	scripted := dspytest.NewScriptedLM().Push(dspytest.Reply{
		Text:  dspytest.ChatReply("reasoning", "Paris is in France.", "answer", "Paris is the capital and largest city of France."),
		Usage: usage(40, 30),
	})
	scripted.ChunkSize = 8
	prog := streaming.MustStreamify(dspy.NewChainOfThought("question -> answer"), streaming.WithListeners(streaming.NewListener("answer")))
	ctx := dspy.WithSettings(context.Background(), dspy.WithLM(openaiLM(scripted)), dspy.WithTrace(h.trace()))
	events := 0
	for _, err := range prog.Stream(ctx, dspy.Inputs{"question": "Capital of France?"}) {
		if err != nil {
			t.Fatal(err)
		}
		if events++; events == 3 {
			break
		}
	}
	// Every span has ended by the time the loop is left.
	const cancelled = "Error: streaming: consumer stopped reading: context canceled"
	want := []node{{
		Name:   "dspy.ChainOfThought",
		Status: cancelled,
		Attrs:  attrs("error.type", "canceled"),
		Children: []node{{
			Name:   "dspy.Predict predict",
			Status: cancelled,
			Attrs:  attrs("godspy.module.path", "predict", "error.type", "canceled"),
			Children: []node{{
				Name:   "chat gpt-4o-mini",
				Kind:   "client",
				Status: cancelled,
				Attrs: attrs(
					"gen_ai.operation.name", "chat",
					"gen_ai.provider.name", "openai",
					"gen_ai.request.model", "gpt-4o-mini",
					"gen_ai.request.stream", "true",
					"gen_ai.response.time_to_first_chunk", "*",
					"godspy.lm.chunks", "10",
					"error.type", "canceled",
				),
			}},
		}},
	}}
	got := tree(h.spans.GetSpans())
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("span tree (-want +got):\n%s", d)
	}
}
