package dspy

import (
	"context"
	"runtime/debug"
	"sync"
)

// Future is the result of work started with ACall or Go: DSPy's awaitable.
// The work runs on a goroutine that the Future owns; it ends when the work
// returns, whether or not anyone awaits it.
//
// Panics: a panic in the work is recovered on the Future's goroutine and
// becomes its error, a *PanicError holding the value and the stack, so it
// is neither lost nor able to crash the process from a goroutine the caller
// does not own.
type Future[T any] struct {
	done   chan struct{}
	cancel context.CancelFunc
	val    T
	err    error

	mu      sync.Mutex
	waiters []waiter
}

type waiter struct {
	ch chan<- int
	i  int
}

// Go runs fn on a new goroutine with a child of ctx and returns its Future.
func Go[T any](ctx context.Context, fn func(ctx context.Context) (T, error)) *Future[T] {
	ctx, cancel := context.WithCancel(ctx)
	f := &Future[T]{done: make(chan struct{}), cancel: cancel}
	go func() {
		defer f.finish()
		defer recoverPanic(&f.err)
		f.val, f.err = fn(ctx)
	}()
	return f
}

func (f *Future[T]) finish() {
	f.cancel() // release the context's resources
	f.mu.Lock()
	close(f.done)
	ws := f.waiters
	f.waiters = nil
	f.mu.Unlock()
	for _, w := range ws {
		w.ch <- w.i // buffered by the waiter: never blocks
	}
}

// notify sends i on ch when f completes (at once if it has).
func (f *Future[T]) notify(ch chan<- int, i int) {
	f.mu.Lock()
	select {
	case <-f.done:
		f.mu.Unlock()
		ch <- i
		return
	default:
	}
	f.waiters = append(f.waiters, waiter{ch, i})
	f.mu.Unlock()
}

// Done is closed when the work has ended.
func (f *Future[T]) Done() <-chan struct{} { return f.done }

// Cancel cancels the work's context. It does not wait; Await does.
func (f *Future[T]) Cancel() { f.cancel() }

// Await waits for the work and returns its result. If ctx ends first, Await
// returns context.Cause(ctx) and the work goes on (Cancel it if it should
// not).
func (f *Future[T]) Await(ctx context.Context) (T, error) {
	select {
	case <-f.done:
		return f.result()
	default:
	}
	select {
	case <-f.done:
		return f.result()
	case <-ctx.Done():
		var zero T
		return zero, context.Cause(ctx)
	}
}

func (f *Future[T]) result() (T, error) { return f.val, f.err }

// Gather awaits futures and returns their results in order: DSPy's
// asyncio.gather. The first error (in time; a panic is a *PanicError)
// cancels the other futures and is returned. If ctx ends, every future is
// cancelled and context.Cause(ctx) returned. Gather returns only after
// every future has ended, so no work outlives it.
func Gather[T any](ctx context.Context, futs ...*Future[T]) ([]T, error) {
	ch := make(chan int, len(futs))
	for i, f := range futs {
		f.notify(ch, i)
	}
	var firstErr error
	remaining := len(futs)
	cancelAll := func() {
		for _, f := range futs {
			f.cancel()
		}
	}
	ctxDone := ctx.Done()
	for remaining > 0 {
		select {
		case i := <-ch:
			remaining--
			f := futs[i]
			if f.err != nil && firstErr == nil {
				firstErr = f.err
				cancelAll()
			}
		case <-ctxDone:
			if firstErr == nil {
				firstErr = context.Cause(ctx)
			}
			cancelAll()
			ctxDone = nil // keep draining until all have ended
		}
	}
	if firstErr != nil {
		return nil, firstErr
	}
	out := make([]T, len(futs))
	for i, f := range futs {
		out[i] = f.val
	}
	return out, nil
}

// recoverPanic, deferred at the top of a goroutine godspy starts, turns a
// panic into a *PanicError stored in *errp: the goroutine's owner receives
// it where the result would have been.
func recoverPanic(errp *error) {
	if r := recover(); r != nil {
		*errp = &PanicError{Value: r, Stack: debug.Stack()}
	}
}
