package dspy_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/godspy/dspy"
)

// echoModule answers with its input after a delay; "fail" fails.
type echoModule struct {
	delay       time.Duration
	inFlight    atomic.Int32
	maxInFlight atomic.Int32
}

func (m *echoModule) Forward(ctx context.Context, in dspy.Inputs) (*dspy.Prediction, error) {
	n := m.inFlight.Add(1)
	defer m.inFlight.Add(-1)
	for {
		old := m.maxInFlight.Load()
		if n <= old || m.maxInFlight.CompareAndSwap(old, n) {
			break
		}
	}
	select {
	case <-time.After(m.delay):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if in["x"] == "fail" {
		return nil, errors.New("failed on purpose")
	}
	return dspy.NewPrediction([]string{"y"}, map[string]any{"y": in["x"]}), nil
}

func TestParallelOrderAndLimit(t *testing.T) {
	fast, slow := &echoModule{delay: time.Millisecond}, &echoModule{delay: 5 * time.Millisecond}
	var tasks []dspy.ParallelTask
	for i := range 10 {
		m := fast
		if i%2 == 0 {
			m = slow
		}
		tasks = append(tasks, dspy.ParallelTask{Module: m, Inputs: dspy.Inputs{"x": fmt.Sprint(i)}})
	}
	var mu sync.Mutex
	var progress []dspy.BatchProgress
	p := dspy.NewParallel(dspy.BatchOptions{Concurrency: 3, Progress: func(bp dspy.BatchProgress) {
		mu.Lock()
		progress = append(progress, bp)
		mu.Unlock()
	}})
	res, err := p.Run(context.Background(), tasks)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	for i, r := range res {
		if r.Err != nil || r.Prediction.Get("y") != fmt.Sprint(i) {
			t.Errorf("result %d = %v, %v; want y=%d", i, r.Prediction, r.Err, i)
		}
	}
	if len(progress) != 10 || progress[9] != (dspy.BatchProgress{Done: 10, Total: 10}) {
		t.Errorf("progress = %v, want 10 reports ending with 10 of 10 done", progress)
	}
}

func TestParallelConcurrencyBound(t *testing.T) {
	m := &echoModule{delay: 2 * time.Millisecond}
	tasks := make([]dspy.ParallelTask, 12)
	for i := range tasks {
		tasks[i] = dspy.ParallelTask{Module: m, Inputs: dspy.Inputs{"x": i}}
	}
	if _, err := dspy.NewParallel(dspy.BatchOptions{Concurrency: 4}).Run(context.Background(), tasks); err != nil {
		t.Fatal(err)
	}
	if got := m.maxInFlight.Load(); got > 4 {
		t.Errorf("%d tasks ran at once, want at most 4", got)
	}
}

func TestParallelMaxErrors(t *testing.T) {
	m := &echoModule{delay: time.Millisecond}
	tasks := []dspy.ParallelTask{
		{Module: m, Inputs: dspy.Inputs{"x": "fail"}},
		{Module: m, Inputs: dspy.Inputs{"x": "fail"}},
		{Module: nil, Inputs: dspy.Inputs{"x": "3"}},
	}
	for i := range 20 {
		tasks = append(tasks, dspy.ParallelTask{Module: m, Inputs: dspy.Inputs{"x": fmt.Sprint(i)}})
	}
	var p dspy.Parallel // the zero value works
	p.Options.MaxErrors = 2
	p.Options.Concurrency = 1
	res, err := p.ARun(context.Background(), tasks).Await(context.Background())
	if !errors.Is(err, dspy.ErrTooManyErrors) {
		t.Fatalf("Run error = %v, want ErrTooManyErrors", err)
	}
	if res[2].Err == nil || res[2].Err.Error() != "dspy: Parallel: task 2 has a nil Module" {
		t.Errorf("task 2 error = %v, want one naming the nil Module", res[2].Err)
	}
	if res[len(res)-1].Err == nil {
		t.Error("the last task ran after the error cap was passed")
	}
}
