package otel

import (
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"sync"
	"testing"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/dspytest"
	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// receiver is an OTLP/HTTP trace endpoint that keeps the spans it is sent.
type receiver struct {
	mu    sync.Mutex
	spans []*tracepb.Span
	scope string
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.URL.Path != "/v1/traces" || req.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "want a protobuf POST to /v1/traces", http.StatusBadRequest)
		return
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return
	}
	var ex coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(body, &ex); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	for _, rs := range ex.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			r.scope = ss.Scope.GetName()
			r.spans = append(r.spans, ss.Spans...)
		}
	}
	r.mu.Unlock()
	b, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(b)
}

// The spans of a ChainOfThought call go over the real OTLP/HTTP wire
// (otlptracehttp's protobuf) to a local receiver, which decodes them.
func TestExportOTLP(t *testing.T) {
	recv := &receiver{}
	srv := httptest.NewServer(recv)
	defer srv.Close()
	exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(srv.URL+"/v1/traces"))
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp))
	model := openaiLM(dspytest.NewScriptedLM().Push(dspytest.Reply{
		Text: dspytest.ChatReply("reasoning", "r", "answer", "Paris"), Usage: usage(52, 11),
	}))
	ctx := dspy.WithSettings(context.Background(), dspy.WithLM(model), dspy.WithTrace(NewTrace(WithTracerProvider(tp))))
	if _, err := dspy.NewChainOfThought("question -> answer").Call(ctx, dspy.Inputs{"question": "q"}); err != nil {
		t.Fatal(err)
	}
	if err := tp.Shutdown(context.Background()); err != nil { // flushes the batch
		t.Fatal(err)
	}

	type span struct {
		Name, Parent, Kind string
		Attrs              map[string]string
	}
	recv.mu.Lock()
	defer recv.mu.Unlock()
	names := map[string]string{}
	for _, s := range recv.spans {
		names[hex.EncodeToString(s.SpanId)] = s.Name
	}
	var got []span
	for _, s := range recv.spans {
		sp := span{Name: s.Name, Parent: names[hex.EncodeToString(s.ParentSpanId)], Kind: s.Kind.String(), Attrs: map[string]string{}}
		for _, kv := range s.Attributes {
			switch v := kv.Value.Value.(type) {
			case *commonpb.AnyValue_StringValue:
				sp.Attrs[kv.Key] = v.StringValue
			case *commonpb.AnyValue_IntValue:
				sp.Attrs[kv.Key] = strconv.FormatInt(v.IntValue, 10)
			}
		}
		got = append(got, sp)
	}
	sort.Slice(got, func(i, j int) bool { return got[i].Name < got[j].Name })
	want := []span{
		{Name: "chat gpt-4o-mini", Parent: "dspy.Predict predict", Kind: "SPAN_KIND_CLIENT", Attrs: map[string]string{
			"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini",
			"gen_ai.response.id": "scripted", "gen_ai.response.model": "scripted",
			"gen_ai.usage.input_tokens": "52", "gen_ai.usage.output_tokens": "11",
		}},
		{Name: "dspy.ChainOfThought", Kind: "SPAN_KIND_INTERNAL", Attrs: map[string]string{}},
		{Name: "dspy.Predict predict", Parent: "dspy.ChainOfThought", Kind: "SPAN_KIND_INTERNAL", Attrs: map[string]string{
			"godspy.module.path": "predict",
		}},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("spans received over OTLP/HTTP (-want +got):\n%s", d)
	}
	if recv.scope != instrumentation {
		t.Errorf("instrumentation scope %q, want %q", recv.scope, instrumentation)
	}
}
