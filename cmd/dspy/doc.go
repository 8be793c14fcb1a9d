// Command dspy runs a godspy program and streams it: in the terminal with
// "dspy ask", or over HTTP with a web page with "dspy serve".
//
// Install it with
//
//	go install github.com/godspy/dspy/cmd/dspy@latest
//
// or run it from a clone with "go run ./cmd/dspy".
//
// # dspy ask
//
//	dspy ask [flags] "question"
//
// runs the program once and streams it: status lines (dimmed on a
// terminal, plain when piped), each streamed output field under a header as
// its tokens arrive, then the final fields, the token usage and the timing.
// With --json it prints one JSON object per line instead, one per event:
//
//	{"event":"lm","lm":"the demo LM","demo":true,"message":"..."}
//	{"event":"status","message":"Thinking step by step..."}
//	{"event":"chunk","predict_name":"predict","signature_field_name":"answer","chunk":"Oce","is_last_chunk":false}
//	{"event":"prediction","prediction":{"reasoning":"...","answer":"..."},"usage":{...},"first_token_ms":310}
//	{"event":"error","error":"cancelled","cancelled":true}
//	{"event":"done","ok":true,"elapsed_ms":3980}
//
// "lm" comes first and "done" last; "prediction" or "error" comes just
// before "done".
//
// Ctrl-C cancels the run and its LM request; the exit code is then 130.
// Other exit codes: 0 success, 1 the run failed, 2 a bad command line.
//
// # dspy serve
//
//	dspy serve [flags] [--addr 127.0.0.1:8080] [--debug]
//
// serves the same program: POST a JSON object of inputs to /v1/stream to
// get server-sent events (docs/sse.md is the format: status, chunk, the
// trace events of LM calls, tool calls and agent steps, prediction, error,
// then "data: [DONE]"); POST useChat's request to /api/chat to get the
// Vercel AI SDK's UI message stream (streaming.UIMessageHandler), so a
// React page with useChat needs no glue; GET / for a chat page that draws
// each answer as a timeline (thoughts, tool calls and their results, the
// answer as Markdown), keeps the conversation and can stop a run; GET
// /v1/info for the program's description. serve's default signature is
// "question, history: History -> answer", so that a follow-up question has
// the earlier turns. On a loopback address the error a client gets names
// the cause (a refused connection to the provider, say); elsewhere only
// the user-facing message goes out. Streams are resumable: a run goes on
// when its client goes away ("client left" in the log), and GET
// /v1/stream/ID with Last-Event-ID reads the rest; POST
// /v1/stream/ID/stop stops it ("run cancelled"). The page resumes after a
// reload mid-answer and its Stop button sends the stop request. With
// --debug, GET /debug/stats returns the counts of runs started, completed
// and cancelled. SIGINT or SIGTERM shuts the server down gracefully: runs
// still going end with an error saying so.
//
// # Running a fleet
//
//	dspy serve --redis redis://host:6379/0 [--rpm 600] [--tpm 200000] [--cache redis|memory|off] [--max-runs 1000]
//
// runs one replica of several behind a load balancer: with --redis a
// stream started on one replica can be resumed on any other and stopped
// from any other, a replica killed mid-stream is known to the clients
// following it on others within 10 s (an error event, never a hang),
// --rpm and --tpm are one quota for the whole fleet, and the LM cache is
// memory in front of Redis, shared by the fleet. Redis must answer when
// serve starts. If it fails later, streams in progress go on for the
// clients that started them (they can no longer be resumed elsewhere), new
// ones are served without resumption, calls skip the cache, and each
// replica keeps to the whole quota on its own (lm/redislimit's fallback),
// so the fleet together may exceed it until Redis is back. Without
// --redis, streams are
// resumable within the process, and --rpm and --tpm are its own.
//
// With --serve-mcp, serve also serves the program as an MCP tool over
// streamable HTTP at /mcp (named by --tool-name, default "ask"), for
// agents and IDEs that speak the Model Context Protocol.
//
// # dspy mcp
//
//	dspy mcp [flags] [--tool-name ask]
//
// serves the program as an MCP tool over stdin and stdout, as Claude
// Desktop and IDEs start a local server: its signature's inputs are the
// tool's arguments, the prediction's fields its structured content.
// Messages for a person go to stderr.
//
// # dspy tools
//
//	dspy tools [--tools calculator,clock] [--mcp COMMAND]... [--json]
//
// lists the tools --module react would have, with their JSON schemas: the
// built-in ones and those of each MCP server.
//
// # The program
//
// Both commands take the same flags:
//
//	--module predict|cot|react   the module (default cot, ChainOfThought)
//	--signature "question -> answer"   (serve: "question, history: History -> answer")
//	--lm provider/model          e.g. openai/gpt-4o-mini, ollama_chat/llama3.2, or demo
//	--base-url URL               an OpenAI-compatible server's API root (with --lm)
//	--adapter chat|json|xml
//	--tools calculator,clock     the tools of --module react
//	--mcp "COMMAND ARGS"         an MCP server's tools too (repeatable; or a URL)
//	--timeout 10m                the longest a run may take
//	--demo-delay 15ms            the demo LM's pause between chunks
//
// ask also takes --input name=value for inputs other than the question.
// The calculator evaluates arithmetic with the parser of internal/calc,
// never by executing text; the clock tells the date and time.
//
// # Which LM
//
// --lm if given; else DSPY_LM; else the first provider whose API key is set
// (OPENAI_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY, GROQ_API_KEY,
// OPENROUTER_API_KEY, DEEPSEEK_API_KEY); else an offline demo LM, which
// writes scripted, field-formatted text for whatever the prompt asks and
// streams it at a human pace, so the mechanics can be seen without a
// model. The first line of output says which LM is used, and for the demo
// LM how to use a real one. A .env file in the working directory is read
// first (KEY=VALUE lines, as python-dotenv's load_dotenv does); it never
// overrides a variable that is already set.
//
// # OpenTelemetry
//
// Both commands trace and measure the run with package otel when the
// standard OpenTelemetry variables ask for it (exporters chosen by
// go.opentelemetry.io/contrib/exporters/autoexport):
//
//	OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 dspy ask "Why is the sky blue?"
//	OTEL_TRACES_EXPORTER=console dspy ask "Why is the sky blue?"
//
// Traces are on when OTEL_TRACES_EXPORTER or an OTLP endpoint
// (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set,
// metrics when OTEL_METRICS_EXPORTER or an OTLP endpoint (..._METRICS_...)
// is; OTEL_SERVICE_NAME names the service (default dspy), and
// OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true records prompts
// and replies. With none of them set, or OTEL_SDK_DISABLED=true, nothing of
// OpenTelemetry runs. Spans are flushed before the command exits; dspy
// serve continues the trace of a request's traceparent header.
package main
