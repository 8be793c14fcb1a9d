package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/godspy/dspy"
	dspyotel "github.com/godspy/dspy/otel"
	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
)

// telemetry is OpenTelemetry for one run of the command, set up from the
// standard OTEL_* environment variables by the OpenTelemetry project's own
// exporter selection (contrib/exporters/autoexport):
//
//	OTEL_TRACES_EXPORTER, OTEL_METRICS_EXPORTER   otlp, console, none (metrics also prometheus)
//	OTEL_EXPORTER_OTLP_ENDPOINT (and _TRACES_, _METRICS_), OTEL_EXPORTER_OTLP_PROTOCOL, _HEADERS, ...
//	OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES  (service.name defaults to "dspy")
//	OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true   prompts and replies in spans
//
// Traces are on when OTEL_TRACES_EXPORTER or an OTLP endpoint for traces
// is set, metrics likewise; with none of them set (or OTEL_SDK_DISABLED=true)
// nothing of OpenTelemetry runs.
type telemetry struct {
	tp *sdktrace.TracerProvider
	mp *sdkmetric.MeterProvider
}

type telemetryKey struct{}

// startTelemetry returns the run's telemetry, nil when the environment
// asks for none.
func startTelemetry(ctx context.Context, getenv func(string) string) (*telemetry, error) {
	if v, _ := strconv.ParseBool(getenv("OTEL_SDK_DISABLED")); v {
		return nil, nil
	}
	set := func(names ...string) bool {
		for _, n := range names {
			if getenv(n) != "" {
				return true
			}
		}
		return false
	}
	traces := set("OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
	metrics := set("OTEL_METRICS_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")
	if !traces && !metrics {
		return nil, nil
	}
	// Later detectors win: the environment's service name over the default.
	res, err := resource.New(ctx,
		resource.WithAttributes(semconv.ServiceName("dspy")),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv())
	if err != nil {
		return nil, fmt.Errorf("OpenTelemetry resource: %w", err)
	}
	t := &telemetry{}
	if traces {
		exp, err := autoexport.NewSpanExporter(ctx)
		if err != nil {
			return nil, fmt.Errorf("OpenTelemetry trace exporter (OTEL_TRACES_EXPORTER): %w", err)
		}
		t.tp = sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
		otel.SetTracerProvider(t.tp)
	}
	if metrics {
		reader, err := autoexport.NewMetricReader(ctx)
		if err != nil {
			t.shutdown(ctx)
			return nil, fmt.Errorf("OpenTelemetry metric reader (OTEL_METRICS_EXPORTER): %w", err)
		}
		t.mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader), sdkmetric.WithResource(res))
		otel.SetMeterProvider(t.mp)
	}
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	return t, nil
}

// context returns ctx with the trace installed for the run's calls.
func (t *telemetry) context(ctx context.Context) context.Context {
	if t == nil {
		return ctx
	}
	var opts []dspyotel.Option
	if t.tp != nil {
		opts = append(opts, dspyotel.WithTracerProvider(t.tp))
	}
	if t.mp != nil {
		opts = append(opts, dspyotel.WithMeterProvider(t.mp))
	}
	ctx = context.WithValue(ctx, telemetryKey{}, t)
	return dspy.WithSettings(ctx, dspy.WithTrace(dspyotel.NewTrace(opts...)))
}

// telemetryOn reports whether ctx's run has telemetry (serve then continues
// callers' traces).
func telemetryOn(ctx context.Context) bool {
	t, _ := ctx.Value(telemetryKey{}).(*telemetry)
	return t != nil
}

// shutdown flushes what is buffered and stops the exporters: the spans of
// a run reach the collector before the command exits. It waits at most
// five seconds.
func (t *telemetry) shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	var errs []error
	if t.tp != nil {
		errs = append(errs, t.tp.Shutdown(ctx))
	}
	if t.mp != nil {
		errs = append(errs, t.mp.Shutdown(ctx))
	}
	return errors.Join(errs...)
}
