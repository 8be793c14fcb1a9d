package dspy

import (
	"context"
	"sync"

	"github.com/godspy/dspy/lm"
)

// Module is anything that turns inputs into a prediction: the built-in
// modules and your own programs. One method serves DSPy's forward and
// aforward: Forward blocks, honours ctx, and may fan out inside with ACall
// and Gather.
//
// Call modules through Call (or the Call method of the built-ins) rather
// than Forward directly, so that trace hooks, usage tracking and streaming
// see the call.
type Module interface {
	Forward(ctx context.Context, in Inputs) (*Prediction, error)
}

// Call runs m on in and blocks until it ends: DSPy's module(**kwargs). It
// fires the module trace hooks and, when usage tracking is on, sums the LM
// usage of everything m called into the Prediction.
func Call(ctx context.Context, m Module, in Inputs) (*Prediction, error) {
	s := current(ctx)
	if len(s.traces) == 0 && !s.trackUsage {
		// Nothing observes module boundaries: skip the bookkeeping.
		return m.Forward(ctx, in)
	}
	ctx, frame, info := beginCall(ctx)
	if s.trackUsage {
		frame.usage = &usageCounter{}
	}
	start := ModuleStartInfo{CallInfo: info, Module: m, Inputs: in}
	ctx = derive(ctx, &s, start)
	fire(ctx, &s, func(t *Trace) func(context.Context, ModuleStartInfo) { return t.ModuleStart }, start)
	pred, err := m.Forward(ctx, in)
	if err == nil && pred != nil && frame.usage != nil {
		if _, isPredict := m.(*Predict); !isPredict {
			pred.Usage = frame.usage.total()
		}
	}
	fire(ctx, &s, func(t *Trace) func(context.Context, ModuleEndInfo) { return t.ModuleEnd },
		ModuleEndInfo{CallInfo: info, Module: m, Prediction: pred, Err: err})
	return pred, err
}

// ACall starts m on in and returns at once: DSPy's await module.acall(...).
// The call runs on its own goroutine with ctx; Await the Future for the
// result, or Cancel it.
func ACall(ctx context.Context, m Module, in Inputs) *Future[*Prediction] {
	return Go(ctx, func(ctx context.Context) (*Prediction, error) { return Call(ctx, m, in) })
}

// usageCounter sums LM usage for a module call and its ancestors.
type usageCounter struct {
	mu sync.Mutex
	u  lm.Usage
}

func (c *usageCounter) add(u lm.Usage) {
	c.mu.Lock()
	c.u = c.u.Add(u)
	c.mu.Unlock()
}

func (c *usageCounter) total() lm.Usage {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.u
}

// recordUsage adds u to every usage-counting module call enclosing ctx.
func recordUsage(ctx context.Context, u lm.Usage) {
	f, _ := ctx.Value(callKey{}).(*callFrame)
	for ; f != nil; f = f.parent {
		if f.usage != nil {
			f.usage.add(u)
		}
	}
}
