package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godspy/dspy"
	dspyotel "github.com/godspy/dspy/otel"
	"github.com/google/go-cmp/cmp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

func TestTelemetryOffWithoutEnvironment(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
	}{
		{"nothing set", nil},
		{"only a service name", map[string]string{"OTEL_SERVICE_NAME": "x", "OTEL_RESOURCE_ATTRIBUTES": "a=b"}},
		{"SDK disabled", map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "console"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tel, err := startTelemetry(context.Background(), func(k string) string { return tt.env[k] })
			if tel != nil || err != nil {
				t.Errorf("startTelemetry = %v, %v; want nil, nil (no OpenTelemetry at all)", tel, err)
			}
			ctx := tel.context(context.Background())
			if telemetryOn(ctx) || ctx != context.Background() {
				t.Error("a nil telemetry changed the context")
			}
		})
	}
}

// collector is an OTLP/HTTP receiver of traces and metrics.
type collector struct {
	mu      sync.Mutex
	spans   []string
	service string
	metrics []string
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	c.mu.Lock()
	defer c.mu.Unlock()
	switch r.URL.Path {
	case "/v1/traces":
		var req coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		for _, rs := range req.ResourceSpans {
			for _, kv := range rs.Resource.GetAttributes() {
				if kv.Key == "service.name" {
					c.service = kv.Value.GetStringValue()
				}
			}
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					c.spans = append(c.spans, s.Name)
				}
			}
		}
		b, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Write(b)
	case "/v1/metrics":
		var req colmetricpb.ExportMetricsServiceRequest
		if err := proto.Unmarshal(body, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		for _, rm := range req.ResourceMetrics {
			for _, sm := range rm.ScopeMetrics {
				for _, m := range sm.Metrics {
					c.metrics = append(c.metrics, m.Name)
				}
			}
		}
		b, _ := proto.Marshal(&colmetricpb.ExportMetricsServiceResponse{})
		w.Write(b)
	default:
		http.NotFound(w, r)
	}
}

// `dspy ask` with the standard OTLP variables exports its spans and
// metrics (over OTLP/HTTP, the default protocol) before it exits.
func TestTelemetryAskExportsOTLP(t *testing.T) {
	col := &collector{}
	srv := httptest.NewServer(col)
	defer srv.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL)
	t.Setenv("OTEL_SERVICE_NAME", "dspy-test")
	t.Setenv("OTEL_TRACES_EXPORTER", "")
	t.Setenv("OTEL_METRICS_EXPORTER", "")
	// The OTEL_ variables from the environment (autoexport reads it), no
	// API keys: the demo LM.
	getenv := func(k string) string {
		if strings.HasPrefix(k, "OTEL_") {
			return os.Getenv(k)
		}
		return ""
	}
	code, _, stderr := runCmd(t, getenv, "ask", "--json", "--demo-delay", "0", "What causes ocean tides?")
	if code != exitOK {
		t.Fatalf("exit code %d; stderr %q", code, stderr)
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	sort.Strings(col.spans)
	want := []string{"chat", "dspy.ChainOfThought", "dspy.Predict predict"} // the demo LM names no model
	if d := cmp.Diff(want, col.spans); d != "" {
		t.Errorf("spans received when the command exited (-want +got):\n%s", d)
	}
	if col.service != "dspy-test" {
		t.Errorf("service.name %q, want OTEL_SERVICE_NAME's dspy-test", col.service)
	}
	if !contains(col.metrics, "gen_ai.client.operation.duration") {
		t.Errorf("metrics received: %q, want gen_ai.client.operation.duration", col.metrics)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// With telemetry on, `dspy serve` continues the caller's trace.
func TestTelemetryServeContinuesTraceparent(t *testing.T) {
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	pf := programFlags{module: "cot", signature: "question -> answer", lmName: "demo", adapter: "chat", timeout: time.Minute}
	prog, err := buildProgram(pf, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	defer tp.Shutdown(context.Background())
	s := newServer(prog, slog.New(slog.DiscardHandler), false)
	s.continueTraces = true
	h := s.handler()
	traced := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := dspy.WithSettings(r.Context(), dspy.WithTrace(dspyotel.NewTrace(dspyotel.WithTracerProvider(tp))))
		h.ServeHTTP(w, r.WithContext(ctx))
	})
	ts := httptest.NewServer(traced)
	defer ts.Close()
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/v1/stream", strings.NewReader(`{"question": "Why is the sky blue?"}`))
	req.Header.Set("Traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	got := spans.GetSpans()
	if len(got) == 0 {
		t.Fatal("no spans")
	}
	for _, sp := range got {
		if sp.SpanContext.TraceID().String() != traceID {
			t.Errorf("span %s in trace %s, want the caller's %s", sp.Name, sp.SpanContext.TraceID(), traceID)
		}
	}
}
