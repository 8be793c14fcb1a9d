// Command stream_basic is the Go twin of the guide's basic streaming: a
// listener on "answer" receives the answer token by token; the channel form
// (Chan) is the asynchronous style, for select loops.
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

func run(ctx context.Context, out, log io.Writer) error {
	model, err := demo.LM(log, dspytest.ChatReply("answer", "To get to the other side of the dinner table! It heard the recipe called for a free-range chicken."))
	if err != nil {
		return err
	}
	ctx = dspy.WithSettings(ctx, dspy.WithLM(model))

	predict := dspy.NewPredict("question -> answer")
	streamPredict, err := streaming.Streamify(predict,
		streaming.WithListeners(streaming.NewListener("answer")))
	if err != nil {
		return err
	}
	for ev := range streamPredict.Chan(ctx, dspy.Inputs{"question": "why did a chicken cross the kitchen?"}) {
		switch e := ev.(type) {
		case *streaming.StreamResponse:
			fmt.Fprint(out, e.Chunk)
			if e.IsLastChunk {
				fmt.Fprintln(out)
			}
		case *streaming.Final:
			fmt.Fprintln(out, e.Prediction)
		case *streaming.ErrorEvent:
			return e.Err
		}
	}
	return nil
}
