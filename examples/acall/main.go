// Command acall is the Go twin of the guide's basic acall: start a Predict
// call, then await its result.
package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/dspytest"
	"github.com/godspy/dspy/examples/internal/demo"
)

func main() {
	if err := run(context.Background(), os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

// script is what the offline LM answers.
var script = []string{dspytest.ChatReply("answer", "To get to the other side of the dinner table!")}

func run(ctx context.Context, out, log io.Writer) error {
	model, err := demo.LM(log, script...)
	if err != nil {
		return err
	}
	ctx = dspy.WithSettings(ctx, dspy.WithLM(model))

	predict := dspy.NewPredict("question -> answer")
	future := predict.ACall(ctx, dspy.Inputs{"question": "why did a chicken cross the kitchen?"})
	output, err := future.Await(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, output)
	return nil
}
