package dspy

import (
	"context"
	"errors"
	"fmt"
)

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

// WithConcurrency caps how many of BestOfN's attempts run at once; the
// default, and any value below 1, is N: all at once.
func WithConcurrency(k int) BestOfNOption {
	return bestOfNOptionFunc(func(c *bestOfNConfig) { c.concurrency = k })
}

// BestOfN runs a module up to N times, each attempt with its own rollout id
// at temperature 1.0, and returns the first prediction whose reward reaches
// the threshold, or else the one with the highest reward: DSPy's BestOfN.
//
// Unlike DSPy, the attempts run concurrently (see WithConcurrency), so N
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
		panicErr         *PanicError
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
		if pe := (*PanicError)(nil); panicErr == nil && errors.As(f.err, &pe) {
			panicErr = pe // a bug, not a failed attempt: it ends the call
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
	case panicErr != nil:
		return nil, panicErr
	case passed:
		return best, nil
	case ctxErr != nil:
		return nil, ctxErr
	case failed > failLimit || best == nil:
		return nil, fmt.Errorf("%w (%d of %d attempts failed, %d tolerated): %w", ErrTooManyFailures, failed, len(futs), failLimit, lastErr)
	}
	return best, nil
}
