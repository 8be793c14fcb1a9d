package dspy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/godspy/dspy/internal/streamhook"
	"github.com/godspy/dspy/lm"
)

// PredictOption configures one Predict (or ChainOfThought,
// MultiChainComparison, or ReAct's predictors through WithPredictOptions).
// Besides the options below, a module takes WithLM and WithAdapter
// (ModuleOption) and WithTemperature and WithMaxTokens (RequestOption).
type PredictOption interface {
	applyPredict(*predictConfig)
}

type predictConfig struct {
	lm          lm.LM
	adapter     Adapter
	temperature *float64
	maxTokens   int
	n           int
	stop        []string
	extra       map[string]any
	demos       []Example
	name        string
}

type predictOptionFunc func(*predictConfig)

func (f predictOptionFunc) applyPredict(c *predictConfig) { f(c) }

// WithN asks for n completions per call; the Prediction holds the first
// and Completions all of them.
func WithN(n int) PredictOption { return predictOptionFunc(func(c *predictConfig) { c.n = n }) }

// WithStop sets stop sequences.
func WithStop(s ...string) PredictOption {
	return predictOptionFunc(func(c *predictConfig) { c.stop = s })
}

// WithExtra sets provider-specific request fields (lm.Request.Extra).
func WithExtra(fields map[string]any) PredictOption {
	return predictOptionFunc(func(c *predictConfig) { c.extra = fields })
}

// WithDemos sets few-shot demonstrations.
func WithDemos(d ...Example) PredictOption {
	return predictOptionFunc(func(c *predictConfig) { c.demos = d })
}

// WithName gives the predictor an explicit path segment, used instead of
// its field name when predictors are listed (NamedPredictors).
func WithName(name string) PredictOption {
	return predictOptionFunc(func(c *predictConfig) { c.name = name })
}

// Predict is the basic module: it formats the inputs with an adapter, calls
// the LM and parses the reply into the signature's outputs. A Predict is safe
// for concurrent use; its configuration is fixed at construction.
type Predict struct {
	sig *Signature
	cfg predictConfig
}

// NewPredict returns a Predict for a signature given as a string
// ("question -> answer") or a *Signature. A malformed signature string
// panics, as MustSignature does: pass a *Signature from ParseSignature to
// handle the error.
func NewPredict[S string | *Signature](sig S, opts ...PredictOption) *Predict {
	p := &Predict{sig: toSignature(sig)}
	for _, o := range opts {
		o.applyPredict(&p.cfg)
	}
	return p
}

func toSignature[S string | *Signature](sig S) *Signature {
	switch s := any(sig).(type) {
	case string:
		return MustSignature(s)
	case *Signature:
		if s == nil {
			panic("dspy: nil *Signature")
		}
		return s
	}
	panic("unreachable")
}

// Signature returns the predictor's signature.
func (p *Predict) Signature() *Signature { return p.sig }

// Adapter returns the predictor's own adapter, or nil when it uses the
// settings' adapter.
func (p *Predict) Adapter() Adapter { return p.cfg.adapter }

// LM returns the predictor's own LM, or nil when it uses the settings' LM.
func (p *Predict) LM() lm.LM { return p.cfg.lm }

// Demos returns the predictor's few-shot demonstrations.
func (p *Predict) Demos() []Example { return slices.Clone(p.cfg.demos) }

// Call runs the predictor: dspy.Call(ctx, p, in).
func (p *Predict) Call(ctx context.Context, in Inputs) (*Prediction, error) {
	return Call(ctx, p, in)
}

// ACall starts the predictor and returns its Future.
func (p *Predict) ACall(ctx context.Context, in Inputs) *Future[*Prediction] {
	return ACall(ctx, p, in)
}

// Forward implements Module.
func (p *Predict) Forward(ctx context.Context, in Inputs) (*Prediction, error) {
	if err := p.sig.CheckInputs(in); err != nil {
		return nil, err
	}
	s := current(ctx)
	model := p.cfg.lm
	if model == nil {
		model = s.lm
	}
	if model == nil {
		return nil, ErrNoLM
	}
	adapter := p.cfg.adapter
	if adapter == nil {
		adapter = s.adapter
	}
	if adapter == nil {
		adapter = ChatAdapter{}
	}
	var next Adapter
	if fb, ok := adapter.(FallbackAdapter); ok {
		next = fb.Fallback()
	}
	if next == nil {
		return p.run(ctx, &s, model, adapter, in)
	}
	// The fallback formats the inputs again, but it needs their values, not
	// the caller's map: a call waiting on its LM keeps 16 bytes per input
	// rather than the map (about 350 bytes for one field).
	var buf [8]any // on the stack: no allocation for a usual signature
	vals := buf[:0]
	for _, f := range p.sig.inputs {
		vals = append(vals, in[f.Name])
	}
	pred, err := p.run(ctx, &s, model, adapter, in)
	if err != nil && isParseError(err) {
		again := make(Inputs, len(vals)) // CheckInputs: exactly the signature's inputs
		for i, f := range p.sig.inputs {
			again[f.Name] = vals[i]
		}
		pred, err = p.run(ctx, &s, model, next, again)
	}
	return pred, err
}

// isParseError reports whether err is a *ParseError. Its own function, so
// that the target errors.As needs is allocated only when there is an
// error.
func isParseError(err error) bool {
	var pe *ParseError
	return errors.As(err, &pe)
}

func (p *Predict) request() *lm.Request {
	req := &lm.Request{
		Temperature: p.cfg.temperature,
		MaxTokens:   p.cfg.maxTokens,
		N:           p.cfg.n,
		Stop:        p.cfg.stop,
	}
	if p.cfg.extra != nil {
		req.Extra = p.cfg.extra
	}
	return req
}

// run formats, calls the LM (streaming when a listener wants it) and parses.
func (p *Predict) run(ctx context.Context, s *settings, model lm.LM, adapter Adapter, in Inputs) (*Prediction, error) {
	traced := len(s.traces) > 0
	stream := streamhook.From[*Predict, *Signature, Adapter](ctx)
	var info CallInfo
	if traced || stream != nil {
		ctx, _, info = beginCall(ctx)
	}

	req := p.request()
	applyCallOptions(ctx, req)      // WithCallOptions (rollout id, temperature)
	sig, in := withHint(ctx, p, in) // Refine's advice, as an extra input
	if traced {
		fire(ctx, s, func(t *Trace) func(context.Context, FormatStartInfo) { return t.FormatStart },
			FormatStartInfo{CallInfo: info, Adapter: adapter, Signature: sig, Inputs: in})
	}
	err := adapter.Format(sig, p.cfg.demos, in, req)
	if traced {
		fire(ctx, s, func(t *Trace) func(context.Context, FormatEndInfo) { return t.FormatEnd },
			FormatEndInfo{CallInfo: info, Adapter: adapter, Messages: req.Messages, Err: err})
	}
	if err != nil {
		return nil, err
	}

	var sink streamhook.Chunks
	if stream != nil {
		sink, err = stream.Open(ctx, p, info.ID, p.sig, adapter)
		if err != nil {
			return nil, err
		}
	}
	if traced {
		begin := LMStartInfo{CallInfo: info, LM: model, Request: req, Stream: sink != nil}
		ctx = derive(ctx, s, begin)
		fire(ctx, s, func(t *Trace) func(context.Context, LMStartInfo) { return t.LMStart }, begin)
	}
	var resp *lm.Response
	var start time.Time
	if traced || s.history != nil {
		start = time.Now()
	}
	var first time.Duration // time to the first chunk
	var chunks int
	if sink != nil {
		resp, first, chunks, err = streamLM(ctx, model, req, sink, start)
	} else {
		resp, err = model.Generate(ctx, req)
	}
	recordHistory(s, model, req, start, resp, err, sink != nil)
	if traced {
		fire(ctx, s, func(t *Trace) func(context.Context, LMEndInfo) { return t.LMEnd },
			LMEndInfo{CallInfo: info, LM: model, Response: resp, Err: err, Duration: time.Since(start), FirstChunk: first, Chunks: chunks})
	}
	if err != nil {
		return nil, err
	}
	recordUsage(ctx, resp.Usage)
	if len(resp.Choices) == 0 {
		return nil, fmt.Errorf("dspy: LM returned no choices")
	}

	pred := &Prediction{Usage: resp.Usage}
	for i, ch := range resp.Choices {
		text := ch.Message.Content
		if traced {
			fire(ctx, s, func(t *Trace) func(context.Context, ParseStartInfo) { return t.ParseStart },
				ParseStartInfo{CallInfo: info, Adapter: adapter, Signature: p.sig, Text: text})
		}
		vals, err := adapter.Parse(p.sig, text)
		if err == nil && ch.Message.Reasoning != "" {
			// A provider's native reasoning fills a "reasoning" output the
			// reply itself left out.
			if _, ok := p.sig.Output("reasoning"); ok {
				if v, _ := vals["reasoning"].(string); v == "" {
					vals["reasoning"] = ch.Message.Reasoning
				}
			}
		}
		if traced {
			fire(ctx, s, func(t *Trace) func(context.Context, ParseEndInfo) { return t.ParseEnd },
				ParseEndInfo{CallInfo: info, Adapter: adapter, Outputs: vals, Err: err})
		}
		if err != nil {
			if i == 0 {
				return nil, err
			}
			continue // DSPy drops unparsable extra completions
		}
		if i == 0 {
			pred.values = vals
			pred.names = outputNames(p.sig)
		}
		if len(resp.Choices) > 1 {
			pred.Completions = append(pred.Completions, vals)
		}
	}
	return pred, nil
}

func outputNames(sig *Signature) []string {
	names := make([]string, len(sig.outputs))
	for i, f := range sig.outputs {
		names[i] = f.Name
	}
	return names
}

// streamLM streams the LM reply into sink and assembles the response. With
// a non-zero start it reports the time from start to the first chunk; n is
// the number of chunks received.
func streamLM(ctx context.Context, model lm.LM, req *lm.Request, sink streamhook.Chunks, start time.Time) (resp *lm.Response, first time.Duration, n int, err error) {
	defer func() { sink.Close(err) }()
	var acc lm.Accumulator
	for c, serr := range model.Stream(ctx, req) {
		if serr != nil {
			var se *lm.StreamError
			if n == 0 || errors.As(serr, &se) {
				return nil, first, n, serr // a provider's StreamError already holds the partial reply
			}
			return nil, first, n, &lm.StreamError{Partial: acc.Response(), Err: serr}
		}
		if n == 0 && !start.IsZero() {
			first = time.Since(start)
		}
		n++
		acc.Add(c)
		if err := sink.Chunk(c); err != nil {
			return nil, first, n, err
		}
	}
	r := acc.Response()
	return &r, first, n, nil
}
