// Command stream_sync is the Go twin of the guide's synchronous streaming
// (async_streaming=False): a plain range loop over the stream.
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
	model, err := demo.LM(log, dspytest.ChatReply("answer", "To get to the other side of the dinner table!"))
	if err != nil {
		return err
	}
	ctx = dspy.WithSettings(ctx, dspy.WithLM(model))

	program := streaming.MustStreamify(dspy.NewPredict("question -> answer"),
		streaming.WithListeners(streaming.NewListener("answer")))
	for ev, err := range program.Stream(ctx, dspy.Inputs{"question": "why did a chicken cross the kitchen?"}) {
		if err != nil {
			return err
		}
		switch e := ev.(type) {
		case *streaming.StreamResponse:
			fmt.Fprint(out, e.Chunk)
		case *streaming.Final:
			fmt.Fprintln(out)
			fmt.Fprintln(out, e.Prediction)
		}
	}
	return nil
}
