package streaming_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/dspytest"
	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/streaming"
)

// plainAdapter formats and parses like ChatAdapter but cannot stream.
type plainAdapter struct{ dspy.ChatAdapter }

func (plainAdapter) NewFieldParser() {} // not the StreamingAdapter method

func TestAdapterWithoutFieldParser(t *testing.T) {
	// A predictor's own adapter is checked at Streamify.
	p := dspy.NewPredict("q -> answer", dspy.WithAdapter(plainAdapter{}))
	_, err := streaming.Streamify(p, streaming.WithListeners(streaming.NewListener("answer")))
	if !errors.Is(err, streaming.ErrNoFieldParser) {
		t.Fatalf("Streamify error = %v, want ErrNoFieldParser", err)
	}

	// The settings' adapter is known only when the run starts.
	prog := streaming.MustStreamify(dspy.NewPredict("q -> answer"), streaming.WithListeners(streaming.NewListener("answer")))
	ctx := dspy.WithSettings(context.Background(), dspy.WithLM(dspytest.Repeat(dspytest.ChatReply("answer", "a"))), dspy.WithAdapter(plainAdapter{}))
	var got error
	for _, err := range prog.Stream(ctx, dspy.Inputs{"q": "?"}) {
		got = err
	}
	if !errors.Is(got, streaming.ErrNoFieldParser) {
		t.Errorf("run error = %v, want ErrNoFieldParser", got)
	}
}

func TestOnlyListenedPredictorsStream(t *testing.T) {
	var mu sync.Mutex
	streamed := map[uint64]bool{}
	trace := &dspy.Trace{LMStart: func(_ context.Context, i dspy.LMStartInfo) {
		mu.Lock()
		defer mu.Unlock()
		streamed[i.ID] = i.Stream
	}}
	model := dspytest.NewScriptedLM(dspytest.ChatReply("answer", "a"), dspytest.ChatReply("reasoning", "r", "answer", "b"))
	prog := streaming.MustStreamify(&pipeline{A: dspy.NewPredict("q -> answer"), B: dspy.NewChainOfThought("q -> answer")},
		streaming.WithListeners(streaming.NewListener("answer", streaming.WithPredictName("b"))))
	ctx := dspy.WithSettings(context.Background(), dspy.WithLM(model), dspy.WithTrace(trace))
	var calls, streamedCalls int
	for _, err := range prog.Stream(ctx, dspy.Inputs{"q": "?"}) {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range streamed {
		calls++
		if s {
			streamedCalls++
		}
	}
	if calls != 2 || streamedCalls != 1 {
		t.Errorf("%d LM calls, %d streamed; want 2 calls, only the listened one streamed", calls, streamedCalls)
	}
}

// TestBackPressureManyProducers: eight concurrent predictor calls stream far
// more events than the buffer holds into a consumer that reads slowly; the
// run neither deadlocks nor loses an event.
func TestBackPressureManyProducers(t *testing.T) {
	const calls, size = 8, 400
	text := make([]byte, size)
	for i := range text {
		text[i] = 'a' + byte(i%26)
	}
	model := dspytest.NewScriptedLMFunc(func(*lm.Request) (dspytest.Reply, error) {
		return dspytest.Reply{Text: dspytest.ChatReply("answer", string(text))}, nil
	})
	model.ChunkSize = 1
	prog := streaming.MustStreamify(&gatherer{P: dspy.NewPredict("q -> answer"), n: calls},
		streaming.WithListeners(streaming.NewListener("answer", streaming.WithAllowReuse())))
	ctx, cancel := context.WithTimeout(lmCtx(model), 30*time.Second)
	defer cancel()
	perCall := map[uint64]int{}
	events := 0
	for ev, err := range prog.Stream(ctx, dspy.Inputs{"q": "?"}) {
		if err != nil {
			t.Fatal(err)
		}
		if sr, ok := ev.(*streaming.StreamResponse); ok {
			perCall[sr.CallID] += len(sr.Chunk)
			events++
			if events%500 == 0 {
				time.Sleep(time.Millisecond) // a slow reader
			}
		}
	}
	if len(perCall) != calls {
		t.Fatalf("events from %d calls, want %d", len(perCall), calls)
	}
	for id, n := range perCall {
		if n != size {
			t.Errorf("call %d streamed %d bytes, want %d", id, n, size)
		}
	}
}

// When the consumer breaks, the LM call ends with an error that matches
// context.Canceled, in the inline path (bare Predict) and the goroutine
// path (a custom module) alike.
func TestBreakEndsLMCallCancelled(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    dspy.Module
	}{
		{"inline", dspy.NewPredict("q -> answer")},
		{"goroutine", &gatherer{P: dspy.NewPredict("q -> answer"), n: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Longer than the event buffer, so the LM is still streaming
			// when the consumer leaves.
			model := dspytest.Repeat(dspytest.ChatReply("answer", strings.Repeat("word ", 400)))
			model.ChunkSize = 2
			var mu sync.Mutex
			var lmErr error
			trace := &dspy.Trace{LMEnd: func(_ context.Context, i dspy.LMEndInfo) {
				mu.Lock()
				lmErr = i.Err
				mu.Unlock()
			}}
			prog := streaming.MustStreamify(tc.m, streaming.WithListeners(streaming.NewListener("answer", streaming.WithAllowReuse())))
			ctx := dspy.WithSettings(context.Background(), dspy.WithLM(model), dspy.WithTrace(trace))
			for ev, err := range prog.Stream(ctx, dspy.Inputs{"q": "?"}) {
				if err != nil {
					t.Fatal(err)
				}
				if _, ok := ev.(*streaming.StreamResponse); ok {
					break
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if !errors.Is(lmErr, context.Canceled) {
				t.Errorf("LM call ended with %v, want an error matching context.Canceled", lmErr)
			}
		})
	}
}
