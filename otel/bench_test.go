package otel

import (
	"context"
	"testing"
	"time"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/dspytest"
	"github.com/godspy/dspy/lm/openai"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	mnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"
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
// local dspytest server (bench's W1, in one process). "sdk" is the floor of
// the SDK itself: no godspy trace, but the same two spans with the same
// attributes and the same three metric records done by hand around the
// call, over the same providers as "on".
func BenchmarkPredictHTTP(b *testing.B) {
	srv := dspytest.NewServer(dspytest.WithoutRecording(), dspytest.WithResponder(func(*dspytest.ChatRequest) dspytest.Answer {
		return dspytest.Answer{Text: dspytest.ChatReply("answer", "Paris is the capital of France.")}
	}))
	defer srv.Close()
	for _, mode := range []string{"off", "noop", "sdk", "on"} {
		b.Run(mode, func(b *testing.B) {
			model := openai.New("gpt-4o-mini", openai.WithBaseURL(srv.URL()), openai.WithAPIKey("sk-bench"))
			tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()))
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
			defer tp.Shutdown(context.Background())
			defer mp.Shutdown(context.Background())
			ctx := context.Background()
			switch mode {
			case "noop":
				ctx = dspy.WithSettings(ctx, dspy.WithTrace(NewTrace(WithTracerProvider(tnoop.NewTracerProvider()), WithMeterProvider(mnoop.NewMeterProvider()))))
			case "on":
				ctx = dspy.WithSettings(ctx, dspy.WithTrace(NewTrace(WithTracerProvider(tp), WithMeterProvider(mp))))
			}
			p := dspy.NewPredict("question -> answer", dspy.WithLM(model))
			in := dspy.Inputs{"question": "What is the capital of France?"}
			call := func() error { _, err := p.Call(ctx, in); return err }
			if mode == "sdk" {
				call = sdkFloor(tp, mp, func(ctx context.Context) error { _, err := p.Call(ctx, in); return err })
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := call(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// sdkFloor wraps call in what the trace records for one Predict call,
// written directly against the SDK: a module span, an LM span with the
// conventions' attributes, a duration and two token-usage records.
func sdkFloor(tp trace.TracerProvider, mp metric.MeterProvider, call func(context.Context) error) func() error {
	tr := tp.Tracer("floor")
	m := mp.Meter("floor")
	dur, _ := m.Float64Histogram("gen_ai.client.operation.duration")
	tok, _ := m.Int64Histogram("gen_ai.client.token.usage")
	base := []attribute.KeyValue{semconv.GenAIOperationNameChat, semconv.GenAIProviderNameOpenAI, semconv.GenAIRequestModel("gpt-4o-mini")}
	set := func(extra ...attribute.KeyValue) []metric.RecordOption {
		return []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(append(append(base[:len(base):len(base)], semconv.GenAIResponseModel("gpt-4o-mini")), extra...)...))}
	}
	durSet, inSet, outSet := set(), set(semconv.GenAITokenTypeInput), set(semconv.GenAITokenTypeOutput)
	start := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(base...)}
	return func() error {
		ctx, module := tr.Start(context.Background(), "dspy.Predict")
		ctx, chat := tr.Start(ctx, "chat gpt-4o-mini", start...)
		t0 := time.Now()
		err := call(ctx)
		chat.SetAttributes(semconv.GenAIResponseID("chatcmpl-1"), semconv.GenAIResponseModel("gpt-4o-mini"),
			semconv.GenAIResponseFinishReasons("stop"), semconv.GenAIUsageInputTokens(50), semconv.GenAIUsageOutputTokens(20))
		dur.Record(ctx, time.Since(t0).Seconds(), durSet...)
		tok.Record(ctx, 50, inSet...)
		tok.Record(ctx, 20, outSet...)
		chat.End()
		module.End()
		return err
	}
}
