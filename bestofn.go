package dspy

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/godspy/dspy/lm"
)

// ErrTooManyFailures is returned by BestOfN and Refine when more attempts
// failed than their FailCount allows, or when every attempt failed. The
// error wraps the last attempt's error too.
var ErrTooManyFailures = errors.New("dspy: too many failed attempts")

// RewardFunc scores a prediction made from in: higher is better. BestOfN and
// Refine stop at the first prediction whose reward reaches their threshold.
// It is called from the goroutine that ran the attempt, so under BestOfN
// several calls may run at once.
type RewardFunc func(in Inputs, pred *Prediction) float64

// CallOption adjusts the LM requests of every Predict that runs under a
// context; see WithCallOptions.
type CallOption interface {
	applyCall(*callOptions)
}

type callOptions struct {
	rolloutID   string
	temperature *float64
}

type callOptionFunc func(*callOptions)

func (f callOptionFunc) applyCall(c *callOptions) { f(c) }

// RolloutID sets lm.Request.RolloutID: otherwise identical requests with
// different rollout ids are different cache entries, so each gets a fresh
// sample. BestOfN and Refine give each attempt its own.
func RolloutID(id string) CallOption {
	return callOptionFunc(func(c *callOptions) { c.rolloutID = id })
}

// CallTemperature sets the temperature of requests whose Predict has no
// Temperature option of its own (a predictor's own setting wins, as in DSPy,
// where a predictor's config overrides the LM's defaults).
func CallTemperature(t float64) CallOption {
	return callOptionFunc(func(c *callOptions) { c.temperature = &t })
}

type callOptionsKey struct{}

// WithCallOptions returns a context in which every Predict call applies opts
// to its LM request: DSPy's dspy.context(lm=lm.copy(rollout_id=...,
// temperature=...)), scoped to ctx. Options given here override those of an
// enclosing WithCallOptions.
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
}

// attemptContext returns the context of attempt i: its own rollout id
// (nested under an enclosing one, so attempts of nested BestOfN or Refine
// stay distinct) and temperature 1.0, as DSPy's BestOfN and Refine use.
func attemptContext(ctx context.Context, i int) context.Context {
	id := strconv.Itoa(i)
	if c, ok := ctx.Value(callOptionsKey{}).(*callOptions); ok && c.rolloutID != "" {
		id = c.rolloutID + "." + id
	}
	return WithCallOptions(ctx, RolloutID(id), CallTemperature(1.0))
}

// BestOfNOption configures NewBestOfN.
type BestOfNOption interface {
	applyBestOfN(*bestOfNConfig)
}

type bestOfNConfig struct {
	concurrency int
	failCount   int
}

type bestOfNOptionFunc func(*bestOfNConfig)

func (f bestOfNOptionFunc) applyBestOfN(c *bestOfNConfig) { f(c) }

// ConcurrentAttempts caps how many of BestOfN's attempts run at once; the
// default, and any value below 1, is N: all at once.
func ConcurrentAttempts(k int) BestOfNOption {
	return bestOfNOptionFunc(func(c *bestOfNConfig) { c.concurrency = k })
}

type failCountOption int

func (o failCountOption) applyBestOfN(c *bestOfNConfig) { c.failCount = int(o) }
func (o failCountOption) applyRefine(c *refineConfig)   { c.failCount = int(o) }

// FailCount sets how many failed attempts BestOfN or Refine tolerate, as
// DSPy's fail_count; one more ends the call with ErrTooManyFailures. The
// default, and any value below 1, is N.
func FailCount(k int) interface {
	BestOfNOption
	RefineOption
} {
	return failCountOption(k)
}

// BestOfN runs a module up to N times, each attempt with its own rollout id
// at temperature 1.0, and returns the first prediction whose reward reaches
// the threshold, or else the one with the highest reward: DSPy's BestOfN.
//
// Unlike DSPy, the attempts run concurrently (see ConcurrentAttempts), so N
// attempts take about as long as one. "First" is in completion order; once
// one passes, the attempts still running are cancelled and BestOfN returns
// when they have ended. Among attempts below the threshold the highest
// reward wins, ties going to the lower attempt number.
//
// The module is reachable at the path "module", so a streaming listener can
// bind to its predictors ("module.predict" for a ChainOfThought).
type BestOfN struct {
	// Module is the module to run.
	Module    Module
	n         int
	reward    RewardFunc
	threshold float64
	cfg       bestOfNConfig
}

// NewBestOfN returns a BestOfN that runs m up to n times, scoring each
// prediction with reward. n below 1 is taken as 1. A nil reward scores
// every prediction 0.
func NewBestOfN(m Module, n int, reward RewardFunc, threshold float64, opts ...BestOfNOption) *BestOfN {
	b := &BestOfN{Module: m, n: max(n, 1), reward: reward, threshold: threshold}
	for _, o := range opts {
		o.applyBestOfN(&b.cfg)
	}
	return b
}

// Call runs the module: dspy.Call(ctx, b, in).
func (b *BestOfN) Call(ctx context.Context, in Inputs) (*Prediction, error) {
	return Call(ctx, b, in)
}

// ACall starts the module and returns its Future.
func (b *BestOfN) ACall(ctx context.Context, in Inputs) *Future[*Prediction] {
	return ACall(ctx, b, in)
}

// bestOfNAttempt is one attempt's outcome.
type bestOfNAttempt struct {
	pred   *Prediction
	reward float64
}

// rewardOf returns the reward of pred, 0 without a reward function.
func rewardOf(reward RewardFunc, in Inputs, pred *Prediction) float64 {
	if reward == nil {
		return 0
	}
	return reward(in, pred)
}

// Forward implements Module.
func (b *BestOfN) Forward(ctx context.Context, in Inputs) (*Prediction, error) {
	if b.Module == nil {
		return nil, errors.New("dspy: BestOfN: nil Module")
	}
	limit := b.cfg.concurrency
	if limit < 1 || limit > b.n {
		limit = b.n
	}
	failLimit := b.cfg.failCount
	if failLimit < 1 {
		failLimit = b.n
	}

	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	futs := make([]*Future[bestOfNAttempt], 0, b.n)
	done := make(chan int, b.n) // attempt numbers, in completion order
	start := func() {
		i := len(futs)
		f := Go(attemptContext(ctx, i), func(ctx context.Context) (bestOfNAttempt, error) {
			pred, err := Call(ctx, b.Module, in)
			if err != nil {
				return bestOfNAttempt{}, err
			}
			return bestOfNAttempt{pred: pred, reward: rewardOf(b.reward, in, pred)}, nil
		})
		futs = append(futs, f)
		f.notify(done, i)
	}
	for len(futs) < limit {
		start()
	}

	var (
		best             *Prediction
		bestReward       float64
		bestIdx          int
		passed, stopped  bool
		failed, finished int
		lastErr, ctxErr  error
		panicVal         any
	)
	stop := func() {
		stopped = true
		cancel() // the attempts still running see ctx.Done
	}
	// Every started attempt is awaited, also after a stop, so none
	// outlives Forward.
	for finished < len(futs) {
		i := <-done
		finished++
		f := futs[i]
		if f.panic != nil && panicVal == nil {
			panicVal = f.panic
			stop()
		}
		if stopped {
			continue
		}
		if f.err != nil {
			lastErr = f.err
			if parent.Err() != nil {
				ctxErr = context.Cause(parent)
				stop()
				continue
			}
			failed++
			current(ctx).logger.WarnContext(ctx, "dspy: BestOfN: attempt failed", "attempt", i+1, "err", f.err)
			if failed > failLimit {
				stop()
				continue
			}
		} else {
			a := f.val
			if best == nil || a.reward > bestReward || (a.reward == bestReward && i < bestIdx) {
				best, bestReward, bestIdx = a.pred, a.reward, i
			}
			if a.reward >= b.threshold {
				best, passed = a.pred, true
				stop()
				continue
			}
		}
		if len(futs) < b.n {
			start()
		}
	}
	switch {
	case panicVal != nil:
		panic(panicVal)
	case passed:
		return best, nil
	case ctxErr != nil:
		return nil, ctxErr
	case failed > failLimit || best == nil:
		return nil, fmt.Errorf("%w (%d of %d attempts failed, %d tolerated): %w", ErrTooManyFailures, failed, len(futs), failLimit, lastErr)
	}
	return best, nil
}
