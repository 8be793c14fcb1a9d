package streaming

import (
	"context"
	"strconv"
	"time"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/internal/streamhook"
	"github.com/godspy/dspy/lm"
)

// The events below describe a run's structure: its LM calls, tool calls and
// agent steps, in the order they happen, for a UI that draws a timeline.
// A stream carries them when the program was streamified WithTraceEvents
// (UIMessageHandler always asks for them). Custom events, which a module or
// tool sends with Emit, are delivered in every stream. Each event names the
// predictor it concerns (PredictName, a path as in NamedPredictors; "" when
// no predictor is known) and a CallID, the trace hook id of the call it is
// about.

// LMStart reports an LM call that is starting.
type LMStart struct {
	PredictName string
	// CallID is the LM call's id: the CallID of its StreamResponse events.
	CallID uint64
	// Model is the model asked for: the request's, else the LM's own.
	Model string
}

// LMEnd reports an LM call that ended.
type LMEnd struct {
	PredictName string
	CallID      uint64
	// Model is the model that answered, as the reply names it, else as
	// asked for.
	Model string
	// CacheHit reports a reply served from the LM cache (Usage is then zero).
	CacheHit bool
	// FirstChunk is the time from the request to its first chunk (time to
	// first token); Duration the time to its end.
	FirstChunk time.Duration
	Duration   time.Duration
	// FinishReason is the first choice's: "stop", "length", "tool_calls", ...
	FinishReason string
	Usage        lm.Usage
	// Err is the call's error, nil on success. An agent may go on after it
	// (ReAct retries a prompt that overflowed the context window).
	Err error
}

// ToolCallStart reports a tool call that is starting, with its arguments.
type ToolCallStart struct {
	// PredictName is the path of the predictor whose reply asked for the
	// call (ReAct's "react"), "" for a tool called outside an agent.
	PredictName string
	// CallID is the tool call's trace hook id.
	CallID uint64
	// ToolCallID is the LM's id for the call (native tool calling), or one
	// made from CallID ("call_" and its digits) when the LM gave none, as in
	// ReAct's text protocol. Every event of one tool call has the same.
	ToolCallID string
	ToolName   string
	Args       map[string]any
}

// ToolCallDelta is a piece of a tool call's arguments as the LM writes them
// (native tool calling): the ArgsDelta of one ToolCallID concatenate to the
// arguments' JSON. The first delta of a call may be empty: it says which
// tool is being called as soon as the LM has named it. ToolCallStart follows
// once the reply has ended and the tool runs.
type ToolCallDelta struct {
	PredictName string
	// CallID is the id of the LM call writing the arguments.
	CallID     uint64
	ToolCallID string
	ToolName   string
	ArgsDelta  string
}

// ToolCallEnd reports a tool call that ended: its result or its error.
type ToolCallEnd struct {
	PredictName string
	CallID      uint64
	ToolCallID  string
	ToolName    string
	Result      any
	Err         error
	Duration    time.Duration
}

// StepStart reports an agent iteration (a ReAct step) that is starting: the
// LM call that picks tools and the tool calls it asks for follow, then
// StepEnd.
type StepStart struct {
	// PredictName is the path of the agent's predictor ("react").
	PredictName string
	// CallID is the step's trace hook id.
	CallID uint64
	// Index counts the agent's iterations in this call, from 0.
	Index int
}

// StepEnd reports an agent iteration that ended.
type StepEnd struct {
	PredictName string
	CallID      uint64
	Index       int
	// Done reports that the agent finished with this step.
	Done bool
	Err  error
}

// Custom is a payload a module or tool sent into the stream with Emit.
type Custom struct {
	// PredictName and CallID locate the emitter: the innermost hooked call
	// of its context (a tool call inside an agent has its agent's
	// predictor path).
	PredictName string
	CallID      uint64
	// Name says what the payload is ("progress", "source", ...).
	Name string
	Data any
}

func (*LMStart) isEvent()       {}
func (*LMEnd) isEvent()         {}
func (*ToolCallStart) isEvent() {}
func (*ToolCallDelta) isEvent() {}
func (*ToolCallEnd) isEvent()   {}
func (*StepStart) isEvent()     {}
func (*StepEnd) isEvent()       {}
func (*Custom) isEvent()        {}

// WithTraceEvents adds the run's structure to its streams: LMStart and
// LMEnd around each LM call, ToolCallStart, ToolCallDelta and ToolCallEnd
// for tool calls, StepStart and StepEnd around each agent iteration. Every
// LM call of such a run streams, also for predictors no listener hears, so
// that LMEnd has the time to first token and native tool calls stream
// their arguments.
//
// Without it a stream has only DSPy's events (StreamResponse,
// StatusMessage, Final) and Custom ones.
func WithTraceEvents() Option {
	return optionFunc(func(p *Program) { p.traceEvents = true })
}

// Emit sends a Custom event with name and data into the stream running in
// ctx: a tool or module reports progress, sources, intermediate results.
// It returns when the consumer has the event or the run is cancelled.
// Outside a stream it does nothing. Call it while the call it reports on
// runs, on its goroutine (as trace hooks run): a Predict or ChainOfThought
// streams on the consumer's own goroutine, with nothing between them.
func Emit(ctx context.Context, name string, data any) {
	r, ok := streamhook.From[*dspy.Predict, *dspy.Signature, dspy.Adapter](ctx).(*run)
	if !ok {
		return
	}
	ev := &Custom{Name: name, Data: data}
	if info, ok := dspy.CurrentCall(ctx); ok {
		ev.CallID = info.ID
		ev.PredictName = r.pathOfCall(info.ID, info.ParentID)
	}
	_ = r.send(ev) // fails only when the run is cancelled
}

// textToolCallID makes the id of a tool call the LM gave none for.
func textToolCallID(hookID uint64) string {
	return "call_" + strconv.FormatUint(hookID, 10)
}

// modelOf names the model of an LM call: the request's, else the LM's.
func modelOf(m lm.LM, req *lm.Request) string {
	if req != nil && req.Model != "" {
		return req.Model
	}
	_, model := lm.Identify(m)
	return model
}
