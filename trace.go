package dspy

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/godspy/dspy/lm"
)

// Trace is a set of hooks that observe a program run: DSPy's callbacks, in
// the shape of net/http/httptrace.ClientTrace. Every field is optional.
// Install a Trace with WithTrace (Configure or WithSettings); several traces
// compose and fire in the order they were installed.
//
// Hooks run synchronously on the goroutine that does the work, so they see
// events in order and must be quick. A hook that panics is recovered and
// logged; it never breaks the program. Hooks of concurrent calls run
// concurrently; a hook that keeps state must lock it.
type Trace struct {
	ModuleStart func(ctx context.Context, info ModuleStartInfo)
	ModuleEnd   func(ctx context.Context, info ModuleEndInfo)
	LMStart     func(ctx context.Context, info LMStartInfo)
	LMEnd       func(ctx context.Context, info LMEndInfo)
	FormatStart func(ctx context.Context, info FormatStartInfo)
	FormatEnd   func(ctx context.Context, info FormatEndInfo)
	ParseStart  func(ctx context.Context, info ParseStartInfo)
	ParseEnd    func(ctx context.Context, info ParseEndInfo)
	ToolStart   func(ctx context.Context, info ToolStartInfo)
	ToolEnd     func(ctx context.Context, info ToolEndInfo)
	// StepStart and StepEnd bracket one iteration of an agent's loop
	// (ReAct): the LM call that picks tools and the tool calls it asked
	// for, which are nested in the step (their ParentID is its ID).
	StepStart func(ctx context.Context, info StepStartInfo)
	StepEnd   func(ctx context.Context, info StepEndInfo)

	// Context, when set, returns the context a starting call runs with. It
	// is called as a module, LM, tool or step call starts, before the
	// call's Start hook, with that hook's info (a ModuleStartInfo,
	// LMStartInfo, ToolStartInfo or StepStartInfo); the call's hooks and
	// everything the call does, on any goroutine, get the context it
	// returns. This is how a tracer makes its span the parent of what the
	// call runs (the LM's HTTP request, an instrumented client in a tool),
	// as gRPC's stats.Handler.TagRPC does. It must return ctx or a context
	// derived from it; nil keeps ctx. The Format hooks of an LM call fire
	// before its LMStart and so see the context before it.
	Context func(ctx context.Context, info StartInfo) context.Context
}

// StartInfo is what Trace.Context learns of a starting call: a
// ModuleStartInfo, LMStartInfo, ToolStartInfo or StepStartInfo (use a type
// switch).
type StartInfo interface {
	// Call returns the call's identity.
	Call() CallInfo
	startInfo()
}

func (i ModuleStartInfo) Call() CallInfo { return i.CallInfo }
func (i LMStartInfo) Call() CallInfo     { return i.CallInfo }
func (i ToolStartInfo) Call() CallInfo   { return i.CallInfo }
func (i StepStartInfo) Call() CallInfo   { return i.CallInfo }
func (ModuleStartInfo) startInfo()       {}
func (LMStartInfo) startInfo()           {}
func (ToolStartInfo) startInfo()         {}
func (StepStartInfo) startInfo()         {}

// CallInfo identifies one hooked call. IDs are unique within the process;
// ParentID is the ID of the enclosing call, 0 at the top.
type CallInfo struct {
	ID       uint64
	ParentID uint64
}

// ModuleStartInfo describes a module call that is starting.
type ModuleStartInfo struct {
	CallInfo
	Module Module
	Inputs Inputs
}

// ModuleEndInfo describes a module call that ended.
type ModuleEndInfo struct {
	CallInfo
	Module     Module
	Prediction *Prediction
	Err        error
}

// LMStartInfo describes an LM request about to be sent.
type LMStartInfo struct {
	CallInfo
	LM      lm.LM
	Request *lm.Request
	// Stream reports that the reply will be streamed.
	Stream bool
}

// LMEndInfo describes an LM request that ended.
type LMEndInfo struct {
	CallInfo
	LM       lm.LM
	Response *lm.Response
	Err      error
	// Duration is the time from sending the request to its end.
	Duration time.Duration
	// FirstChunk is the time from sending a streamed request to its first
	// chunk (time to first token); 0 for a blocking call or a stream that
	// failed before any chunk.
	FirstChunk time.Duration
	// Chunks is the number of chunks a streamed reply delivered (0 for a
	// blocking call).
	Chunks int
}

// FormatStartInfo describes an adapter about to build a prompt.
type FormatStartInfo struct {
	CallInfo
	Adapter   Adapter
	Signature *Signature
	Inputs    Inputs
}

// FormatEndInfo describes the prompt an adapter built.
type FormatEndInfo struct {
	CallInfo
	Adapter  Adapter
	Messages []lm.Message
	Err      error
}

// ParseStartInfo describes an adapter about to parse a reply.
type ParseStartInfo struct {
	CallInfo
	Adapter   Adapter
	Signature *Signature
	Text      string
}

// ParseEndInfo describes the values an adapter parsed.
type ParseEndInfo struct {
	CallInfo
	Adapter Adapter
	Outputs map[string]any
	Err     error
}

// ToolStartInfo describes a tool call that is starting.
type ToolStartInfo struct {
	CallInfo
	Tool *Tool
	Args map[string]any
	// ToolCallID is the LM's id for this call (native tool calling), "" when
	// the LM gave none.
	ToolCallID string
}

// ToolEndInfo describes a tool call that ended.
type ToolEndInfo struct {
	CallInfo
	Tool       *Tool
	Result     any
	Err        error
	ToolCallID string
	// Duration is how long the tool ran.
	Duration time.Duration
}

// StepStartInfo describes an agent's iteration that is starting.
type StepStartInfo struct {
	CallInfo
	// Module is the agent (a *ReAct).
	Module Module
	// Index counts the agent's iterations in this call, from 0.
	Index int
}

// StepEndInfo describes an agent's iteration that ended.
type StepEndInfo struct {
	CallInfo
	Module Module
	Index  int
	// Steps are the trajectory entries this iteration added: one per tool
	// call (with native tool calling, one LM reply may call several).
	Steps []Step
	// Done reports that the agent finished with this iteration.
	Done bool
	Err  error
}

// callIDs numbers hooked calls. An atomic counter, not configuration: it is
// the one other piece of package state, and nothing can set it.
var callIDs atomic.Uint64

type callKey struct{}

// callFrame is the call in progress in a context. It is also the context
// the call runs with: a frame and its context are one allocation, not two
// (context.WithValue would be the second), on every hooked call.
type callFrame struct {
	context.Context
	id     uint64
	parent *callFrame
	usage  *usageCounter // non-nil when this module call counts usage
}

// Value answers callKey with the frame and passes every other key on.
func (f *callFrame) Value(key any) any {
	if _, ok := key.(callKey); ok {
		return f
	}
	return f.Context.Value(key)
}

// beginCall returns a context for a new nested call and its CallInfo.
func beginCall(ctx context.Context) (context.Context, *callFrame, CallInfo) {
	parent, _ := ctx.Value(callKey{}).(*callFrame)
	f := &callFrame{Context: ctx, id: callIDs.Add(1), parent: parent}
	info := CallInfo{ID: f.id}
	if parent != nil {
		info.ParentID = parent.id
	}
	return f, f, info
}

// CurrentCall returns the innermost hooked call of ctx (module, LM or tool)
// and whether there is one.
func CurrentCall(ctx context.Context) (CallInfo, bool) {
	f, ok := ctx.Value(callKey{}).(*callFrame)
	if !ok {
		return CallInfo{}, false
	}
	info := CallInfo{ID: f.id}
	if f.parent != nil {
		info.ParentID = f.parent.id
	}
	return info, true
}

// fire runs hook h of every trace in s, recovering panics.
func fire[I any](ctx context.Context, s *settings, pick func(*Trace) func(context.Context, I), info I) {
	for _, t := range s.traces {
		if t == nil {
			continue
		}
		if h := pick(t); h != nil {
			safeHook(ctx, s, h, info)
		}
	}
}

// derive runs the Context hooks of s's traces for a starting call and
// returns the context the call goes on with.
func derive[I StartInfo](ctx context.Context, s *settings, info I) context.Context {
	for _, t := range s.traces {
		if t != nil && t.Context != nil {
			ctx = safeContext(ctx, s, t.Context, info)
		}
	}
	return ctx
}

func safeContext(ctx context.Context, s *settings, h func(context.Context, StartInfo) context.Context, info StartInfo) (out context.Context) {
	out = ctx
	defer func() {
		if r := recover(); r != nil {
			out = ctx
			s.logger.ErrorContext(ctx, "dspy: trace hook panicked", "hook", "Context", "panic", r, "stack", string(debug.Stack()))
		}
	}()
	if c := h(ctx, info); c != nil {
		out = c
	}
	return out
}

func safeHook[I any](ctx context.Context, s *settings, h func(context.Context, I), info I) {
	defer func() {
		if r := recover(); r != nil {
			s.logger.ErrorContext(ctx, "dspy: trace hook panicked", "hook", fmt.Sprintf("%T", info), "panic", r, "stack", string(debug.Stack()))
		}
	}()
	h(ctx, info)
}

// Compose returns a Trace whose hooks call a's hook and then b's. Either may
// be nil.
func (a *Trace) Compose(b *Trace) *Trace {
	if a == nil {
		return b
	}
	if b == nil {
		return a
	}
	return &Trace{
		ModuleStart: compose(a.ModuleStart, b.ModuleStart),
		ModuleEnd:   compose(a.ModuleEnd, b.ModuleEnd),
		LMStart:     compose(a.LMStart, b.LMStart),
		LMEnd:       compose(a.LMEnd, b.LMEnd),
		FormatStart: compose(a.FormatStart, b.FormatStart),
		FormatEnd:   compose(a.FormatEnd, b.FormatEnd),
		ParseStart:  compose(a.ParseStart, b.ParseStart),
		ParseEnd:    compose(a.ParseEnd, b.ParseEnd),
		ToolStart:   compose(a.ToolStart, b.ToolStart),
		ToolEnd:     compose(a.ToolEnd, b.ToolEnd),
		StepStart:   compose(a.StepStart, b.StepStart),
		StepEnd:     compose(a.StepEnd, b.StepEnd),
		Context:     composeContext(a.Context, b.Context),
	}
}

func composeContext(f, g func(context.Context, StartInfo) context.Context) func(context.Context, StartInfo) context.Context {
	switch {
	case f == nil:
		return g
	case g == nil:
		return f
	}
	return func(ctx context.Context, i StartInfo) context.Context {
		if c := f(ctx, i); c != nil {
			ctx = c
		}
		if c := g(ctx, i); c != nil {
			ctx = c
		}
		return ctx
	}
}

func compose[I any](f, g func(context.Context, I)) func(context.Context, I) {
	switch {
	case f == nil:
		return g
	case g == nil:
		return f
	}
	return func(ctx context.Context, i I) { f(ctx, i); g(ctx, i) }
}
