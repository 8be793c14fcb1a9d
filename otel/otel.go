package otel

import (
	"context"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/lm"
	otelglobal "go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"
)

// instrumentation is the name of this instrumentation library, as tracers
// and meters are named after the package that reports.
const instrumentation = "github.com/godspy/dspy/otel"

// CaptureContentEnv is the GenAI conventions' environment variable that
// turns content capture on ("true") when WithContentCapture is not given.
const CaptureContentEnv = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"

// Option configures NewTrace.
type Option interface{ apply(*config) }

type config struct {
	tp         trace.TracerProvider
	mp         metric.MeterProvider
	content    bool
	contentSet bool
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithTracerProvider sets the provider of the tracer (default: the global
// one).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(c *config) { c.tp = tp })
}

// WithMeterProvider sets the provider of the meter (default: the global
// one).
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) { c.mp = mp })
}

// WithContentCapture records prompts and replies (gen_ai.input.messages,
// gen_ai.output.messages), tool arguments and results
// (gen_ai.tool.call.arguments, gen_ai.tool.call.result), and the LM text a
// parse error quotes, on the spans. Off by default: content is often
// sensitive and large. Without this option, the environment variable
// OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true turns it on.
func WithContentCapture(on bool) Option {
	return optionFunc(func(c *config) { c.content, c.contentSet = on, true })
}

// NewTrace returns the hooks that turn a program run into spans and
// metrics. Install them with dspy.WithTrace (Configure or WithSettings).
// One Trace serves any number of concurrent calls.
func NewTrace(opts ...Option) *dspy.Trace {
	var c config
	for _, o := range opts {
		o.apply(&c)
	}
	if c.tp == nil {
		c.tp = otelglobal.GetTracerProvider()
	}
	if c.mp == nil {
		c.mp = otelglobal.GetMeterProvider()
	}
	if !c.contentSet {
		c.content, _ = strconv.ParseBool(os.Getenv(CaptureContentEnv))
	}
	t := &tracer{
		tr:      c.tp.Tracer(instrumentation, trace.WithSchemaURL(semconv.SchemaURL)),
		content: c.content,
		m:       newInstruments(c.mp.Meter(instrumentation, metric.WithSchemaURL(semconv.SchemaURL))),
	}
	t.lmTrace = &lm.Trace{Retry: t.retry, LimitWait: t.limitWait}
	return &dspy.Trace{
		Context:   t.start,
		ModuleEnd: t.moduleEnd,
		LMEnd:     t.lmEnd,
		ToolEnd:   t.toolEnd,
		StepEnd:   t.stepEnd,
	}
}

type tracer struct {
	tr      trace.Tracer
	content bool
	m       *instruments
	lmTrace *lm.Trace
}

// call is the state of one traced call. It rides in the call's context
// (callCtx), next to its span.
type call struct {
	id   uint64
	span trace.Span
	root *root // the outermost module call of the tree, for paths
	top  bool  // this call is root's module

	// LM calls: what their metrics are keyed by.
	lm       bool
	provider string
	model    string // requested
	stream   bool
	cached   bool // a cache is in the LM chain
	noCache  bool
	sets     *lmSets // its metric attribute sets
}

// callKey finds a tracer's calls in a context; two tracers (two
// providers) keep apart.
type callKey struct{ t *tracer }

// callCtx is a call's context: one allocation carries the state.
type callCtx struct {
	context.Context
	t *tracer
	c call
}

// rootCtx is the outermost module call's context and its tree's root.
type rootCtx struct {
	callCtx
	r root
}

func (c *callCtx) Value(key any) any {
	if k, ok := key.(callKey); ok && k.t == c.t {
		return &c.c
	}
	return c.Context.Value(key)
}

// callFrom returns the innermost call of t's in ctx, or nil.
func (t *tracer) callFrom(ctx context.Context) *call {
	c, _ := ctx.Value(callKey{t}).(*call)
	return c
}

// root is the outermost module call: the tree that paths are relative to.
type root struct {
	module dspy.Module
	once   sync.Once
	paths  map[*dspy.Predict]string
}

// pathOf returns m's path in the root's tree: a predictor's NamedPredictors
// path, or for another module the path its first predictor has in the root
// less the path it has in m. "" when unknown.
func (r *root) pathOf(m dspy.Module) string {
	r.once.Do(func() {
		r.paths = map[*dspy.Predict]string{}
		for _, np := range dspy.NamedPredictors(r.module) {
			r.paths[np.Predict] = np.Path
		}
	})
	if p, ok := m.(*dspy.Predict); ok {
		return r.paths[p]
	}
	inner := dspy.NamedPredictors(m)
	if len(inner) == 0 {
		return ""
	}
	abs, ok := r.paths[inner[0].Predict]
	if !ok {
		return ""
	}
	rel := inner[0].Path
	if rel == "self" {
		return abs
	}
	if p, ok := strings.CutSuffix(abs, "."+rel); ok {
		return p
	}
	return ""
}

var typeNames sync.Map // reflect.Type -> string

// typeName is a module's Go type without the pointer star: "dspy.Predict".
func typeName(m any) string {
	t := reflect.TypeOf(m)
	if n, ok := typeNames.Load(t); ok {
		return n.(string)
	}
	n := strings.TrimLeft(t.String(), "*")
	typeNames.Store(t, n)
	return n
}

// start is the Context hook: it starts the call's span as a child of the
// span in ctx and returns the context the call runs with.
func (t *tracer) start(ctx context.Context, info dspy.StartInfo) context.Context {
	parent := t.callFrom(ctx)
	var cc *callCtx
	if parent != nil {
		cc = &callCtx{t: t, c: call{id: info.Call().ID, root: parent.root}}
	} else {
		// The outermost call of ours: LM calls below it report retries and
		// rate-limit waits to their spans.
		ctx = lm.WithTrace(ctx, t.lmTrace)
		if i, ok := info.(dspy.ModuleStartInfo); ok {
			// The root of the tree rides in the same allocation.
			rc := &rootCtx{r: root{module: i.Module}}
			cc = &rc.callCtx
			cc.t, cc.c.id, cc.c.root, cc.c.top = t, i.ID, &rc.r, true
		} else {
			cc = &callCtx{t: t, c: call{id: info.Call().ID}}
		}
	}
	switch i := info.(type) {
	case dspy.ModuleStartInfo:
		ctx = t.startModule(ctx, &cc.c, i)
	case dspy.LMStartInfo:
		ctx = t.startLM(ctx, &cc.c, i)
	case dspy.ToolStartInfo:
		ctx = t.startTool(ctx, &cc.c, i)
	case dspy.StepStartInfo:
		ctx, cc.c.span = t.tr.Start(ctx, "step "+strconv.Itoa(i.Index),
			trace.WithAttributes(stepIndexKey.Int(i.Index)))
	default:
		return ctx
	}
	cc.Context = ctx
	return cc
}

// spanStart is what starting one kind of span takes: its name and start
// options. Spans of one module (type and path) or one LM (provider and
// model) are alike, so these are built once and reused.
type spanStart struct {
	name string
	opts []trace.SpanStartOption
}

type moduleKey struct {
	typ  reflect.Type
	path string
}

type lmStartKey struct{ provider, model string }

var (
	moduleStarts sync.Map // moduleKey -> *spanStart
	lmStarts     sync.Map // lmStartKey -> *spanStart
)

func (t *tracer) startModule(ctx context.Context, c *call, i dspy.ModuleStartInfo) context.Context {
	path := ""
	switch {
	case c.top: // the root is this module
	case c.root == nil: // the outermost module below a call that is not one
		c.root = &root{module: i.Module}
	default:
		path = c.root.pathOf(i.Module)
	}
	if r, ok := i.Module.(*dspy.ReAct); ok {
		return t.startAgent(ctx, c, r, path)
	}
	k := moduleKey{reflect.TypeOf(i.Module), path}
	st, ok := moduleStarts.Load(k)
	if !ok {
		// The name says the type; a module inside the program also has its
		// path. A span without attributes costs the SDK least.
		name := typeName(i.Module)
		var opts []trace.SpanStartOption
		if path != "" {
			name += " " + path
			opts = append(opts, trace.WithAttributes(modulePathKey.String(path)))
		}
		st, _ = moduleStarts.LoadOrStore(k, &spanStart{name: name, opts: opts})
	}
	sp := st.(*spanStart)
	ctx, c.span = t.tr.Start(ctx, sp.name, sp.opts...)
	return ctx
}

// startAgent starts a ReAct call's span: the conventions' invoke_agent.
func (t *tracer) startAgent(ctx context.Context, c *call, r *dspy.ReAct, path string) context.Context {
	name := "invoke_agent"
	attrs := []attribute.KeyValue{semconv.GenAIOperationNameInvokeAgent, moduleTypeKey.String(typeName(r))}
	if path != "" {
		name += " " + path
		attrs = append(attrs, semconv.GenAIAgentName(path), modulePathKey.String(path))
	}
	model := r.ReactPredictor().LM()
	if model == nil {
		model = r.Extract().Predictor().LM()
	}
	if model == nil {
		model = dspy.CurrentLM(ctx)
	}
	if model != nil {
		provider, name := lm.Identify(model)
		attrs = append(attrs, semconv.GenAIProviderNameKey.String(providerName(provider)))
		if name != "" {
			attrs = append(attrs, semconv.GenAIRequestModel(name))
		}
	}
	ctx, c.span = t.tr.Start(ctx, name, trace.WithAttributes(attrs...))
	return ctx
}

func (t *tracer) startLM(ctx context.Context, c *call, i dspy.LMStartInfo) context.Context {
	provider, model := lm.Identify(i.LM)
	req := i.Request
	if req.Model != "" {
		model = req.Model
	}
	c.lm, c.provider, c.model, c.stream, c.noCache = true, providerName(provider), model, i.Stream, req.NoCache
	c.cached = hasCache(i.LM)
	c.sets = t.m.lmSets(c.provider, model)
	k := lmStartKey{c.provider, model}
	st, ok := lmStarts.Load(k)
	if !ok {
		name := "chat"
		attrs := []attribute.KeyValue{semconv.GenAIOperationNameChat, semconv.GenAIProviderNameKey.String(c.provider)}
		if model != "" {
			name += " " + model
			attrs = append(attrs, semconv.GenAIRequestModel(model))
		}
		st, _ = lmStarts.LoadOrStore(k, &spanStart{name: name, opts: []trace.SpanStartOption{
			trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...),
		}})
	}
	sp := st.(*spanStart)
	ctx, c.span = t.tr.Start(ctx, sp.name, sp.opts...)
	if c.span.IsRecording() { // an unsampled call builds none of the rest
		if attrs := t.requestAttrs(i); len(attrs) > 0 {
			c.span.SetAttributes(attrs...)
		}
	}
	return ctx
}

// requestAttrs are an LM request's parameters (and, with content capture,
// its messages): nil for a request that sets none, the common case.
func (t *tracer) requestAttrs(i dspy.LMStartInfo) []attribute.KeyValue {
	req := i.Request
	var attrs []attribute.KeyValue
	if req.Temperature != nil {
		attrs = append(attrs, semconv.GenAIRequestTemperature(*req.Temperature))
	}
	if req.TopP != nil {
		attrs = append(attrs, semconv.GenAIRequestTopP(*req.TopP))
	}
	if req.MaxTokens > 0 {
		attrs = append(attrs, semconv.GenAIRequestMaxTokens(req.MaxTokens))
	}
	if req.N > 1 {
		attrs = append(attrs, semconv.GenAIRequestChoiceCount(req.N))
	}
	if req.Seed != nil {
		attrs = append(attrs, semconv.GenAIRequestSeed(int(*req.Seed)))
	}
	if len(req.Stop) > 0 {
		attrs = append(attrs, semconv.GenAIRequestStopSequences(req.Stop...))
	}
	if f := req.ResponseFormat; f != nil && (f.Type == "json_object" || f.Type == "json_schema") {
		attrs = append(attrs, semconv.GenAIOutputTypeJSON)
	}
	if i.Stream {
		attrs = append(attrs, streamTrue)
	}
	if t.content {
		attrs = append(attrs, semconv.GenAIInputMessagesKey.String(inputMessages(req.Messages)))
	}
	return attrs
}

var streamTrue = semconv.GenAIRequestStream(true)

// finishReasons is the gen_ai.response.finish_reasons of choices, shared
// for the common single-choice replies.
func finishReasons(choices []lm.Choice) attribute.KeyValue {
	if len(choices) == 1 {
		switch choices[0].FinishReason {
		case "stop":
			return finishStop
		case "length":
			return finishLength
		case "tool_calls":
			return finishToolCalls
		}
	}
	reasons := make([]string, len(choices))
	for k, ch := range choices {
		reasons[k] = ch.FinishReason
	}
	return semconv.GenAIResponseFinishReasons(reasons...)
}

var (
	finishStop      = semconv.GenAIResponseFinishReasons("stop")
	finishLength    = semconv.GenAIResponseFinishReasons("length")
	finishToolCalls = semconv.GenAIResponseFinishReasons("tool_calls")
)

func (t *tracer) startTool(ctx context.Context, c *call, i dspy.ToolStartInfo) context.Context {
	attrs := []attribute.KeyValue{
		semconv.GenAIOperationNameExecuteTool,
		semconv.GenAIToolName(i.Tool.Name()),
		semconv.GenAIToolTypeKey.String("function"),
	}
	if d := i.Tool.Desc(); d != "" {
		attrs = append(attrs, semconv.GenAIToolDescription(d))
	}
	if i.ToolCallID != "" {
		attrs = append(attrs, semconv.GenAIToolCallID(i.ToolCallID))
	}
	ctx, c.span = t.tr.Start(ctx, "execute_tool "+i.Tool.Name(), trace.WithAttributes(attrs...))
	if t.content && c.span.IsRecording() {
		c.span.SetAttributes(semconv.GenAIToolCallArgumentsKey.String(toJSON(i.Args)))
	}
	return ctx
}

// own returns the state of the call id whose hooks get ctx, or nil when
// its span was not started here.
func (t *tracer) own(ctx context.Context, id uint64) *call {
	c := t.callFrom(ctx)
	if c == nil || c.id != id || c.span == nil {
		return nil
	}
	return c
}

func (t *tracer) moduleEnd(ctx context.Context, i dspy.ModuleEndInfo) {
	c := t.own(ctx, i.ID)
	if c == nil {
		return
	}
	t.fail(c.span, i.Err)
	c.span.End()
}

func (t *tracer) stepEnd(ctx context.Context, i dspy.StepEndInfo) {
	c := t.own(ctx, i.ID)
	if c == nil {
		return
	}
	if i.Done {
		c.span.SetAttributes(stepDoneKey.Bool(true))
	}
	t.fail(c.span, i.Err)
	c.span.End()
}

func (t *tracer) toolEnd(ctx context.Context, i dspy.ToolEndInfo) {
	c := t.own(ctx, i.ID)
	if c == nil {
		return
	}
	if i.Err == nil && t.content && c.span.IsRecording() {
		c.span.SetAttributes(semconv.GenAIToolCallResultKey.String(toJSON(i.Result)))
	}
	t.fail(c.span, i.Err)
	c.span.End()
}

func (t *tracer) lmEnd(ctx context.Context, i dspy.LMEndInfo) {
	c := t.own(ctx, i.ID)
	if c == nil {
		return
	}
	resp := i.Response
	var errType string
	if i.Err != nil {
		errType = errorType(i.Err)
	}
	respModel := ""
	if resp != nil {
		respModel = resp.Model
	}
	t.m.recordLM(ctx, c, i, respModel, errType)
	if c.span.IsRecording() {
		buf := attrBufs.Get().(*[16]attribute.KeyValue)
		attrs := buf[:0]
		if resp != nil {
			if resp.ID != "" {
				attrs = append(attrs, semconv.GenAIResponseID(resp.ID))
			}
			if resp.Model != "" {
				attrs = append(attrs, semconv.GenAIResponseModel(resp.Model))
			}
			if len(resp.Choices) > 0 {
				attrs = append(attrs, finishReasons(resp.Choices))
			}
			u := resp.Usage
			if !u.IsZero() {
				attrs = append(attrs, semconv.GenAIUsageInputTokens(u.PromptTokens), semconv.GenAIUsageOutputTokens(u.CompletionTokens))
				if u.CachedTokens > 0 {
					attrs = append(attrs, semconv.GenAIUsageCacheReadInputTokens(u.CachedTokens))
				}
				if u.ReasoningTokens > 0 {
					attrs = append(attrs, semconv.GenAIUsageReasoningOutputTokens(u.ReasoningTokens))
				}
			}
			if resp.CacheHit {
				attrs = append(attrs, cacheHitKey.Bool(true))
			}
			if t.content {
				attrs = append(attrs, semconv.GenAIOutputMessagesKey.String(outputMessages(resp.Choices)))
			}
		}
		if c.stream {
			if i.FirstChunk > 0 {
				attrs = append(attrs, semconv.GenAIResponseTimeToFirstChunk(i.FirstChunk.Seconds()))
			}
			attrs = append(attrs, chunksKey.Int(i.Chunks))
		}
		c.span.SetAttributes(attrs...) // copies them
		clear(attrs)
		attrBufs.Put(buf)
	}
	if i.Err != nil {
		t.failAs(c.span, i.Err, errType)
	}
	c.span.End()
}

// attrBufs hold the response attributes of an LM span on their way into
// it: the span copies them, so the buffer is reused.
var attrBufs = sync.Pool{New: func() any { return new([16]attribute.KeyValue) }}

// fail records err on span: status Error with the error's text and
// error.type.
func (t *tracer) fail(span trace.Span, err error) {
	if err != nil {
		t.failAs(span, err, errorType(err))
	}
}

func (t *tracer) failAs(span trace.Span, err error, errType string) {
	span.SetAttributes(semconv.ErrorTypeKey.String(errType))
	span.SetStatus(codes.Error, t.describe(err))
}

// retry is the lm.Trace hook: an event on the LM span and the retry
// metric.
func (t *tracer) retry(ctx context.Context, i lm.RetryInfo) {
	c := t.callFrom(ctx)
	errType := errorType(i.Err)
	t.m.recordRetry(ctx, c, i.Delay, errType)
	span := trace.SpanFromContext(ctx)
	if span.IsRecording() {
		span.AddEvent(retryEvent, trace.WithAttributes(
			retryAttemptKey.Int(i.Attempt),
			semconv.ErrorTypeKey.String(errType),
			retryDelayKey.Float64(i.Delay.Seconds())))
	}
}

// limitWait is the lm.Trace hook: the wait metric, and an event on the LM
// span when the call waited at least a millisecond.
func (t *tracer) limitWait(ctx context.Context, i lm.LimitWaitInfo) {
	c := t.callFrom(ctx)
	t.m.recordLimitWait(ctx, c, i.Duration, i.Err)
	if i.Duration < time.Millisecond && i.Err == nil {
		return
	}
	span := trace.SpanFromContext(ctx)
	if span.IsRecording() {
		attrs := []attribute.KeyValue{limitWaitKey.Float64(i.Duration.Seconds())}
		if i.Err != nil {
			attrs = append(attrs, semconv.ErrorTypeKey.String(errorType(i.Err)))
		}
		span.AddEvent(limitWaitEvent, trace.WithAttributes(attrs...))
	}
}
