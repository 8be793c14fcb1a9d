//go:build !bench_only || bench_godspyotel

package main

import (
	"context"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/lm/openai"
	dspyotel "github.com/godspy/dspy/otel"
	"github.com/godspy/dspy/streaming"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

func init() {
	register(contender{
		name:        "godspy-otel",
		note:        "godspy with tracing on: dspy.Configure(dspy.WithTrace(otel.NewTrace(...))) over an SDK TracerProvider (batch processor, exporter that drops the spans) and MeterProvider (manual reader)",
		fieldStream: true,
		setup: func(url string) (client, error) {
			tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(discardSpans{}))
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
			dspy.Configure(dspy.WithTrace(dspyotel.NewTrace(dspyotel.WithTracerProvider(tp), dspyotel.WithMeterProvider(mp))))
			model := openai.New("bench-model", openai.WithBaseURL(url), openai.WithAPIKey("sk-bench"))
			p := dspy.NewPredict("question -> answer", dspy.WithLM(model))
			prog, err := streaming.Streamify(p, streaming.WithListeners(streaming.NewListener("answer")))
			if err != nil {
				return nil, err
			}
			return &godspy{predict: p, prog: prog}, nil
		},
	})
}

// discardSpans is an exporter that drops what it is given: the spans are
// built, batched and handed over as in production, and then cost nothing.
type discardSpans struct{}

func (discardSpans) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discardSpans) Shutdown(context.Context) error                             { return nil }
