// Package dspy is DSPy for Go: declare what a language-model step takes and
// produces (a Signature), run it with a module (Predict, ChainOfThought,
// ReAct), and compose modules into programs that call the LM concurrently and
// stream their answers.
//
// Every module can be called blocking with Call, or started with ACall and
// awaited later through a Future; Gather awaits several in order and Batch
// runs many inputs with bounded concurrency. Settings (the LM, the adapter,
// the trace hooks) travel in the context, so they follow a request across
// goroutines.
//
// The lm package holds the provider-neutral LM types; NewLM picks a provider
// from a "provider/model" string. Package streaming turns any program into a
// stream of field chunks, status messages and the final Prediction.
//
// # Options
//
// Every option is named WithX, and its type says where it applies: Option
// (settings: Configure, WithSettings), PredictOption (one module),
// LMOption (NewLM), CallOption (WithCallOptions), and the options of
// BestOfN, Refine and ReAct. An option that serves several places has a
// named type listing them: ModuleOption (WithLM, WithAdapter: settings or
// one module), RequestOption (WithTemperature, WithMaxTokens: one module,
// one LM, or the calls under a context), LMHistoryOption (WithLMHistory:
// settings or one LM) and AttemptOption (WithFailCount: BestOfN or Refine).
//
// # Panics
//
// A panic on a goroutine godspy started (a Future's, a Batch item's, a
// stream's run, ReAct's parallel tool calls) never takes the process down:
// it becomes a *PanicError delivered where the result would have been.
//
// # Where things are
//
// Each DSPy concept has its own file, named for it:
//
//	signature.go            Signature, Field, ParseSignature, SignatureOf, SignatureError
//	type.go                 Type and Kind: str, int, list[T], dict[K, V], Literal[...], Any
//	example.go              Inputs, Example
//	prediction.go           Prediction, CompletionsOf
//	module.go               Module, Call, ACall
//	future.go               Future, Go, Gather
//	batch.go                Batch and its options and results
//	parallel.go             Parallel
//	predict.go              Predict and PredictOption (WithDemos, WithN, WithStop, ...)
//	chainofthought.go       ChainOfThought
//	react.go                ReAct, Step, its options
//	tool.go                 Tool, NewTool, NewToolFunc, ToolArgError
//	bestofn.go              BestOfN
//	refine.go               Refine
//	reward.go               RewardFunc, WithFailCount, ErrTooManyFailures
//	multichaincomparison.go MultiChainComparison
//	majority.go             Majority
//	normalize.go            NormalizeText
//	adapter.go              Adapter, StreamingAdapter, FieldParser, FallbackAdapter
//	adapter_chat.go         ChatAdapter
//	adapter_json.go         JSONAdapter, ResponseFormatFor
//	adapter_xml.go          XMLAdapter
//	settings.go             Configure, WithSettings, Option, WithLM, WithAdapter, WithTrace, ...
//	calloptions.go          WithCallOptions, CallOption, RequestOption (WithTemperature, WithMaxTokens)
//	lm.go                   NewLM, LMOption, WithCache, provider presets
//	lmhistory.go            WithLMHistory, InspectHistory, LMHistory: the log of LM calls
//	trace.go                Trace and its hook infos, CurrentCall
//	namedpredictors.go      NamedPredictors, Submodules: predictor paths
//	errors.go               ErrNoLM, InputError, ParseError, PanicError
//
// format.go and coerce.go hold what the adapters share: writing values into
// prompts and reading replies back into field types.
package dspy
