package dspy

import (
	"context"
	"fmt"
)

// ParallelTask is one unit of work for Parallel: a module and its inputs
// (one of DSPy's exec_pairs).
type ParallelTask struct {
	Module Module
	Inputs Inputs
}

// Parallel runs a list of (module, inputs) tasks with bounded concurrency,
// a cap on errors and a progress callback, and returns the results in task
// order: DSPy's dspy.Parallel. It is a thin layer over Batch and shares its
// options and behaviour; the zero value runs 8 tasks at a time with no error
// cap. A Parallel is a plain value, safe for concurrent use.
type Parallel struct {
	// Options are Batch's: Concurrency, MaxErrors, Progress.
	Options BatchOptions
}

// NewParallel returns a Parallel with the given options.
func NewParallel(opts BatchOptions) *Parallel { return &Parallel{Options: opts} }

// Run runs every task and returns one result per task, in order, each with
// its own error. The error is non-nil when the run stopped early, as Batch
// reports it: ErrTooManyErrors (wrapping the last task error) or ctx's
// error; tasks that did not run then carry that error. A task with a nil
// Module fails with an error naming it.
func (p *Parallel) Run(ctx context.Context, tasks []ParallelTask) ([]BatchResult, error) {
	inputs := make([]Inputs, len(tasks))
	for i := range tasks {
		inputs[i] = Inputs{parallelIndexKey: i}
	}
	return Batch(ctx, parallelTasks(tasks), inputs, p.Options)
}

// ARun starts Run and returns its Future.
func (p *Parallel) ARun(ctx context.Context, tasks []ParallelTask) *Future[[]BatchResult] {
	return Go(ctx, func(ctx context.Context) ([]BatchResult, error) { return p.Run(ctx, tasks) })
}

// parallelIndexKey carries a task's index through Batch. It is not an
// identifier, so it cannot be a signature's field name, and it never
// reaches the task's module.
const parallelIndexKey = "#parallel-task"

// parallelTasks is the module Batch runs for Parallel: it dispatches each
// item to its task's module.
type parallelTasks []ParallelTask

// Forward implements Module.
func (ts parallelTasks) Forward(ctx context.Context, in Inputs) (*Prediction, error) {
	i, ok := in[parallelIndexKey].(int)
	if !ok || i < 0 || i >= len(ts) {
		return nil, fmt.Errorf("dspy: Parallel: bad task index %v", in[parallelIndexKey])
	}
	t := ts[i]
	if t.Module == nil {
		return nil, fmt.Errorf("dspy: Parallel: task %d has a nil Module", i)
	}
	return Call(ctx, t.Module, t.Inputs)
}
