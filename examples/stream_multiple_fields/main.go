// Command stream_multiple_fields is the Go twin of the guide's example with
// several listeners: a program of two predictors, each field streamed as it
// is written.
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

// MyModule answers, then judges its own answer.
type MyModule struct {
	Predict1 *dspy.Predict
	Predict2 *dspy.Predict
}

func (m *MyModule) Forward(ctx context.Context, in dspy.Inputs) (*dspy.Prediction, error) {
	answer, err := m.Predict1.Call(ctx, dspy.Inputs{"question": in["question"]})
	if err != nil {
		return nil, err
	}
	return m.Predict2.Call(ctx, dspy.Inputs{"question": in["question"], "answer": answer.Get("answer")})
}

func run(ctx context.Context, out, log io.Writer) error {
	model, err := demo.LM(log,
		dspytest.ChatReply("answer", "To get to the other side of the recipe!"),
		dspytest.ChatReply("judgement", "The answer is a pun on the classic joke, and it is funny."),
	)
	if err != nil {
		return err
	}
	ctx = dspy.WithSettings(ctx, dspy.WithLM(model))

	program, err := streaming.Streamify(&MyModule{
		Predict1: dspy.NewPredict("question -> answer"),
		Predict2: dspy.NewPredict("question, answer -> judgement"),
	}, streaming.WithListeners(streaming.NewListener("answer"), streaming.NewListener("judgement")))
	if err != nil {
		return err
	}
	for ev, err := range program.Stream(ctx, dspy.Inputs{"question": "why did a chicken cross the kitchen?"}) {
		if err != nil {
			return err
		}
		switch e := ev.(type) {
		case *streaming.StreamResponse:
			if e.IsLastChunk {
				fmt.Fprintf(out, "%s\n[%s.%s done]\n", e.Chunk, e.PredictName, e.SignatureFieldName)
			} else {
				fmt.Fprint(out, e.Chunk)
			}
		case *streaming.Final:
			fmt.Fprintln(out, "Final output:", e.Prediction)
		}
	}
	return nil
}
