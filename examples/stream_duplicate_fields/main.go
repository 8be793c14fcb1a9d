// Command stream_duplicate_fields is the Go twin of the guide's example of
// two predictors with the same output field: the listener names the
// predictor it wants by its path.
package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/dspytest"
	"github.com/godspy/dspy/examples/internal/demo"
	"github.com/godspy/dspy/streaming"
)

func main() {
	if err := run(context.Background(), os.Stdout, os.Stderr); err != nil {
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
	return m.Refine.Call(ctx, dspy.Inputs{"question": in["question"], "draft": draft.Get("answer")})
}

func run(ctx context.Context, out, log io.Writer) error {
	model, err := demo.LM(log,
		dspytest.ChatReply("answer", "It wanted a snack."),
		dspytest.ChatReply("reasoning", "The draft is plain; a pun is better.", "answer", "To get to the other side of the dinner table!"),
	)
	if err != nil {
		return err
	}
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
