package lm

import (
	"context"
	"time"
)

// Trace is a set of hooks that observe the waits inside an LM call: a
// retry's backoff and a Limited LM's wait for capacity. It has the shape of
// net/http/httptrace.ClientTrace: every field is optional, and it travels
// in the context of the call (WithTrace). RetryPolicy (Do and Stream, so
// every provider) and Limited fire it.
//
// Hooks run synchronously on the goroutine of the call and must be quick.
type Trace struct {
	// Retry is called when a failed attempt is about to be retried, before
	// the wait.
	Retry func(ctx context.Context, info RetryInfo)
	// LimitWait is called when a Limited LM has waited for capacity for a
	// call (its rate and concurrency limits), or gave up waiting.
	LimitWait func(ctx context.Context, info LimitWaitInfo)
}

// RetryInfo describes a retry about to happen.
type RetryInfo struct {
	// Attempt numbers the retry: 1 for the first one.
	Attempt int
	// Err is the failure of the attempt before it.
	Err error
	// Delay is the wait before the retry (a server's Retry-After, or the
	// backoff).
	Delay time.Duration
}

// LimitWaitInfo describes a wait for a Limited LM's capacity.
type LimitWaitInfo struct {
	// Duration is how long the call waited (near zero when capacity was
	// free).
	Duration time.Duration
	// Err is set when the wait ended without capacity (the context ended).
	Err error
}

type traceKey struct{}

// WithTrace returns a context whose LM calls fire t's hooks. A trace
// already in ctx keeps firing too: t's hooks are called first.
func WithTrace(ctx context.Context, t *Trace) context.Context {
	if t == nil {
		return ctx
	}
	if old := ContextTrace(ctx); old != nil {
		t = &Trace{
			Retry:     composeHook(t.Retry, old.Retry),
			LimitWait: composeHook(t.LimitWait, old.LimitWait),
		}
	}
	return context.WithValue(ctx, traceKey{}, t)
}

// ContextTrace returns the Trace in ctx, or nil.
func ContextTrace(ctx context.Context) *Trace {
	t, _ := ctx.Value(traceKey{}).(*Trace)
	return t
}

func composeHook[I any](f, g func(context.Context, I)) func(context.Context, I) {
	switch {
	case f == nil:
		return g
	case g == nil:
		return f
	}
	return func(ctx context.Context, i I) { f(ctx, i); g(ctx, i) }
}
