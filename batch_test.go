package dspy

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/godspy/dspy/dspytest"
	"github.com/godspy/dspy/lm"
)

// gauge is a module that records its peak concurrency.
type gauge struct {
	cur, peak atomic.Int32
	fail      func(in Inputs) error
	delay     time.Duration
}

func (g *gauge) Forward(ctx context.Context, in Inputs) (*Prediction, error) {
	n := g.cur.Add(1)
	defer g.cur.Add(-1)
	for {
		p := g.peak.Load()
		if n <= p || g.peak.CompareAndSwap(p, n) {
			break
		}
	}
	select {
	case <-time.After(g.delay):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if g.fail != nil {
		if err := g.fail(in); err != nil {
			return nil, err
		}
	}
	return NewPrediction([]string{"out"}, map[string]any{"out": in["i"]}), nil
}

func inputs(n int) []Inputs {
	var ins []Inputs
	for i := range n {
		ins = append(ins, Inputs{"i": i})
	}
	return ins
}

func TestBatchOrderAndConcurrency(t *testing.T) {
	g := &gauge{delay: 2 * time.Millisecond}
	var mu sync.Mutex
	var last BatchProgress
	calls := 0
	res, err := Batch(context.Background(), g, inputs(40), BatchOptions{
		Concurrency: 5,
		Progress: func(p BatchProgress) {
			mu.Lock()
			defer mu.Unlock()
			calls++
			last = p
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Err != nil || r.Prediction.Get("out") != i {
			t.Fatalf("result %d = %v, %v; want %d", i, r.Prediction.Get("out"), r.Err, i)
		}
	}
	if p := g.peak.Load(); p > 5 {
		t.Errorf("peak concurrency %d, want <= 5", p)
	}
	if calls != 40 || last != (BatchProgress{Done: 40, Total: 40}) {
		t.Errorf("progress called %d times, last %+v", calls, last)
	}
}

func TestBatchMaxErrorsCancelsRest(t *testing.T) {
	boom := errors.New("boom")
	g := &gauge{delay: time.Millisecond, fail: func(in Inputs) error {
		if in["i"].(int)%2 == 0 {
			return fmt.Errorf("item %d: %w", in["i"], boom)
		}
		return nil
	}}
	res, err := Batch(context.Background(), g, inputs(100), BatchOptions{Concurrency: 2, MaxErrors: 3})
	if !errors.Is(err, ErrTooManyErrors) || !errors.Is(err, boom) {
		t.Fatalf("err = %v, want ErrTooManyErrors wrapping the item error", err)
	}
	if res[99].Err == nil {
		t.Errorf("last item ran, want it cancelled")
	}
	if len(res) != 100 {
		t.Errorf("len(results) = %d, want 100", len(res))
	}
}

func TestBatchDefaultConcurrencyWithPredict(t *testing.T) {
	model := dspytest.NewScriptedLMFunc(func(req *lm.Request) (dspytest.Reply, error) {
		return dspytest.Reply{Text: dspytest.ChatReply("answer", "ok")}, nil
	})
	ctx := WithSettings(context.Background(), WithLM(model))
	var ins []Inputs
	for i := range 20 {
		ins = append(ins, Inputs{"question": fmt.Sprint(i)})
	}
	res, err := Batch(ctx, NewPredict("question -> answer"), ins, BatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Err != nil || r.Prediction.Get("answer") != "ok" {
			t.Errorf("item %d: %v %v", i, r.Prediction, r.Err)
		}
	}
}

type panicky struct{ at string }

func (p panicky) Forward(_ context.Context, in Inputs) (*Prediction, error) {
	if in["q"] == p.at {
		var m map[string]int
		m["x"]++ //lint:ignore SA5000 the bug on purpose: a runtime error, as a real one would be
	}
	return NewPrediction([]string{"a"}, map[string]any{"a": in["q"]}), nil
}

// A panicking item is that item's *PanicError; the others run and the
// process goes on.
func TestBatchPanicIsItemError(t *testing.T) {
	inputs := []Inputs{{"q": "1"}, {"q": "boom"}, {"q": "3"}}
	res, err := Batch(context.Background(), panicky{at: "boom"}, inputs, BatchOptions{Concurrency: 2})
	if err != nil {
		t.Fatalf("Batch() error = %v", err)
	}
	var pe *PanicError
	if !errors.As(res[1].Err, &pe) || !strings.Contains(fmt.Sprint(pe.Value), "assignment to entry in nil map") {
		t.Fatalf("item 1: err = %v, want a *PanicError with the runtime error", res[1].Err)
	}
	var re runtime.Error
	if !errors.As(res[1].Err, &re) {
		t.Errorf("item 1: the PanicError does not unwrap to the runtime.Error")
	}
	if !strings.Contains(string(pe.Stack), "batch_test.go") {
		t.Errorf("the stack does not show where it panicked:\n%s", pe.Stack)
	}
	for _, i := range []int{0, 2} {
		if res[i].Err != nil || res[i].Prediction.Get("a") != inputs[i]["q"] {
			t.Errorf("item %d = %v, %v; want its own prediction", i, res[i].Prediction, res[i].Err)
		}
	}
}
