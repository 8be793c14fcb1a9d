// Command stream_duplicate_fields is the Go twin of the guide's example of
// two predictors with the same output field: the listener names the
// predictor it wants by its path.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/dspytest"
	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/streaming"
)

func main() {
	model, err := pickLM(os.Stderr, offlineLM())
	if err == nil {
		err = run(context.Background(), os.Stdout, model)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

// MyModule writes a draft answer, then refines it: both produce "answer".
type MyModule struct {
	Draft  *dspy.Predict
	Refine *dspy.ChainOfThought
}

func (m *MyModule) Forward(ctx context.Context, in dspy.Inputs) (*dspy.Prediction, error) {
	draft, err := m.Draft.Call(ctx, dspy.Inputs{"question": in["question"]})
	if err != nil {
		return nil, err
	}
	return m.Refine.Call(ctx, dspy.Inputs{"question": in["question"], "draft": draft.String("answer")})
}

func run(ctx context.Context, out io.Writer, model lm.LM) error {
	ctx = dspy.WithSettings(ctx, dspy.WithLM(model))

	module := &MyModule{Draft: dspy.NewPredict("question -> answer"), Refine: dspy.NewChainOfThought("question, draft -> answer")}
	// Without a path, "answer" would be ambiguous; Streamify says so:
	if _, err := streaming.Streamify(module, streaming.WithListeners(streaming.NewListener("answer"))); err != nil {
		fmt.Fprintln(out, "Without a path:", err)
	}
	for _, np := range dspy.NamedPredictors(module) {
		fmt.Fprintln(out, "predictor:", np.Path)
	}
	program, err := streaming.Streamify(module, streaming.WithListeners(
		streaming.NewListener("answer", streaming.WithPredictName("refine"))))
	if err != nil {
		return err
	}
	for ev, err := range program.Stream(ctx, dspy.Inputs{"question": "why did a chicken cross the kitchen?"}) {
		if err != nil {
			return err
		}
		switch e := ev.(type) {
		case *streaming.StreamResponse:
			fmt.Fprint(out, e.Chunk)
			if e.IsLastChunk {
				fmt.Fprintf(out, "\n[from %s]\n", e.PredictName)
			}
		case *streaming.Final:
			fmt.Fprintln(out, e.Prediction)
		}
	}
	return nil
}

// script is what the offline LM answers, in turn.
var script = []string{
	dspytest.ChatReply("answer", "It wanted a snack."),
	dspytest.ChatReply("reasoning", "The draft is plain; a pun is better.", "answer", "To get to the other side of the dinner table!"),
}

// pace is the offline LM's delay between streamed chunks; tests set it to 0.
var pace = 12 * time.Millisecond

// offlineLM answers with script, streamed four bytes at a time at a human
// pace, so the example runs without a model.
func offlineLM() *dspytest.ScriptedLM {
	m := dspytest.Repeat(script...)
	m.ChunkSize = 4
	m.ChunkDelay = pace
	m.Latency = 10 * pace
	return m
}

// pickLM returns the LM the environment names (DSPY_LM, or a provider's API
// key such as OPENAI_API_KEY), else offline.
func pickLM(log io.Writer, offline lm.LM) (lm.LM, error) {
	model, err := dspy.LMFromEnv()
	if errors.Is(err, dspy.ErrNoLMInEnv) {
		fmt.Fprintln(log, "(offline demo LM: set OPENAI_API_KEY, or DSPY_LM=ollama_chat/llama3.2, to use a real model)")
		return offline, nil
	}
	if err != nil {
		return nil, err
	}
	name, _ := dspy.LMNameFromEnv()
	fmt.Fprintf(log, "(using %s)\n", name)
	return model, nil
}
