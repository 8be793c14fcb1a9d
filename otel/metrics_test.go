package otel

import (
	"context"
	"sort"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/dspytest"
	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/streaming"
	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// point is one metric data point, summarised: its attributes, its count
// (histograms) and its sum (or a counter's value).
type point struct {
	Attrs string
	Count uint64
	Sum   float64
}

func setString(s attribute.Set) string {
	var kv []string
	for _, a := range s.ToSlice() {
		kv = append(kv, string(a.Key)+"="+a.Value.String())
	}
	sort.Strings(kv)
	return strings.Join(kv, " ")
}

// collect reads the metrics, by name. With sums false, sums of float
// histograms (durations) are left out: their values are timings.
func (h *harness) collect(t *testing.T, bounds map[string][]float64) map[string][]point {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := h.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string][]point{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != instrumentation {
			t.Errorf("scope %q, want %q", sm.Scope.Name, instrumentation)
		}
		for _, m := range sm.Metrics {
			var ps []point
			switch d := m.Data.(type) {
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					ps = append(ps, point{Attrs: setString(p.Attributes), Count: p.Count})
					bounds[m.Name] = p.Bounds
				}
			case metricdata.Histogram[int64]:
				for _, p := range d.DataPoints {
					ps = append(ps, point{Attrs: setString(p.Attributes), Count: p.Count, Sum: float64(p.Sum)})
					bounds[m.Name] = p.Bounds
				}
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					ps = append(ps, point{Attrs: setString(p.Attributes), Sum: float64(p.Value)})
				}
			default:
				t.Errorf("metric %s: unexpected data %T", m.Name, m.Data)
			}
			sort.Slice(ps, func(i, j int) bool { return ps[i].Attrs < ps[j].Attrs })
			out[m.Name+" ("+m.Unit+")"] = ps
		}
	}
	return out
}

// A blocking call that is retried once after a 429 and then cached (the
// same call again is a hit), and a streamed call, through dspy.NewLM's
// OpenAI client (rate-limited) against dspytest's server.
func TestMetrics(t *testing.T) {
	h := newHarness(t)
	srv := dspytest.NewServer(dspytest.WithChunkWords(1))
	defer srv.Close()
	const answer = "Paris is the capital of France."
	srv.Enqueue(
		dspytest.Answer{Fault: dspytest.FaultRateLimit},
		dspytest.Answer{Text: dspytest.ChatReply("answer", answer), Usage: &lm.Usage{PromptTokens: 60, CompletionTokens: 12, TotalTokens: 72}},
		dspytest.Answer{Text: dspytest.ChatReply("answer", answer), Usage: &lm.Usage{PromptTokens: 61, CompletionTokens: 12, TotalTokens: 73}},
	)
	model, err := dspy.NewLM("openai/gpt-4o-mini", dspy.WithBaseURL(srv.URL()), dspy.WithAPIKey("sk-test"),
		dspy.WithLimits(lm.Limits{RequestsPerMinute: 600}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := dspy.WithSettings(context.Background(), dspy.WithLM(model), dspy.WithTrace(h.trace()))
	p := dspy.NewPredict("question -> answer")
	for range 2 {
		if _, err := p.Call(ctx, dspy.Inputs{"question": "Capital of France?"}); err != nil {
			t.Fatal(err)
		}
	}
	prog := streaming.MustStreamify(p, streaming.WithListeners(streaming.NewListener("answer")))
	chunks := 0
	for _, err := range prog.Stream(ctx, dspy.Inputs{"question": "And of Italy?"}) {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range h.spans.GetSpans() {
		for _, kv := range s.Attributes {
			if kv.Key == chunksKey {
				chunks = int(kv.Value.AsInt64())
			}
		}
	}
	if chunks < 5 {
		t.Fatalf("the streamed call reported %d chunks, want one per word and more", chunks)
	}

	const base = "gen_ai.operation.name=chat gen_ai.provider.name=openai gen_ai.request.model=gpt-4o-mini"
	const resp = base + " gen_ai.response.model=gpt-4o-mini"
	bounds := map[string][]float64{}
	got := h.collect(t, bounds)
	want := map[string][]point{
		"gen_ai.client.operation.duration (s)": {{Attrs: resp, Count: 3}},
		"gen_ai.client.token.usage ({token})": {
			{Attrs: resp + " gen_ai.token.type=input", Count: 2, Sum: 121},
			{Attrs: resp + " gen_ai.token.type=output", Count: 2, Sum: 24},
		},
		"gen_ai.client.operation.time_to_first_chunk (s)": {{Attrs: resp, Count: 1}},
		"godspy.lm.stream.chunks ({chunk})":               {{Attrs: resp, Sum: float64(chunks)}},
		"godspy.lm.cache.lookups ({lookup})": {
			{Attrs: resp + " godspy.lm.cache.result=hit", Sum: 1},
			{Attrs: resp + " godspy.lm.cache.result=miss", Sum: 2},
		},
		"godspy.lm.retry.delay (s)": {{Attrs: base + " error.type=429", Count: 1}},
		"godspy.lm.limit.wait (s)":  {{Attrs: base, Count: 2}}, // the hit is answered before the limiter
	}
	// Attribute order in a set string is sorted, so error.type comes first.
	want["godspy.lm.retry.delay (s)"][0].Attrs = "error.type=429 " + base
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("metrics (-want +got):\n%s", d)
	}
	wantBounds := map[string][]float64{
		"gen_ai.client.operation.duration":            durationBuckets,
		"gen_ai.client.token.usage":                   tokenBuckets,
		"gen_ai.client.operation.time_to_first_chunk": durationBuckets,
		"godspy.lm.retry.delay":                       waitBuckets,
		"godspy.lm.limit.wait":                        waitBuckets,
	}
	if d := cmp.Diff(wantBounds, bounds); d != "" {
		t.Errorf("bucket boundaries (-want +got):\n%s", d)
	}

	// The retry is an event of the first call's LM span; the second call's
	// LM span says it was a cache hit.
	var got2 []string
	for _, s := range h.spans.GetSpans() {
		for _, e := range events(s) {
			got2 = append(got2, s.Name+": "+e)
		}
		for _, kv := range s.Attributes {
			if kv.Key == cacheHitKey {
				got2 = append(got2, s.Name+": cache hit "+kv.Value.String())
			}
		}
	}
	want2 := []string{
		"chat gpt-4o-mini: godspy.lm.retry error.type=429 godspy.retry.attempt=1 godspy.retry.delay=0.01",
		"chat gpt-4o-mini: cache hit true",
	}
	if d := cmp.Diff(want2, got2); d != "" {
		t.Errorf("span events and cache hits (-want +got):\n%s", d)
	}
}

// A call that waits a minute for a rate-limited LM's capacity says so on
// its span; a call that did not wait does not.
func TestLimitWaitEvent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		model := lm.Limit(openaiLM(dspytest.Repeat(dspytest.ChatReply("answer", "a"))), lm.Limits{RequestsPerMinute: 1})
		ctx := dspy.WithSettings(t.Context(), dspy.WithLM(model), dspy.WithTrace(h.trace()))
		p := dspy.NewPredict("question -> answer")
		for range 2 {
			if _, err := p.Call(ctx, dspy.Inputs{"question": "q"}); err != nil {
				t.Fatal(err)
			}
		}
		var got []string
		for _, s := range h.spans.GetSpans() {
			if s.Name == "chat gpt-4o-mini" {
				got = append(got, strings.Join(events(s), ", "))
			}
		}
		want := []string{"", "godspy.lm.limit_wait godspy.limit.wait=60"}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("events of the two LM spans (-want +got):\n%s", d)
		}
	})
}

// Calls whose spans are not sampled export no span but are measured all
// the same.
func TestUnsampledCallsAreMeasured(t *testing.T) {
	h := newHarness(t)
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans), sdktrace.WithSampler(sdktrace.NeverSample()))
	defer tp.Shutdown(context.Background())
	model := openaiLM(dspytest.NewScriptedLM().Push(dspytest.Reply{Text: dspytest.ChatReply("reasoning", "r", "answer", "a"), Usage: usage(7, 3)}))
	tr := NewTrace(WithTracerProvider(tp), WithMeterProvider(h.mp), WithContentCapture(true))
	ctx := dspy.WithSettings(context.Background(), dspy.WithLM(model), dspy.WithTrace(tr))
	if _, err := dspy.NewChainOfThought("question -> answer", dspy.WithTemperature(0.5)).Call(ctx, dspy.Inputs{"question": "q"}); err != nil {
		t.Fatal(err)
	}
	if n := len(spans.GetSpans()); n != 0 {
		t.Errorf("%d spans exported, want none (never sampled)", n)
	}
	got := h.collect(t, map[string][]float64{})
	const resp = "gen_ai.operation.name=chat gen_ai.provider.name=openai gen_ai.request.model=gpt-4o-mini gen_ai.response.model=scripted"
	want := []point{
		{Attrs: resp + " gen_ai.token.type=input", Count: 1, Sum: 7},
		{Attrs: resp + " gen_ai.token.type=output", Count: 1, Sum: 3},
	}
	if d := cmp.Diff(want, got["gen_ai.client.token.usage ({token})"]); d != "" {
		t.Errorf("token usage (-want +got):\n%s", d)
	}
}
