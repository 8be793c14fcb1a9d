package streaming

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/internal/streamhook"
	"github.com/godspy/dspy/lm"
)

// Event is one item of a stream: DSPy's *StreamResponse, *StatusMessage and
// *Final; *RawChunk; *Custom (see Emit); and, WithTraceEvents, *LMStart,
// *LMEnd, *ToolCallStart, *ToolCallDelta, *ToolCallEnd, *StepStart and
// *StepEnd. A consumer that only type-switches on the kinds it wants is
// unaffected by the others.
type Event interface{ isEvent() }

// StreamResponse is a piece of one output field's value, as the LM writes it.
type StreamResponse struct {
	// PredictName is the path of the predictor that produced it
	// ("synthesize.predict"; "self" for a bare Predict).
	PredictName string
	// SignatureFieldName is the output field.
	SignatureFieldName string
	Chunk              string
	// IsLastChunk marks the final chunk of this occurrence of the field.
	IsLastChunk bool
	// CallID identifies the LM call: two concurrent calls of one predictor
	// in a run have different IDs, so their chunks can be told apart.
	CallID uint64
}

// StatusMessage is a message from a StatusProvider hook, delivered when the
// hook fires.
type StatusMessage struct {
	Message string
}

// Final carries the program's Prediction. It is the last event of a
// successful stream (unless WithoutFinal).
type Final struct {
	Prediction *dspy.Prediction
}

// RawChunk is an LM chunk passed through as it is, sent only when the
// program was streamified with no listeners (as DSPy does).
type RawChunk struct {
	PredictName string
	CallID      uint64
	Chunk       lm.Chunk
}

func (*StreamResponse) isEvent() {}
func (*StatusMessage) isEvent()  {}
func (*Final) isEvent()          {}
func (*RawChunk) isEvent()       {}

// Errors of Streamify, matchable with errors.Is.
var (
	// ErrFieldNotUnique: a listener without a predictor path names a field
	// that several predictors produce.
	ErrFieldNotUnique = errors.New("streaming: field is not unique in the program")
	// ErrFieldNotFound: no predictor (at the given path) produces the field.
	ErrFieldNotFound = errors.New("streaming: field not found in the program")
	// ErrNoFieldParser: the adapter cannot parse a reply while it streams.
	ErrNoFieldParser = errors.New("streaming: adapter has no incremental field parser")
)

// Listener asks for one output field's chunks. Build it with NewListener.
type Listener struct {
	field       string
	predictName string
	allowReuse  bool
}

// ListenerOption configures a Listener.
type ListenerOption interface{ applyListener(*Listener) }

type listenerOptionFunc func(*Listener)

func (f listenerOptionFunc) applyListener(l *Listener) { f(l) }

// NewListener listens to the output field named field.
func NewListener(field string, opts ...ListenerOption) Listener {
	l := Listener{field: field}
	for _, o := range opts {
		o.applyListener(&l)
	}
	return l
}

// WithPredictName binds the listener to the predictor at path (as listed by
// dspy.NamedPredictors), or to every predictor under a module path:
// "synthesize" matches "synthesize.predict".
func WithPredictName(path string) ListenerOption {
	return listenerOptionFunc(func(l *Listener) { l.predictName = path })
}

// WithAllowReuse re-arms the listener after each occurrence of its field, so it
// streams every LM call of its predictor (ReAct iterations). Without it only
// the first occurrence in a stream is sent.
func WithAllowReuse() ListenerOption {
	return listenerOptionFunc(func(l *Listener) { l.allowReuse = true })
}

// Field returns the field the listener listens to.
func (l Listener) Field() string { return l.field }

// Option configures Streamify.
type Option interface{ apply(*Program) }

type optionFunc func(*Program)

func (f optionFunc) apply(p *Program) { f(p) }

// WithListeners adds field listeners.
func WithListeners(ls ...Listener) Option {
	return optionFunc(func(p *Program) { p.listeners = append(p.listeners, ls...) })
}

// WithStatus sets the status message provider.
func WithStatus(s StatusProvider) Option {
	return optionFunc(func(p *Program) { p.status = s })
}

// WithoutFinal leaves the Final event out of streams.
func WithoutFinal() Option {
	return optionFunc(func(p *Program) { p.noFinal = true })
}

// Program is a streamified module. It is immutable and safe for concurrent
// use: every Stream or Chan call gets fresh listener state.
type Program struct {
	module    dspy.Module
	listeners []Listener
	status    StatusProvider
	noFinal   bool
	// traceEvents adds LMStart, ToolCallStart, StepStart ... to streams.
	traceEvents bool

	// bound[i] lists the predictors listener i may hear.
	bound  [][]*dspy.Predict
	pathOf map[*dspy.Predict]string
}

// Streamify makes program streamable. Listeners are bound to predictors
// here: a listener without a path binds to the one predictor that has its
// field, and an ambiguous or absent field is an error now rather than a
// silent stream later.
func Streamify(program dspy.Module, opts ...Option) (*Program, error) {
	p := &Program{module: program, pathOf: map[*dspy.Predict]string{}}
	for _, o := range opts {
		o.apply(p)
	}
	named := dspy.NamedPredictors(program)
	for _, np := range named {
		p.pathOf[np.Predict] = np.Path
	}
	for _, l := range p.listeners {
		preds, err := bind(l, named)
		if err != nil {
			return nil, err
		}
		for _, pr := range preds {
			if a := pr.Adapter(); a != nil {
				if _, ok := a.(dspy.StreamingAdapter); !ok {
					return nil, fmt.Errorf("%w: %T (predictor %s); implement dspy.StreamingAdapter to stream its fields", ErrNoFieldParser, a, p.pathOf[pr])
				}
			}
		}
		p.bound = append(p.bound, preds)
	}
	return p, nil
}

// MustStreamify is Streamify for programs built from literals; it panics on
// error.
func MustStreamify(program dspy.Module, opts ...Option) *Program {
	p, err := Streamify(program, opts...)
	if err != nil {
		panic(err)
	}
	return p
}

func under(path, prefix string) bool {
	return path == prefix || strings.HasPrefix(path, prefix+".") || strings.HasPrefix(path, prefix+"[")
}

func bind(l Listener, named []dspy.NamedPredictor) ([]*dspy.Predict, error) {
	var paths []string
	var preds []*dspy.Predict
	if l.predictName != "" {
		found := false
		for _, np := range named {
			if !under(np.Path, l.predictName) {
				continue
			}
			found = true
			if _, ok := np.Predict.Signature().Output(l.field); ok || l.field == "reasoning" {
				preds = append(preds, np.Predict)
			}
		}
		if !found {
			var all []string
			for _, np := range named {
				all = append(all, np.Path)
			}
			return nil, fmt.Errorf("%w: no predictor at path %q (the program's predictors are: %s)", ErrFieldNotFound, l.predictName, strings.Join(all, ", "))
		}
		if len(preds) == 0 {
			return nil, fmt.Errorf("%w: Signature field %s is not a field of the predictor %s", ErrFieldNotFound, l.field, l.predictName)
		}
		return preds, nil
	}
	for _, np := range named {
		if _, ok := np.Predict.Signature().Output(l.field); ok {
			paths = append(paths, np.Path)
			preds = append(preds, np.Predict)
		}
	}
	if len(preds) == 0 && l.field == "reasoning" && len(named) == 1 {
		// A provider's native reasoning, in a program of one predictor.
		return []*dspy.Predict{named[0].Predict}, nil
	}
	switch len(preds) {
	case 0:
		return nil, fmt.Errorf("%w: Signature field %s is not a field of any predictor in the program, cannot automatically determine which predictor to use for streaming", ErrFieldNotFound, l.field)
	case 1:
		return preds, nil
	}
	return nil, fmt.Errorf("%w: Signature field %s is not unique in the program, cannot automatically determine which predictor to use for streaming. Please specify the predictor to listen to (one of: %s)", ErrFieldNotUnique, l.field, strings.Join(paths, ", "))
}

// Stream runs the program and yields its events: field chunks and status
// messages as they happen, then the Final prediction. If the run fails, the
// error is the last element (events already yielded stay valid). The
// iterator is single-use. Breaking out of the loop cancels the run,
// including the LM's HTTP request, and returns only after the run's
// goroutines have ended.
func (p *Program) Stream(ctx context.Context, in dspy.Inputs) iter.Seq2[Event, error] {
	return p.stream(ctx, in, p.traceEvents)
}

// stream is Stream, with the trace events on when traceEvents is set.
func (p *Program) stream(ctx context.Context, in dspy.Inputs, traceEvents bool) iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		ctx, cancel := context.WithCancelCause(ctx)
		defer cancel(nil)
		r := p.newRun(ctx, traceEvents)
		ctx = streamhook.With(ctx, sink(r))
		// Usage tracking: the Final prediction has the usage of all the
		// run's LM calls.
		ctx = dspy.WithSettings(ctx, dspy.WithTrace(r.trace()), dspy.WithUsageTracking(true))

		if inline(p.module) {
			p.streamInline(ctx, cancel, r, in, yield)
			return
		}
		r.events = make(chan Event, eventBuffer)
		type result struct {
			pred *dspy.Prediction
			err  error
		}
		done := make(chan result, 1)
		go func() {
			var res result
			defer func() { done <- res }()
			defer recoverPanic(&res.err)
			res.pred, res.err = dspy.Call(ctx, p.module, in)
		}()
		for {
			select {
			case ev := <-r.events:
				if !yield(ev, nil) {
					cancel(errConsumerGone)
					<-done // producers select on ctx.Done, so this ends
					return
				}
			case res := <-done:
				// The run has returned, so its events are all buffered:
				// deliver them before the outcome.
				for drained := false; !drained; {
					select {
					case ev := <-r.events:
						if !yield(ev, nil) {
							return
						}
					default:
						drained = true
					}
				}
				p.finish(res.pred, res.err, yield)
				return
			}
		}
	}
}

// inline reports whether m produces all its events on the goroutine that
// calls it. Such a program runs on the consumer's goroutine and hands each
// event straight to yield: no goroutine, no channel, no scheduler hand-off
// per chunk, which is what most of the latency of a thousand concurrent
// streams on two cores was (bench W4).
func inline(m dspy.Module) bool {
	switch m.(type) {
	case *dspy.Predict, *dspy.ChainOfThought:
		return true
	}
	return false
}

// streamInline runs the program on this goroutine; r.send calls yield.
func (p *Program) streamInline(ctx context.Context, cancel context.CancelCauseFunc, r *run, in dspy.Inputs, yield func(Event, error) bool) {
	r.yield = yield
	r.cancel = cancel
	pred, err := p.callInline(ctx, r, in)
	if r.stopped {
		return // the consumer broke out: yield must not be called again
	}
	p.finish(pred, err, yield)
}

// callInline calls the program on the consumer's goroutine. A panic in the
// program becomes a *dspy.PanicError, as on the run goroutine of other
// programs; a panic in the consumer's loop body (raised through yield) is
// the consumer's own and goes on untouched.
func (p *Program) callInline(ctx context.Context, r *run, in dspy.Inputs) (pred *dspy.Prediction, err error) {
	defer func() {
		if r.inYield {
			return // not recovered: the consumer's panic keeps its stack
		}
		if v := recover(); v != nil { // recover must be called here, by the deferred function itself
			err = &dspy.PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	return dspy.Call(ctx, p.module, in)
}

// recoverPanic, deferred on a goroutine a stream runs the program on, turns
// a panic into a *dspy.PanicError: the stream's last element.
func recoverPanic(errp *error) {
	if v := recover(); v != nil {
		*errp = &dspy.PanicError{Value: v, Stack: debug.Stack()}
	}
}

// finish yields the run's outcome: the error, or the Final prediction.
func (p *Program) finish(pred *dspy.Prediction, err error, yield func(Event, error) bool) {
	if err != nil {
		yield(nil, err)
		return
	}
	if !p.noFinal {
		yield(&Final{Prediction: pred}, nil)
	}
}

// errConsumerGone cancels a run whose consumer stopped reading. It is a
// cancellation, so the run's calls end with an error that matches
// context.Canceled, whether the run noticed through its context or through
// a refused event.
var errConsumerGone = fmt.Errorf("streaming: consumer stopped reading: %w", context.Canceled)

// ErrorEvent carries the error that ended a stream read through Chan.
type ErrorEvent struct {
	Err error
}

func (*ErrorEvent) isEvent() {}

// Chan runs the program and delivers its events on a channel, for select
// loops. A failure arrives as an *ErrorEvent, the last event; the channel is
// closed after the last event. To stop early, cancel ctx: the run ends, and
// the channel is closed without further sends blocking.
func (p *Program) Chan(ctx context.Context, in dspy.Inputs) <-chan Event {
	ch := make(chan Event)
	go func() {
		defer close(ch)
		for ev, err := range p.Stream(ctx, in) {
			if err != nil {
				ev = &ErrorEvent{Err: err}
			}
			select {
			case ch <- ev:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch
}

// Listeners returns the program's listeners.
func (p *Program) Listeners() []Listener { return slices.Clone(p.listeners) }
