package otel

import (
	"net/http"

	"go.opentelemetry.io/otel/propagation"
)

// HandlerOption configures Handler.
type HandlerOption interface{ applyHandler(*handlerConfig) }

type handlerConfig struct {
	prop propagation.TextMapPropagator
}

type handlerOptionFunc func(*handlerConfig)

func (f handlerOptionFunc) applyHandler(c *handlerConfig) { f(c) }

// WithPropagator sets how Handler reads the caller's trace context from the
// request headers (default: W3C Trace Context and Baggage).
func WithPropagator(p propagation.TextMapPropagator) HandlerOption {
	return handlerOptionFunc(func(c *handlerConfig) { c.prop = p })
}

// Handler returns h with the caller's trace continued: the trace context
// of the request's headers (a W3C traceparent) becomes the parent of the
// spans of the run h serves, so a program served with streaming.Handler
// shows up inside its caller's trace:
//
//	http.Handle("/v1/stream", otel.Handler(streaming.Handler(prog)))
//
// It starts no span of its own. For HTTP server spans and metrics, wrap
// with go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp
// instead, which continues the trace the same way.
func Handler(h http.Handler, opts ...HandlerOption) http.Handler {
	c := handlerConfig{prop: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})}
	for _, o := range opts {
		o.applyHandler(&c)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := c.prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}
