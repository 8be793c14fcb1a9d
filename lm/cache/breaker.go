package cache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// ErrBreakerOpen is wrapped by the error a Breaker returns for an operation
// it skipped because its store has been failing. The cache treats it as a
// miss (or a dropped write) and counts it in Stats.Skipped.
var ErrBreakerOpen = errors.New("cache: store skipped: circuit breaker open")

// Defaults of a Breaker.
const (
	DefaultBreakerFailures   = 3
	DefaultBreakerBackoff    = time.Second
	DefaultBreakerMaxBackoff = 30 * time.Second
	DefaultBreakerTimeout    = 250 * time.Millisecond
)

// BreakerState is the state of a Breaker.
type BreakerState int32

const (
	// BreakerNone: there is no breaker (LM.Stats of a cache without one).
	BreakerNone BreakerState = iota
	// BreakerClosed: operations go to the store.
	BreakerClosed
	// BreakerHalfOpen: the back-off has ended and one operation is probing
	// the store; the others are still skipped.
	BreakerHalfOpen
	// BreakerOpen: operations are skipped until the back-off ends.
	BreakerOpen
)

func (s BreakerState) String() string {
	switch s {
	case BreakerNone:
		return "none"
	case BreakerClosed:
		return "closed"
	case BreakerHalfOpen:
		return "half-open"
	case BreakerOpen:
		return "open"
	}
	return fmt.Sprintf("BreakerState(%d)", int32(s))
}

// Breaker is a Store that protects its callers from a failing store, such
// as a remote one that is down or stalled: every operation is bounded by a
// timeout, and after a run of failures the store is skipped for a back-off
// period (the breaker is open), so that an outage costs a call nanoseconds
// instead of a dial or read timeout. When the back-off ends, one operation
// probes the store; success closes the breaker, failure opens it again for
// twice as long, up to a maximum.
//
// New wraps Config.Remote in a Breaker with the defaults; wrap a store
// yourself (and give that to Config.Remote, which keeps it) to set other
// values. Only failures of the store count: a miss is a success, and an
// operation whose own context ended is neither.
//
// The timeout reaches the store through the context. A store must
// therefore honour its context's deadline, also while it dials or reads:
// rediscache.Open's clients do (redis.Options.ContextTimeoutEnabled).
type Breaker struct {
	s        Store
	failures int
	first    time.Duration
	max      time.Duration
	timeout  time.Duration
	gate     logGate // the rate limit of log lines about this store

	mu          sync.Mutex
	state       BreakerState
	consecutive int           // failures in a row while closed
	backoff     time.Duration // the current (or next) open period
	until       time.Time     // end of the open period

	failed, skipped, opened atomic.Uint64
}

var _ Store = (*Breaker)(nil)

// BreakerOption configures NewBreaker.
type BreakerOption interface{ applyBreaker(*Breaker) }

type breakerOptionFunc func(*Breaker)

func (f breakerOptionFunc) applyBreaker(b *Breaker) { f(b) }

// WithFailures sets how many failures in a row open the breaker (default
// DefaultBreakerFailures; at least 1).
func WithFailures(n int) BreakerOption {
	return breakerOptionFunc(func(b *Breaker) { b.failures = max(1, n) })
}

// WithBackoff sets how long the breaker stays open the first time (default
// DefaultBreakerBackoff) and the most it doubles to while probes keep
// failing (default DefaultBreakerMaxBackoff).
func WithBackoff(first, max time.Duration) BreakerOption {
	return breakerOptionFunc(func(b *Breaker) { b.first, b.max = first, max })
}

// WithTimeout bounds each operation on the store (default
// DefaultBreakerTimeout); one that takes longer fails. 0 or less: no bound
// but the caller's context.
func WithTimeout(d time.Duration) BreakerOption {
	return breakerOptionFunc(func(b *Breaker) { b.timeout = d })
}

// NewBreaker returns s behind a circuit breaker.
func NewBreaker(s Store, opts ...BreakerOption) *Breaker {
	b := &Breaker{s: s, failures: DefaultBreakerFailures, first: DefaultBreakerBackoff,
		max: DefaultBreakerMaxBackoff, timeout: DefaultBreakerTimeout, state: BreakerClosed}
	for _, o := range opts {
		o.applyBreaker(b)
	}
	b.first = max(b.first, time.Millisecond)
	b.max = max(b.max, b.first)
	b.backoff = b.first
	return b
}

// Unwrap returns the protected store.
func (b *Breaker) Unwrap() Store { return b.s }

// State returns the breaker's state now.
func (b *Breaker) State() BreakerState {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state
}

// BreakerStats counts what a Breaker did since it was made.
type BreakerStats struct {
	State BreakerState
	// Failures is the number of operations the store failed (timeouts
	// included).
	Failures uint64
	// Skipped is the number of operations not tried while the breaker was
	// open (or half-open, with a probe in flight).
	Skipped uint64
	// Opened is the number of times the breaker opened, failed probes
	// included.
	Opened uint64
}

// Stats returns the breaker's counters. It is safe to call at any time.
func (b *Breaker) Stats() BreakerStats {
	return BreakerStats{State: b.State(), Failures: b.failed.Load(), Skipped: b.skipped.Load(), Opened: b.opened.Load()}
}

// Get implements Store.
func (b *Breaker) Get(ctx context.Context, key string) ([]byte, bool, error) {
	probe, err := b.admit()
	if err != nil {
		return nil, false, err
	}
	octx, cancel := b.opContext(ctx)
	v, ok, err := b.s.Get(octx, key)
	cancel()
	b.done(ctx, probe, err)
	if err != nil {
		return nil, false, b.wrap(err)
	}
	return v, ok, nil
}

// Set implements Store.
func (b *Breaker) Set(ctx context.Context, key string, value []byte) error {
	probe, err := b.admit()
	if err != nil {
		return err
	}
	octx, cancel := b.opContext(ctx)
	err = b.s.Set(octx, key, value)
	cancel()
	b.done(ctx, probe, err)
	return b.wrap(err)
}

func (b *Breaker) opContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if b.timeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, b.timeout)
}

// admit says whether an operation may go to the store now, and whether it
// is the probe of a half-open breaker.
func (b *Breaker) admit() (probe bool, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case BreakerClosed:
		return false, nil
	case BreakerOpen:
		if !time.Now().Before(b.until) {
			b.state = BreakerHalfOpen
			return true, nil
		}
	}
	b.skipped.Add(1)
	return false, &breakerError{b: b, err: ErrBreakerOpen}
}

// done records the outcome of an admitted operation.
func (b *Breaker) done(ctx context.Context, probe bool, err error) {
	// The caller's own end is no verdict on the store.
	callerGone := err != nil && ctx.Err() != nil
	if err != nil && !callerGone {
		b.failed.Add(1)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case callerGone:
		if probe {
			b.state = BreakerOpen // the next operation probes again
		}
	case err == nil:
		if probe || b.state == BreakerClosed {
			b.state, b.consecutive, b.backoff = BreakerClosed, 0, b.first
		}
	case probe:
		b.backoff = min(2*b.backoff, b.max)
		b.open()
	case b.state == BreakerClosed:
		b.consecutive++
		if b.consecutive >= b.failures {
			b.open()
		}
	}
}

// open starts an open period of the current back-off; b.mu is held.
func (b *Breaker) open() {
	b.state, b.consecutive = BreakerOpen, 0
	b.until = time.Now().Add(b.backoff)
	b.opened.Add(1)
}

func (b *Breaker) wrap(err error) error {
	if err == nil {
		return nil
	}
	return &breakerError{b: b, err: err}
}

// breakerError marks an error as coming through b, so that the LM can
// rate-limit its log lines per store and report b's state.
type breakerError struct {
	b   *Breaker
	err error
}

func (e *breakerError) Error() string { return e.err.Error() }
func (e *breakerError) Unwrap() error { return e.err }

// breakerState reports the state of the breakers in s: the worst of them
// (open, half-open, closed, in that order), or BreakerNone when s has none that this package can see.
func breakerState(s Store) BreakerState {
	switch s := s.(type) {
	case *Breaker:
		return s.State()
	case *Tiered:
		return max(breakerState(s.front), breakerState(s.back))
	}
	return BreakerNone
}
