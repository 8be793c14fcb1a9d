package otel

import (
	"context"
	"fmt"
	"iter"
	"sort"
	"strings"
	"testing"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/lm"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// harness is an SDK tracer and meter provider that keep what they record
// in memory: spans are exported as they end.
type harness struct {
	spans  *tracetest.InMemoryExporter
	tp     *sdktrace.TracerProvider
	reader *sdkmetric.ManualReader
	mp     *sdkmetric.MeterProvider
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{spans: tracetest.NewInMemoryExporter(), reader: sdkmetric.NewManualReader()}
	h.tp = sdktrace.NewTracerProvider(sdktrace.WithSyncer(h.spans))
	h.mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(h.reader))
	t.Cleanup(func() {
		_ = h.tp.Shutdown(context.Background())
		_ = h.mp.Shutdown(context.Background())
	})
	return h
}

// trace returns the godspy hooks over the harness's providers.
func (h *harness) trace(opts ...Option) *dspy.Trace {
	return NewTrace(append([]Option{WithTracerProvider(h.tp), WithMeterProvider(h.mp)}, opts...)...)
}

// node is a span in a tree, with what the tests assert: its name, kind
// (when not internal), status, attributes (volatile values replaced by
// "*"), events and children (sorted by name, so that concurrent siblings
// compare deterministically).
type node struct {
	Name     string
	Kind     string            `json:",omitempty"`
	Status   string            `json:",omitempty"`
	Attrs    map[string]string `json:",omitempty"`
	Events   []string          `json:",omitempty"`
	Children []node            `json:",omitempty"`
}

// volatile attributes: their values change from run to run.
var volatile = map[attribute.Key]bool{
	"gen_ai.response.time_to_first_chunk": true,
	"godspy.limit.wait":                   true,
}

// tree arranges the spans by parent. Spans whose parent is not among them
// are roots.
func tree(spans tracetest.SpanStubs) []node {
	byParent := map[trace.SpanID][]tracetest.SpanStub{}
	ids := map[trace.SpanID]bool{}
	for _, s := range spans {
		ids[s.SpanContext.SpanID()] = true
	}
	var roots []tracetest.SpanStub
	for _, s := range spans {
		if p := s.Parent.SpanID(); s.Parent.IsValid() && ids[p] {
			byParent[p] = append(byParent[p], s)
		} else {
			roots = append(roots, s)
		}
	}
	var build func([]tracetest.SpanStub) []node
	build = func(ss []tracetest.SpanStub) []node {
		var out []node
		for _, s := range ss {
			n := node{Name: s.Name}
			if s.SpanKind != trace.SpanKindInternal {
				n.Kind = s.SpanKind.String()
			}
			switch s.Status.Code {
			case codes.Error:
				n.Status = "Error: " + s.Status.Description
			case codes.Ok:
				n.Status = "Ok"
			}
			for _, kv := range s.Attributes {
				if n.Attrs == nil {
					n.Attrs = map[string]string{}
				}
				v := kv.Value.String()
				if volatile[kv.Key] {
					v = "*"
				}
				n.Attrs[string(kv.Key)] = v
			}
			n.Events = events(s)
			n.Children = build(byParent[s.SpanContext.SpanID()])
			out = append(out, n)
		}
		sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
		return out
	}
	return build(roots)
}

// events lists a span's events as "name key=value ..." (keys sorted).
func events(s tracetest.SpanStub) []string {
	var out []string
	for _, e := range s.Events {
		var as []string
		for _, kv := range e.Attributes {
			as = append(as, string(kv.Key)+"="+kv.Value.String())
		}
		sort.Strings(as)
		out = append(out, e.Name+" "+strings.Join(as, " "))
	}
	return out
}

// identLM gives a scripted LM a provider and model name (as lm/openai's
// client has), and calls inside with the context of each request, where
// an instrumented HTTP transport would start its span.
type identLM struct {
	lm.LM
	provider, model string
	inside          func(ctx context.Context)
}

func (m identLM) Provider() string { return m.provider }
func (m identLM) Model() string    { return m.model }

func (m identLM) Generate(ctx context.Context, req *lm.Request) (*lm.Response, error) {
	if m.inside != nil {
		m.inside(ctx)
	}
	return m.LM.Generate(ctx, req)
}

func (m identLM) Stream(ctx context.Context, req *lm.Request) iter.Seq2[lm.Chunk, error] {
	if m.inside != nil {
		m.inside(ctx)
	}
	return m.LM.Stream(ctx, req)
}

func openaiLM(inner lm.LM) identLM {
	return identLM{LM: inner, provider: "openai", model: "gpt-4o-mini"}
}

// usage returns a Usage of p prompt and c completion tokens.
func usage(p, c int) lm.Usage {
	return lm.Usage{PromptTokens: p, CompletionTokens: c, TotalTokens: p + c}
}

// attrs builds an expected attribute map from key, value pairs.
func attrs(kv ...string) map[string]string {
	if len(kv)%2 != 0 {
		panic(fmt.Sprintf("attrs: odd number of arguments: %q", kv))
	}
	m := map[string]string{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// merge returns the union of attribute maps (later ones win).
func merge(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}
