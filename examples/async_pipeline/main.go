// Command async_pipeline is the Go twin of the guide's AsyncPipeline: a
// custom module that analyzes a text, then summarizes the analysis, called
// with ACall.
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

// AsyncPipeline analyzes, then summarizes. Its Forward serves blocking and
// asynchronous callers alike.
type AsyncPipeline struct {
	Analyze   *dspy.Predict
	Summarize *dspy.ChainOfThought
}

func NewAsyncPipeline() *AsyncPipeline {
	return &AsyncPipeline{
		Analyze:   dspy.NewPredict("text -> analysis"),
		Summarize: dspy.NewChainOfThought("analysis -> summary"),
	}
}

func (p *AsyncPipeline) Forward(ctx context.Context, in dspy.Inputs) (*dspy.Prediction, error) {
	analysis, err := p.Analyze.Call(ctx, dspy.Inputs{"text": in["text"]})
	if err != nil {
		return nil, err
	}
	return p.Summarize.Call(ctx, dspy.Inputs{"analysis": analysis.Get("analysis")})
}

// script is what the offline LM answers.
var script = []string{
	dspytest.ChatReply("analysis", "The text describes DSPy as a framework for programming, not prompting, language models, with composable modules and optimizers."),
	dspytest.ChatReply(
		"reasoning", "The analysis stresses programming over prompting and composability.",
		"summary", "DSPy lets you program language models with composable modules instead of hand-written prompts."),
}

func run(ctx context.Context, out, log io.Writer) error {
	model, err := demo.LM(log, script...)
	if err != nil {
		return err
	}
	ctx = dspy.WithSettings(ctx, dspy.WithLM(model))

	pipeline := NewAsyncPipeline()
	result, err := dspy.ACall(ctx, pipeline, dspy.Inputs{
		"text": "DSPy is a framework for programming—rather than prompting—language models.",
	}).Await(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "Summary:", result.Get("summary"))
	return nil
}
