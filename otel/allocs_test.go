package otel

import (
	"context"
	"testing"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/dspytest"
	mnoop "go.opentelemetry.io/otel/metric/noop"
	tnoop "go.opentelemetry.io/otel/trace/noop"
)

// What the trace's hooks cost a Predict call over no trace, on no-op
// providers (so the SDK's own allocations are not counted): per hooked call
// (module, LM) dspy's frame, the boxed start info and the context carrying
// the call with its span (ContextWithSpan and the no-op span: 2); once per
// tree the lm trace for retries. The tree's root rides in the outermost
// call's context; a separate allocation for it would make this 10.
const predictAllocsNoopHooks = 9

func TestHookAllocations(t *testing.T) {
	model := openaiLM(dspytest.Repeat(dspytest.ChatReply("answer", "Paris is the capital of France.", "confidence", "0.93")).DontRecord())
	p := dspy.NewPredict("context, question -> answer, confidence: float")
	in := dspy.Inputs{"context": "France is a country in Europe.", "question": "What is the capital of France?"}
	allocs := func(ctx context.Context) float64 {
		return testing.AllocsPerRun(200, func() {
			if _, err := p.Call(ctx, in); err != nil {
				t.Fatal(err)
			}
		})
	}
	base := dspy.WithSettings(context.Background(), dspy.WithLM(model))
	off := allocs(base)
	on := allocs(dspy.WithSettings(base, dspy.WithTrace(NewTrace(WithTracerProvider(tnoop.NewTracerProvider()), WithMeterProvider(mnoop.NewMeterProvider())))))
	if extra := on - off; extra > predictAllocsNoopHooks {
		t.Errorf("Predict.Call traced over no-op providers: %v allocations over %v untraced, want at most %d more", on, off, predictAllocsNoopHooks)
	}
}
