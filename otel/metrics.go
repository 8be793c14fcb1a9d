package otel

import (
	"context"
	"sync"
	"time"

	"github.com/godspy/dspy"
	otelglobal "go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/semconv/v1.41.0/genaiconv"
)

// Bucket boundaries the GenAI conventions recommend (semconv v1.41.0
// gen-ai-metrics.md).
var (
	tokenBuckets    = []float64{1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864}
	durationBuckets = []float64{0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92}
	// Waits are godspy's: from a millisecond (a busy limiter) to the one
	// minute a Retry-After may ask for.
	waitBuckets = []float64{0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}
)

// instruments are the metrics of one Trace, as the package doc lists them.
type instruments struct {
	duration  metric.Float64Histogram
	tokens    metric.Int64Histogram
	ttfc      metric.Float64Histogram
	chunks    metric.Int64Counter
	lookups   metric.Int64Counter
	retry     metric.Float64Histogram
	limitWait metric.Float64Histogram

	sets sync.Map // setKey -> *measureOpts
	lms  sync.Map // setKey{provider, model} -> *lmSets
}

func newInstruments(m metric.Meter) *instruments {
	var (
		in  instruments
		err error
	)
	// A meter returns usable (no-op) instruments with its errors, so a bad
	// provider costs the metrics, never the program; the errors go to
	// OpenTelemetry's error handler, as the SDK's own do.
	add := func(err error) {
		if err != nil {
			otelglobal.Handle(err)
		}
	}
	in.duration, err = m.Float64Histogram(genaiconv.ClientOperationDuration{}.Name(),
		metric.WithUnit(genaiconv.ClientOperationDuration{}.Unit()),
		metric.WithDescription(genaiconv.ClientOperationDuration{}.Description()),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	add(err)
	in.tokens, err = m.Int64Histogram(genaiconv.ClientTokenUsage{}.Name(),
		metric.WithUnit(genaiconv.ClientTokenUsage{}.Unit()),
		metric.WithDescription(genaiconv.ClientTokenUsage{}.Description()),
		metric.WithExplicitBucketBoundaries(tokenBuckets...))
	add(err)
	in.ttfc, err = m.Float64Histogram(genaiconv.ClientOperationTimeToFirstChunk{}.Name(),
		metric.WithUnit(genaiconv.ClientOperationTimeToFirstChunk{}.Unit()),
		metric.WithDescription(genaiconv.ClientOperationTimeToFirstChunk{}.Description()),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	add(err)
	in.chunks, err = m.Int64Counter("godspy.lm.stream.chunks", metric.WithUnit("{chunk}"),
		metric.WithDescription("Chunks received by streamed LM calls."))
	add(err)
	in.lookups, err = m.Int64Counter("godspy.lm.cache.lookups", metric.WithUnit("{lookup}"),
		metric.WithDescription("LM calls through godspy's LM cache, by result (hit or miss)."))
	add(err)
	in.retry, err = m.Float64Histogram("godspy.lm.retry.delay", metric.WithUnit("s"),
		metric.WithDescription("The wait before each retry of an LM request."),
		metric.WithExplicitBucketBoundaries(waitBuckets...))
	add(err)
	in.limitWait, err = m.Float64Histogram("godspy.lm.limit.wait", metric.WithUnit("s"),
		metric.WithDescription("The wait of an LM call for a rate-limited LM's capacity."),
		metric.WithExplicitBucketBoundaries(waitBuckets...))
	add(err)
	return &in
}

// setKey identifies one attribute set; sets are few (providers × models ×
// error types), so they are built once and reused.
type setKey struct {
	provider, model, respModel, errType string
	extra                               attribute.KeyValue // token type or cache result
}

type measureOpts struct {
	rec []metric.RecordOption
	add []metric.AddOption
}

func (in *instruments) opts(k setKey) *measureOpts {
	if o, ok := in.sets.Load(k); ok {
		return o.(*measureOpts)
	}
	attrs := make([]attribute.KeyValue, 0, 6)
	attrs = append(attrs, semconv.GenAIOperationNameChat, semconv.GenAIProviderNameKey.String(k.provider))
	if k.model != "" {
		attrs = append(attrs, semconv.GenAIRequestModel(k.model))
	}
	if k.respModel != "" {
		attrs = append(attrs, semconv.GenAIResponseModel(k.respModel))
	}
	if k.errType != "" {
		attrs = append(attrs, semconv.ErrorTypeKey.String(k.errType))
	}
	if k.extra.Key != "" {
		attrs = append(attrs, k.extra)
	}
	opt := metric.WithAttributeSet(attribute.NewSet(attrs...))
	o := &measureOpts{rec: []metric.RecordOption{opt}, add: []metric.AddOption{opt}}
	actual, _ := in.sets.LoadOrStore(k, o)
	return actual.(*measureOpts)
}

var (
	tokenInput  = semconv.GenAITokenTypeInput
	tokenOutput = semconv.GenAITokenTypeOutput
	cacheHit    = cacheResultKey.String("hit")
	cacheMiss   = cacheResultKey.String("miss")
)

// lmSets are the attribute sets of one (provider, model)'s calls whose
// response model is respModel, the model that answered before (or "").
// The usual call finds everything here: no set is built or looked up.
type lmSets struct {
	respModel         string
	ok, input, output *measureOpts
	hit, miss         *measureOpts
}

func (in *instruments) lmSets(provider, model string) *lmSets {
	k := setKey{provider: provider, model: model}
	if s, ok := in.lms.Load(k); ok {
		return s.(*lmSets)
	}
	return in.newLMSets(k, model)
}

// newLMSets returns the sets for calls answered by respModel, and keeps
// them for the next calls unless respModel is "" (a failed call).
func (in *instruments) newLMSets(k setKey, respModel string) *lmSets {
	r := k
	r.respModel = respModel
	s := &lmSets{respModel: respModel, ok: in.opts(r)}
	r.extra = tokenInput
	s.input = in.opts(r)
	r.extra = tokenOutput
	s.output = in.opts(r)
	r.extra = cacheHit
	s.hit = in.opts(r)
	r.extra = cacheMiss
	s.miss = in.opts(r)
	if respModel != "" {
		in.lms.Store(k, s)
	}
	return s
}

func (in *instruments) recordLM(ctx context.Context, c *call, i dspy.LMEndInfo, respModel, errType string) {
	s := c.sets
	if s.respModel != respModel {
		// Another model answered than last time (or a failed call, with
		// none): keep the sets of the latest.
		s = in.newLMSets(setKey{provider: c.provider, model: c.model}, respModel)
	}
	if errType == "" {
		in.duration.Record(ctx, i.Duration.Seconds(), s.ok.rec...)
	} else {
		in.duration.Record(ctx, i.Duration.Seconds(), in.opts(setKey{provider: c.provider, model: c.model, respModel: respModel, errType: errType}).rec...)
	}
	if r := i.Response; r != nil && !r.CacheHit && !r.Usage.IsZero() {
		in.tokens.Record(ctx, int64(r.Usage.PromptTokens), s.input.rec...)
		in.tokens.Record(ctx, int64(r.Usage.CompletionTokens), s.output.rec...)
	}
	if c.stream {
		if i.FirstChunk > 0 {
			in.ttfc.Record(ctx, i.FirstChunk.Seconds(), s.ok.rec...)
		}
		if i.Chunks > 0 {
			in.chunks.Add(ctx, int64(i.Chunks), s.ok.add...)
		}
	}
	if c.cached && !c.noCache {
		o := s.miss
		if i.Response != nil && i.Response.CacheHit {
			o = s.hit
		}
		in.lookups.Add(ctx, 1, o.add...)
	}
}

// lmKey is the set of the LM call c (nil or not an LM call: an LM called
// outside a traced Predict).
func lmKey(c *call) setKey {
	if c == nil || !c.lm {
		return setKey{provider: providerName("")}
	}
	return setKey{provider: c.provider, model: c.model}
}

func (in *instruments) recordRetry(ctx context.Context, c *call, delay time.Duration, errType string) {
	k := lmKey(c)
	k.errType = errType
	in.retry.Record(ctx, delay.Seconds(), in.opts(k).rec...)
}

func (in *instruments) recordLimitWait(ctx context.Context, c *call, d time.Duration, err error) {
	k := lmKey(c)
	if err != nil {
		k.errType = errorType(err)
	}
	in.limitWait.Record(ctx, d.Seconds(), in.opts(k).rec...)
}
