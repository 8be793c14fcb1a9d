// Package otel traces and measures godspy programs with OpenTelemetry: a
// span for every module, LM, tool and agent-step call, and the GenAI client
// metrics, the way Go services are already observed.
//
// Install it like any trace:
//
//	dspy.Configure(dspy.WithTrace(otel.NewTrace(
//		otel.WithTracerProvider(tp), otel.WithMeterProvider(mp))))
//
// With no options it uses the global providers (go.opentelemetry.io/otel's
// GetTracerProvider and GetMeterProvider). Spans follow the OpenTelemetry
// GenAI semantic conventions of semconv v1.41.0 (the last release that
// carries them in the Go semconv package):
//
//	dspy.ReAct                         module call (root: its type)
//	└─ invoke_agent                    a ReAct call is the agent span instead
//	   ├─ step 0                       one iteration of the agent's loop
//	   │  ├─ dspy.Predict react        a module inside the program: type and path
//	   │  │  └─ chat gpt-4o-mini       the LM request (CLIENT)
//	   │  ├─ execute_tool search       a tool call
//	   │  └─ execute_tool lookup
//	   └─ dspy.ChainOfThought extract
//	      └─ dspy.Predict extract.predict
//	         └─ chat gpt-4o-mini
//
// Spans live in the context of the call they describe (dspy.Trace.Context),
// so work a call does on other goroutines (ACall, Gather, Batch, parallel
// tools) is parented correctly, and an instrumented HTTP client inside a
// tool, or in the LM's transport, is parented to the tool or LM span.
//
// Prompts, replies, tool arguments and tool results are recorded only when
// asked (WithContentCapture, or OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true);
// API keys never are.
//
// To continue a caller's trace in a served program, wrap the handler:
//
//	http.Handle("/v1/stream", otel.Handler(streaming.Handler(prog)))
package otel
