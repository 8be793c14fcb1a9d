package dspy

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// ErrTooManyErrors is returned by Batch when more items failed than
// BatchOptions.MaxErrors allows; the remaining items were cancelled.
var ErrTooManyErrors = errors.New("dspy: batch: too many errors")

// BatchOptions configure Batch. The zero value is ready to use.
type BatchOptions struct {
	// Concurrency is the number of items run at once; 0 means 8.
	Concurrency int
	// MaxErrors is how many failed items are tolerated; one more cancels
	// the rest. 0 means no limit.
	MaxErrors int
	// Progress, if set, is called after each item ends, from one goroutine
	// at a time.
	Progress func(BatchProgress)
}

// BatchProgress reports how far a batch has got.
type BatchProgress struct {
	Done, Failed, Total int
}

// BatchResult is one item's outcome.
type BatchResult struct {
	Prediction *Prediction
	Err        error
}

// Batch runs m on every input with bounded concurrency, DSPy's
// module.batch and dspy.Parallel. Results are in input order, each with its
// own error; an item that panics has a *PanicError and counts as failed. The returned error is non-nil when the batch stopped early:
// ErrTooManyErrors (wrapping the last item error) or ctx's error; results of
// items that did not run then carry that error.
func Batch(ctx context.Context, m Module, inputs []Inputs, opts BatchOptions) ([]BatchResult, error) {
	n := opts.Concurrency
	if n <= 0 {
		n = 8
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	results := make([]BatchResult, len(inputs))
	var (
		mu       sync.Mutex
		done     int
		failed   int
		stopErr  error
		wg       sync.WaitGroup
		sem      = make(chan struct{}, n)
		progress = opts.Progress
	)
	for i, in := range inputs {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			err := context.Cause(ctx)
			for j := i; j < len(inputs); j++ {
				results[j].Err = err
			}
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			pred, err := callRecovered(ctx, m, in)
			results[i] = BatchResult{Prediction: pred, Err: err}
			mu.Lock()
			defer mu.Unlock()
			done++
			if err != nil {
				failed++
				if opts.MaxErrors > 0 && failed > opts.MaxErrors && stopErr == nil {
					stopErr = fmt.Errorf("%w (%d of %d failed): %w", ErrTooManyErrors, failed, len(inputs), err)
					cancel(stopErr)
				}
			}
			if progress != nil {
				progress(BatchProgress{Done: done, Failed: failed, Total: len(inputs)})
			}
		}()
	}
	wg.Wait()
	if stopErr != nil {
		return results, stopErr
	}
	if err := context.Cause(ctx); err != nil {
		return results, err
	}
	return results, nil
}

// callRecovered is Call on a goroutine Batch started: a panic becomes the
// item's *PanicError.
func callRecovered(ctx context.Context, m Module, in Inputs) (pred *Prediction, err error) {
	defer recoverPanic(&err)
	return Call(ctx, m, in)
}
