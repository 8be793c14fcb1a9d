//go:build !race

// The race detector adds allocations of its own, so these budgets are
// checked only without it (.ci/run's second pass).

package streaming_test

import (
	"context"
	"errors"
	"iter"
	"testing"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/streaming"
)

// chunksLM streams a ChatAdapter reply of n " word" chunks from memory.
type chunksLM struct{ chunks []lm.Chunk }

func newChunksLM(n int) chunksLM {
	cs := []lm.Chunk{{Text: "[[ ## answer ## ]]\n"}}
	for range n {
		cs = append(cs, lm.Chunk{Text: " word"})
	}
	cs = append(cs, lm.Chunk{Text: "\n\n[[ ## completed ## ]]", FinishReason: "stop"})
	return chunksLM{cs}
}

func (chunksLM) Generate(context.Context, *lm.Request) (*lm.Response, error) {
	return nil, errors.New("chunksLM: streams only")
}

func (m chunksLM) Stream(context.Context, *lm.Request) iter.Seq2[lm.Chunk, error] {
	return func(yield func(lm.Chunk, error) bool) {
		for _, c := range m.chunks {
			if !yield(c, nil) {
				return
			}
		}
	}
}

// wrapped is a custom module: its stream runs on a goroutine of its own,
// events crossing a channel.
type wrapped struct{ P *dspy.Predict }

func (w *wrapped) Forward(ctx context.Context, in dspy.Inputs) (*dspy.Prediction, error) {
	return dspy.Call(ctx, w.P, in)
}

// slack absorbs amortised growth (the reply's text builder doubling); a new
// allocation on every event exceeds it.
const slack = 0.1

// TestStreamEventAllocBudget holds Streamify's event path to its allocation
// budget per event: a stream of 200 field chunks less one of 100, over 100,
// with an LM that allocates nothing per chunk. Budget measured 2026-12-02
// with go1.26 (issue 21): the *StreamResponse handed to the consumer, which
// the consumer may keep, so it is not reused.
func TestStreamEventAllocBudget(t *testing.T) {
	for _, tt := range []struct {
		name   string
		module func(m lm.LM) dspy.Module
		budget float64
	}{
		{"Predict, inline", func(m lm.LM) dspy.Module { return dspy.NewPredict("question -> answer", dspy.WithLM(m)) }, 1},
		{"custom module, on a goroutine", func(m lm.LM) dspy.Module {
			return &wrapped{dspy.NewPredict("question -> answer", dspy.WithLM(m))}
		}, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			allocs := func(n int) float64 {
				prog := streaming.MustStreamify(tt.module(newChunksLM(n)), streaming.WithListeners(streaming.NewListener("answer")))
				in := dspy.Inputs{"question": "q"}
				return testing.AllocsPerRun(20, func() {
					events := 0
					for ev, err := range prog.Stream(t.Context(), in) {
						if err != nil {
							t.Fatal(err)
						}
						if _, ok := ev.(*streaming.StreamResponse); ok {
							events++
						}
					}
					if events < n {
						t.Fatalf("%d field events, want at least %d", events, n)
					}
				})
			}
			per := (allocs(200) - allocs(100)) / 100
			if per > tt.budget+slack {
				t.Errorf("%.2f allocations per event, budget %v", per, tt.budget)
			}
			t.Logf("%.2f allocations per event (budget %v)", per, tt.budget)
		})
	}
}
