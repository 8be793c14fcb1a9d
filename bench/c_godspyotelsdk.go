//go:build !bench_only || bench_godspyotel

package main

import (
	"context"
	"time"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/lm/openai"
	"github.com/godspy/dspy/streaming"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"
)

// godspy-otelsdk is the floor of tracing: what the OpenTelemetry SDK itself
// costs for the spans and metric records godspy-otel makes, written by hand
// around a godspy call that has no trace installed. godspy-otel over
// godspy-otelsdk is the cost of godspy's hooks; godspy-otelsdk over godspy
// is the SDK's, which no instrumentation can go under.
func init() {
	register(contender{
		name:        "godspy-otelsdk",
		note:        "godspy without a trace, and by hand around each call the spans (module, chat) and metric records (duration, token usage; time to first chunk and chunk count when streaming) that godspy-otel makes, over the same SDK providers: the SDK's own cost",
		fieldStream: true,
		setup: func(url string) (client, error) {
			tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(discardSpans{}))
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
			model := openai.New("bench-model", openai.WithBaseURL(url), openai.WithAPIKey("sk-bench"))
			p := dspy.NewPredict("question -> answer", dspy.WithLM(model))
			prog, err := streaming.Streamify(p, streaming.WithListeners(streaming.NewListener("answer")))
			if err != nil {
				return nil, err
			}
			return newOtelSDK(&godspy{predict: p, prog: prog}, tp, mp), nil
		},
	})
}

type otelSDK struct {
	inner  *godspy
	tr     trace.Tracer
	dur    metric.Float64Histogram
	tokens metric.Int64Histogram
	ttfc   metric.Float64Histogram
	chunks metric.Int64Counter
	start  []trace.SpanStartOption
	// Prebuilt attribute sets, as godspy-otel caches them per model.
	durSet, inSet, outSet []metric.RecordOption
	addSet                []metric.AddOption
}

func newOtelSDK(g *godspy, tp trace.TracerProvider, mp metric.MeterProvider) *otelSDK {
	m := mp.Meter("otelsdk")
	o := &otelSDK{inner: g, tr: tp.Tracer("otelsdk")}
	o.dur, _ = m.Float64Histogram("gen_ai.client.operation.duration", metric.WithUnit("s"))
	o.tokens, _ = m.Int64Histogram("gen_ai.client.token.usage", metric.WithUnit("{token}"))
	o.ttfc, _ = m.Float64Histogram("gen_ai.client.operation.time_to_first_chunk", metric.WithUnit("s"))
	o.chunks, _ = m.Int64Counter("dspy.lm.stream.chunks", metric.WithUnit("{chunk}"))
	base := []attribute.KeyValue{semconv.GenAIOperationNameChat, semconv.GenAIProviderNameOpenAI, semconv.GenAIRequestModel("bench-model")}
	set := func(extra ...attribute.KeyValue) attribute.Set {
		return attribute.NewSet(append(append(base[:len(base):len(base)], semconv.GenAIResponseModel("bench-model")), extra...)...)
	}
	o.durSet = []metric.RecordOption{metric.WithAttributeSet(set())}
	o.inSet = []metric.RecordOption{metric.WithAttributeSet(set(semconv.GenAITokenTypeInput))}
	o.outSet = []metric.RecordOption{metric.WithAttributeSet(set(semconv.GenAITokenTypeOutput))}
	o.addSet = []metric.AddOption{metric.WithAttributeSet(set())}
	o.start = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(base...)}
	return o
}

// end records what godspy-otel records when an LM call ends. The token
// counts are the bench server's usage for a 20-word reply; their values do
// not change the cost.
func (o *otelSDK) end(ctx context.Context, chat trace.Span, t0 time.Time, err error, stream bool, first time.Duration, chunks int) {
	o.dur.Record(ctx, time.Since(t0).Seconds(), o.durSet...)
	o.tokens.Record(ctx, 50, o.inSet...)
	o.tokens.Record(ctx, 20, o.outSet...)
	if stream {
		o.ttfc.Record(ctx, first.Seconds(), o.durSet...)
		o.chunks.Add(ctx, int64(chunks), o.addSet...)
		chat.SetAttributes(semconv.GenAIResponseID("chatcmpl-bench"), semconv.GenAIResponseModel("bench-model"),
			semconv.GenAIResponseFinishReasons("stop"), semconv.GenAIUsageInputTokens(50), semconv.GenAIUsageOutputTokens(20),
			semconv.GenAIResponseTimeToFirstChunk(first.Seconds()), attribute.Int("dspy.lm.stream.chunks", chunks))
	} else {
		chat.SetAttributes(semconv.GenAIResponseID("chatcmpl-bench"), semconv.GenAIResponseModel("bench-model"),
			semconv.GenAIResponseFinishReasons("stop"), semconv.GenAIUsageInputTokens(50), semconv.GenAIUsageOutputTokens(20))
	}
	if err != nil {
		chat.SetStatus(codes.Error, err.Error())
	}
	chat.End()
}

func (o *otelSDK) call(ctx context.Context, q string) (string, error) {
	ctx, module := o.tr.Start(ctx, "Predict")
	defer module.End()
	cctx, chat := o.tr.Start(ctx, "chat bench-model", o.start...)
	t0 := time.Now()
	s, err := o.inner.call(cctx, q)
	o.end(cctx, chat, t0, err, false, 0, 0)
	return s, err
}

func (o *otelSDK) stream(ctx context.Context, q string, chunk func(string)) (string, error) {
	ctx, module := o.tr.Start(ctx, "Predict")
	defer module.End()
	cctx, chat := o.tr.Start(ctx, "chat bench-model", o.start...)
	t0 := time.Now()
	var first time.Duration
	n := 0
	s, err := o.inner.stream(cctx, q, func(c string) {
		if n == 0 {
			first = time.Since(t0)
		}
		n++
		chunk(c)
	})
	o.end(cctx, chat, t0, err, true, first, n)
	return s, err
}
