package otel

import (
	"context"
	"testing"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/dspytest"
	"github.com/godspy/dspy/lm/openai"
	mnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	tnoop "go.opentelemetry.io/otel/trace/noop"
)

// BenchmarkPredict is the root package's BenchmarkPredict (Predict.Call on
// an in-process LM, ChatAdapter) without a trace and with this package's
// trace over SDK providers whose exporter drops the spans: the cost of the
// spans and metrics of one call.
//
// "noop" installs the trace over OpenTelemetry's no-op providers: what the
// hooks themselves cost.
func BenchmarkPredict(b *testing.B) {
	for _, mode := range []string{"off", "noop", "on"} {
		b.Run(mode, func(b *testing.B) {
			model := openaiLM(dspytest.Repeat(dspytest.ChatReply("answer", "Paris is the capital of France.", "confidence", "0.93")).DontRecord())
			ctx := dspy.WithSettings(context.Background(), dspy.WithLM(model))
			switch mode {
			case "noop":
				ctx = dspy.WithSettings(ctx, dspy.WithTrace(NewTrace(WithTracerProvider(tnoop.NewTracerProvider()), WithMeterProvider(mnoop.NewMeterProvider()))))
			case "on":
				tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()))
				mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
				defer tp.Shutdown(context.Background())
				defer mp.Shutdown(context.Background())
				ctx = dspy.WithSettings(ctx, dspy.WithTrace(NewTrace(WithTracerProvider(tp), WithMeterProvider(mp))))
			}
			p := dspy.NewPredict("context, question -> answer, confidence: float")
			in := dspy.Inputs{"context": "France is a country in Europe.", "question": "What is the capital of France?"}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.Call(ctx, in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPredictHTTP is BenchmarkPredict through lm/openai against a
// local dspytest server (bench's W1, in-process).
func BenchmarkPredictHTTP(b *testing.B) {
	srv := dspytest.NewServer(dspytest.WithoutRecording(), dspytest.WithResponder(func(*dspytest.ChatRequest) dspytest.Answer {
		return dspytest.Answer{Text: dspytest.ChatReply("answer", "Paris is the capital of France.")}
	}))
	defer srv.Close()
	for _, on := range []bool{false, true} {
		name := "off"
		if on {
			name = "on"
		}
		b.Run(name, func(b *testing.B) {
			model := openai.New("gpt-4o-mini", openai.WithBaseURL(srv.URL()), openai.WithAPIKey("sk-bench"))
			ctx := context.Background()
			if on {
				tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()))
				mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
				defer tp.Shutdown(context.Background())
				defer mp.Shutdown(context.Background())
				ctx = dspy.WithSettings(ctx, dspy.WithTrace(NewTrace(WithTracerProvider(tp), WithMeterProvider(mp))))
			}
			p := dspy.NewPredict("question -> answer", dspy.WithLM(model))
			in := dspy.Inputs{"question": "What is the capital of France?"}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.Call(ctx, in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
