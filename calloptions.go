package dspy

import (
	"context"

	"github.com/godspy/dspy/lm"
)

// CallOption adjusts the LM requests of every Predict that runs under a
// context; see WithCallOptions. WithRolloutID is one, and so is every
// RequestOption (WithTemperature, WithMaxTokens).
type CallOption interface {
	applyCall(*callOptions)
}

type callOptions struct {
	rolloutID   string
	temperature *float64
	maxTokens   int
}

type callOptionFunc func(*callOptions)

func (f callOptionFunc) applyCall(c *callOptions) { f(c) }

// WithRolloutID sets lm.Request.RolloutID: otherwise identical requests
// with different rollout ids are different cache entries, so each gets a
// fresh sample. BestOfN and Refine give each attempt its own.
func WithRolloutID(id string) CallOption {
	return callOptionFunc(func(c *callOptions) { c.rolloutID = id })
}

type callOptionsKey struct{}

// WithCallOptions returns a context in which every Predict call applies opts
// to its LM request: DSPy's dspy.context(lm=lm.copy(rollout_id=...,
// temperature=...)), scoped to ctx. Options given here override those of an
// enclosing WithCallOptions; a predictor's own WithTemperature or
// WithMaxTokens wins over them.
func WithCallOptions(ctx context.Context, opts ...CallOption) context.Context {
	var c callOptions
	if cur, ok := ctx.Value(callOptionsKey{}).(*callOptions); ok {
		c = *cur
	}
	for _, o := range opts {
		o.applyCall(&c)
	}
	return context.WithValue(ctx, callOptionsKey{}, &c)
}

// applyCallOptions applies the call options in ctx to req; Predict calls it
// on each request it builds.
func applyCallOptions(ctx context.Context, req *lm.Request) {
	c, ok := ctx.Value(callOptionsKey{}).(*callOptions)
	if !ok {
		return
	}
	if c.rolloutID != "" {
		req.RolloutID = c.rolloutID
	}
	if c.temperature != nil && req.Temperature == nil {
		t := *c.temperature
		req.Temperature = &t
	}
	if c.maxTokens > 0 && req.MaxTokens == 0 {
		req.MaxTokens = c.maxTokens
	}
}

// A RequestOption sets a parameter of LM requests. Where it is given says
// what it applies to: given to NewPredict (or another module constructor),
// that module's requests; to NewLM, every request of that LM; to
// WithCallOptions, every request made under the context. A module's own
// value wins over the context's, and both over the LM's, as in DSPy, where
// a predictor's config overrides the LM's defaults.
type RequestOption interface {
	PredictOption
	LMOption
	CallOption
}

// WithTemperature sets the sampling temperature (see RequestOption for
// where it applies).
func WithTemperature(t float64) RequestOption { return temperatureOption(t) }

// WithMaxTokens caps the tokens of each reply (see RequestOption for where
// it applies). Zero leaves the cap to the layer below.
func WithMaxTokens(n int) RequestOption { return maxTokensOption(n) }

type temperatureOption float64

func (o temperatureOption) applyPredict(c *predictConfig) { t := float64(o); c.temperature = &t }
func (o temperatureOption) applyLM(c *lmConfig)           { t := float64(o); c.temperature = &t }
func (o temperatureOption) applyCall(c *callOptions)      { t := float64(o); c.temperature = &t }

type maxTokensOption int

func (o maxTokensOption) applyPredict(c *predictConfig) { c.maxTokens = int(o) }
func (o maxTokensOption) applyLM(c *lmConfig)           { c.maxTokens = int(o) }
func (o maxTokensOption) applyCall(c *callOptions)      { c.maxTokens = int(o) }
