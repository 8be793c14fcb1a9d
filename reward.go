package dspy

import (
	"context"
	"errors"
	"strconv"
)

// ErrTooManyFailures is returned by BestOfN and Refine when more attempts
// failed than WithFailCount allows, or when every attempt failed. The
// error wraps the last attempt's error too.
var ErrTooManyFailures = errors.New("dspy: too many failed attempts")

// RewardFunc scores a prediction made from in: higher is better. BestOfN and
// Refine stop at the first prediction whose reward reaches their threshold.
// It is called from the goroutine that ran the attempt, so under BestOfN
// several calls may run at once.
type RewardFunc func(in Inputs, pred *Prediction) float64

type failCountOption int

func (o failCountOption) applyBestOfN(c *bestOfNConfig) { c.failCount = int(o) }
func (o failCountOption) applyRefine(c *refineConfig)   { c.failCount = int(o) }

// An AttemptOption configures both modules that make attempts: BestOfN and
// Refine.
type AttemptOption interface {
	BestOfNOption
	RefineOption
}

// WithFailCount sets how many failed attempts BestOfN or Refine tolerate,
// as DSPy's fail_count; one more ends the call with ErrTooManyFailures. The
// default, and any value below 1, is N.
func WithFailCount(k int) AttemptOption { return failCountOption(k) }

// rewardOf returns the reward of pred, 0 without a reward function.
func rewardOf(reward RewardFunc, in Inputs, pred *Prediction) float64 {
	if reward == nil {
		return 0
	}
	return reward(in, pred)
}

// attemptContext returns the context of attempt i: its own rollout id
// (nested under an enclosing one, so attempts of nested BestOfN or Refine
// stay distinct) and temperature 1.0, as DSPy's BestOfN and Refine use.
func attemptContext(ctx context.Context, i int) context.Context {
	id := strconv.Itoa(i)
	if c, ok := ctx.Value(callOptionsKey{}).(*callOptions); ok && c.rolloutID != "" {
		id = c.rolloutID + "." + id
	}
	return WithCallOptions(ctx, WithRolloutID(id), WithTemperature(1.0))
}
