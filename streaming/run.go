package streaming

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/internal/streamhook"
	"github.com/godspy/dspy/lm"
)

// run is the state of one Stream call: fresh listener state, and the channel
// every producer (predictors, hooks, on any goroutine) sends events on.
type run struct {
	prog   *Program
	ctx    context.Context
	events chan Event

	// traceEvents: the stream carries the trace events (WithTraceEvents).
	traceEvents bool

	mu        sync.Mutex
	listeners []*listenerState
	// paths maps the hook ids of the LM calls, agent steps and tool calls
	// in flight to the predictor path they concern (guarded by mu).
	paths map[uint64]string

	// Set when the program runs inline on the consumer's goroutine: send
	// calls yield directly. Only that goroutine touches them.
	yield   func(Event, error) bool
	cancel  context.CancelCauseFunc
	stopped bool
	inYield bool // inside yield: a panic now is the consumer's
}

type listenerState struct {
	l     Listener
	preds []*dspy.Predict
	// owner is the LM call streaming the current occurrence (0: none);
	// spent is set once a non-reusable listener has streamed one.
	owner uint64
	spent bool
}

func (p *Program) newRun(ctx context.Context, events bool) *run {
	r := &run{prog: p, ctx: ctx, events: make(chan Event, eventBuffer), traceEvents: events}
	for i, l := range p.listeners {
		r.listeners = append(r.listeners, &listenerState{l: l, preds: p.bound[i]})
	}
	return r
}

// send hands ev to the consumer, waiting for it (back-pressure) unless the
// run has been cancelled.
func (r *run) send(ev Event) error {
	if r.yield != nil {
		if r.stopped || r.inYield {
			// inYield still set: the consumer's loop body panicked and
			// deferred code is sending while the panic unwinds; yield
			// must not be called again.
			return errConsumerGone
		}
		r.inYield = true
		ok := r.yield(ev, nil)
		r.inYield = false
		if !ok {
			r.stopped = true
			r.cancel(errConsumerGone) // ends the LM request too
			return errConsumerGone
		}
		return nil
	}
	select {
	case r.events <- ev:
		return nil
	case <-r.ctx.Done():
		return context.Cause(r.ctx)
	}
}

// sink is what package dspy's predictors report their LM output to.
type sink = streamhook.Sink[*dspy.Predict, *dspy.Signature, dspy.Adapter]

var _ sink = (*run)(nil)

// track records the predictor path of a call in flight.
func (r *run) track(id uint64, path string) {
	r.mu.Lock()
	if r.paths == nil {
		r.paths = map[uint64]string{}
	}
	r.paths[id] = path
	r.mu.Unlock()
}

// untrack forgets a call that ended.
func (r *run) untrack(id uint64) {
	r.mu.Lock()
	delete(r.paths, id)
	r.mu.Unlock()
}

// pathOfCall returns the predictor path of call id, else of its parent.
func (r *run) pathOfCall(id, parent uint64) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p, ok := r.paths[id]; ok {
		return p
	}
	return r.paths[parent]
}

// Open implements streamhook.Sink.
func (r *run) Open(ctx context.Context, p *dspy.Predict, callID uint64, sig *dspy.Signature, a dspy.Adapter) (streamhook.Chunks, error) {
	path, known := r.prog.pathOf[p]
	if !known {
		path = ""
	}
	r.track(callID, path) // for the LM hooks' events and Emit; LMEnd forgets it
	if len(r.listeners) == 0 {
		// No listeners: pass the LM's chunks through, as DSPy does.
		return &rawSink{r: r, path: path, call: callID, tools: toolDeltas{r: r, path: path, call: callID}}, nil
	}
	var mine []*listenerState
	for _, ls := range r.listeners {
		for _, bp := range ls.preds {
			if bp == p {
				mine = append(mine, ls)
				break
			}
		}
	}
	if len(mine) == 0 {
		if r.traceEvents {
			// Stream anyway: the time to first token, tool-call deltas.
			return &deltaSink{toolDeltas{r: r, path: path, call: callID}}, nil
		}
		return nil, nil
	}
	sa, ok := a.(dspy.StreamingAdapter)
	if !ok {
		return nil, fmt.Errorf("%w: %T (predictor %s); implement dspy.StreamingAdapter to stream its fields", ErrNoFieldParser, a, path)
	}
	s := &fieldSink{r: r, path: path, call: callID, parser: sa.NewFieldParser(sig), listeners: mine,
		tools: toolDeltas{r: r, path: path, call: callID}}
	s.emitFn = s.emitParsed
	return s, nil
}

type rawSink struct {
	r     *run
	path  string
	call  uint64
	tools toolDeltas
}

func (s *rawSink) Chunk(c lm.Chunk) error {
	if err := s.r.send(&RawChunk{PredictName: s.path, CallID: s.call, Chunk: c}); err != nil {
		return err
	}
	if len(c.ToolCalls) > 0 && s.r.traceEvents {
		return s.tools.add(c.ToolCalls)
	}
	return nil
}

func (s *rawSink) Close(error) {}

// deltaSink streams an LM call nothing listens to, for its tool-call
// deltas alone (WithTraceEvents).
type deltaSink struct{ tools toolDeltas }

func (s *deltaSink) Chunk(c lm.Chunk) error {
	if len(c.ToolCalls) > 0 {
		return s.tools.add(c.ToolCalls)
	}
	return nil
}

func (s *deltaSink) Close(error) {}

// toolDeltas turns one LM reply's tool-call fragments into ToolCallDelta
// events. Fragments of one call share an Index; the first carries the id
// and the name. ReAct's finish tool is left out, as its hooks are.
type toolDeltas struct {
	r     *run
	path  string
	call  uint64
	calls []deltaCall // by fragment index
}

type deltaCall struct {
	id, name string
	skip     bool
}

// maxToolCalls bounds the fragment indexes kept for one reply: an index
// beyond it (no real reply has so many calls) is ignored, not allocated.
const maxToolCalls = 256

func (t *toolDeltas) add(ds []lm.ToolCallDelta) error {
	for _, d := range ds {
		if d.Index < 0 || d.Index >= maxToolCalls {
			continue
		}
		for len(t.calls) <= d.Index {
			t.calls = append(t.calls, deltaCall{})
		}
		c := &t.calls[d.Index]
		if c.id == "" {
			c.id = d.ID
		}
		named := false
		if c.name == "" && d.Name != "" {
			c.name, c.skip, named = d.Name, d.Name == finishTool, true
		}
		if c.skip || c.name == "" || (!named && d.Arguments == "") {
			continue
		}
		id := c.id
		if id == "" {
			id = "call_" + strconv.FormatUint(t.call, 10) + "_" + strconv.Itoa(d.Index)
		}
		if err := t.r.send(&ToolCallDelta{PredictName: t.path, CallID: t.call, ToolCallID: id, ToolName: c.name, ArgsDelta: d.Arguments}); err != nil {
			return err
		}
	}
	return nil
}

// fieldSink parses one LM reply and routes field chunks to listeners.
type fieldSink struct {
	r         *run
	path      string
	call      uint64
	parser    dspy.FieldParser
	listeners []*listenerState
	emitFn    func(dspy.FieldChunk) // s.emitParsed, bound once
	err       error                 // first send failure: the consumer left
	tools     toolDeltas
	// held has bit i set while this call owns listeners[i] (i < 64): only
	// this sink's release or Close gives an owned listener up, so a chunk
	// of a field it already streams needs no lock.
	held uint64

	// native is set once the provider streamed its own reasoning: that is
	// then the "reasoning" field, and a reasoning section in the text is not
	// streamed a second time.
	native     bool
	nativeDone bool
}

// claim reports whether ls may stream field chunks of this call, taking the
// listener for this call if it is free.
func (s *fieldSink) claim(ls *listenerState) bool {
	if ls.l.allowReuse {
		return true // every occurrence streams, concurrent ones too
	}
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	switch {
	case ls.owner == s.call:
		return true
	case ls.owner != 0, ls.spent:
		return false
	}
	ls.owner = s.call
	return true
}

// release ends the occurrence ls was streaming.
func (s *fieldSink) release(ls *listenerState) {
	if ls.l.allowReuse {
		return
	}
	s.r.mu.Lock()
	ls.owner = 0
	ls.spent = true
	s.r.mu.Unlock()
}

func (s *fieldSink) emitParsed(fc dspy.FieldChunk) {
	if fc.Field == "reasoning" && s.native {
		return
	}
	s.route(fc)
}

// route sends fc to the listeners that want it.
func (s *fieldSink) route(fc dspy.FieldChunk) {
	if s.err != nil {
		return
	}
	for i, ls := range s.listeners {
		if ls.l.field != fc.Field {
			continue
		}
		bit := uint64(0)
		if i < 64 {
			bit = 1 << i
		}
		if s.held&bit == 0 {
			if !s.claim(ls) {
				continue
			}
			if !ls.l.allowReuse {
				s.held |= bit
			}
		}
		if fc.Last {
			s.held &^= bit
			s.release(ls)
		}
		if err := s.r.send(&StreamResponse{PredictName: s.path, SignatureFieldName: fc.Field, Chunk: fc.Text, IsLastChunk: fc.Last, CallID: s.call}); err != nil {
			s.err = err
			return
		}
	}
}

// Chunk implements streamhook.Chunks.
func (s *fieldSink) Chunk(c lm.Chunk) error {
	if c.Reasoning != "" && !s.nativeDone {
		s.native = true
		s.route(dspy.FieldChunk{Field: "reasoning", Text: c.Reasoning})
	}
	if c.Text != "" {
		s.endReasoning()
		s.parser.Write(c.Text, s.emitFn)
	}
	if len(c.ToolCalls) > 0 && s.r.traceEvents && s.err == nil {
		s.err = s.tools.add(c.ToolCalls)
	}
	return s.err
}

// endReasoning closes the native reasoning field once content begins.
func (s *fieldSink) endReasoning() {
	if s.native && !s.nativeDone {
		s.nativeDone = true
		s.route(dspy.FieldChunk{Field: "reasoning", Last: true})
	}
}

// Close implements streamhook.Chunks. After a failure nothing more is sent:
// the stream's last element is the error, and the fields it cut off get no
// IsLastChunk, since they did not end.
func (s *fieldSink) Close(err error) {
	if err != nil || s.err != nil {
		s.r.mu.Lock()
		for _, ls := range s.listeners {
			if !ls.l.allowReuse && ls.owner == s.call {
				ls.owner = 0
			}
		}
		s.r.mu.Unlock()
		return
	}
	s.endReasoning()
	s.parser.Close(s.emitFn)
}

// eventBuffer lets producers run a little ahead of the consumer, so a fast
// LM stream does not pay a goroutine hand-off per chunk; it is small enough
// that back-pressure still reaches the producer within a few dozen events.
const eventBuffer = 64
