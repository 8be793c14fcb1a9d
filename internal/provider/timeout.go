package provider

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Defaults of the providers' stall protection, which their With options
// document.
const (
	// DefaultIdleTimeout is the longest a stream may be silent: from the
	// request to the response headers, and between two events.
	DefaultIdleTimeout = 60 * time.Second
	// DefaultTimeout bounds a blocking call, retries and their waits
	// included.
	DefaultTimeout = 10 * time.Minute
)

// Duration resolves an option's value: 0 is def, a negative value is none
// (0), any other is itself.
func Duration(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return d
}

var errTimeout = errors.New("call timeout")

// Bound runs call with ctx bounded by d (d <= 0: not bounded). When d ends
// the call, its error says so, naming the provider, and still matches
// context.DeadlineExceeded; the caller's own deadline or cancellation is
// returned as call returned it.
func Bound(ctx context.Context, name string, d time.Duration, call func(ctx context.Context) error) error {
	if d <= 0 {
		return call(ctx)
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= d {
		// The caller's deadline comes first: the bound cannot end the
		// call, and a context of its own (a timer, and a child in the
		// parent's list) would be held for nothing while it waits.
		return call(ctx)
	}
	bctx, cancel := context.WithTimeoutCause(ctx, d, errTimeout)
	defer cancel()
	err := call(bctx)
	if err != nil && ctx.Err() == nil && errors.Is(context.Cause(bctx), errTimeout) {
		return fmt.Errorf("%s: no reply within %v: %w", name, d, err)
	}
	return err
}
