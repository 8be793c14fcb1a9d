package otel

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/dspytest"
	"github.com/godspy/dspy/streaming"
)

// A served program continues the caller's trace from its traceparent
// header: its root span is a child of the caller's span, in its trace.
func TestHandlerContinuesTraceparent(t *testing.T) {
	const (
		traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
		spanID  = "00f067aa0ba902b7"
	)
	for _, wrapped := range []bool{true, false} {
		h := newHarness(t)
		model := openaiLM(dspytest.Repeat(dspytest.ChatReply("answer", "Paris")))
		prog := streaming.MustStreamify(dspy.NewPredict("question -> answer", dspy.WithLM(model)),
			streaming.WithListeners(streaming.NewListener("answer")))
		handler := streaming.Handler(prog)
		if wrapped {
			handler = Handler(handler)
		}
		traced := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			handler.ServeHTTP(w, r.WithContext(dspy.WithSettings(r.Context(), dspy.WithTrace(h.trace()))))
		})
		srv := httptest.NewServer(traced)
		req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(`{"question": "Capital of France?"}`))
		req.Header.Set("Traceparent", "00-"+traceID+"-"+spanID+"-01")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		srv.Close()
		if !strings.Contains(string(body), "data: [DONE]") {
			t.Fatalf("response %q did not finish", body)
		}
		spans := h.spans.GetSpans()
		if len(spans) != 2 {
			t.Fatalf("wrapped %v: %d spans, want the Predict and its LM call", wrapped, len(spans))
		}
		for _, s := range spans {
			inTrace := s.SpanContext.TraceID().String() == traceID
			if inTrace != wrapped {
				t.Errorf("wrapped %v: span %s in trace %s, want the caller's trace %v", wrapped, s.Name, s.SpanContext.TraceID(), wrapped)
			}
			if s.Name == "dspy.Predict" && wrapped && (s.Parent.SpanID().String() != spanID || !s.Parent.IsRemote()) {
				t.Errorf("root span's parent = %v (remote %v), want the caller's span %s", s.Parent.SpanID(), s.Parent.IsRemote(), spanID)
			}
		}
	}
}
