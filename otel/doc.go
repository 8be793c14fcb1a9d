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
// GenAI semantic conventions of semconv v1.41.0, the last release that
// carries them (in go.opentelemetry.io/otel/semconv/v1.41.0). A ReAct
// agent called with two tools reads:
//
//	invoke_agent                       the ReAct call (gen_ai.operation.name invoke_agent)
//	├─ dspy.ChainOfThought extract     a module inside the program: its type and path
//	│  └─ dspy.Predict extract.predict
//	│     └─ chat gpt-4o-mini          the LM request (CLIENT): model, parameters, usage, finish reasons
//	├─ step 0                          one iteration of the agent's loop
//	│  ├─ dspy.Predict react
//	│  │  └─ chat gpt-4o-mini
//	│  ├─ execute_tool search          a tool call: gen_ai.tool.name, gen_ai.tool.call.id
//	│  └─ execute_tool lookup          (status Error, error.type, when the tool failed)
//	└─ step 1
//	   └─ ...
//
// Any other module is a span named by its Go type ("dspy.ChainOfThought",
// "main.RAG"), followed by its path in the program (dspy.NamedPredictors)
// when it is not the outermost call. A streamed LM call's span carries
// gen_ai.request.stream, gen_ai.response.time_to_first_chunk and
// godspy.lm.chunks, and ends when the stream does, also when the consumer
// stops reading (status Error, error.type canceled). Retries and
// rate-limit waits are events of the LM span (godspy.lm.retry,
// godspy.lm.limit_wait).
//
// Metrics, all with gen_ai.operation.name, gen_ai.provider.name and
// gen_ai.request.model (and gen_ai.response.model for the LM calls'):
//
//	gen_ai.client.operation.duration             s        each LM call; error.type when it failed
//	gen_ai.client.token.usage                    {token}  input and output tokens (gen_ai.token.type), cache hits excluded
//	gen_ai.client.operation.time_to_first_chunk  s        each streamed LM call that got a chunk
//	godspy.lm.stream.chunks                      {chunk}  counter: chunks received by streamed calls
//	godspy.lm.cache.lookups                      {lookup} counter: calls through godspy's LM cache, godspy.lm.cache.result hit or miss
//	godspy.lm.retry.delay                        s        the wait before each retry, with the error.type it retries
//	godspy.lm.limit.wait                         s        the wait of each call through a rate-limited LM (lm.Limit)
//
// The histograms have the conventions' bucket boundaries (the waits:
// 1 ms to 60 s). gen_ai.client.operation.time_per_output_chunk is not
// reported: it is recorded per chunk, and the hooks see no chunks.
//
// error.type is one of: canceled (the context was cancelled: a consumer
// that stopped reading, a client that left), timeout (a deadline),
// context_window_exceeded, the HTTP status of a provider's error ("429",
// "500"), the provider's error type for an error event inside a stream
// ("overloaded_error"), stream_idle, malformed_response, refusal,
// parse_error, input_error, tool_arg_error, panic, no_lm, or _OTHER.
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
