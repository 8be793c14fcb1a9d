// Command async_pipeline is the Go twin of the guide's AsyncPipeline: a
// custom module that analyzes a text, then summarizes the analysis, called
// with ACall.
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
	return p.Summarize.Call(ctx, dspy.Inputs{"analysis": analysis.String("analysis")})
}

func run(ctx context.Context, out io.Writer, model lm.LM) error {
	ctx = dspy.WithSettings(ctx, dspy.WithLM(model))

	pipeline := NewAsyncPipeline()
	result, err := dspy.ACall(ctx, pipeline, dspy.Inputs{
		"text": "DSPy is a framework for programming—rather than prompting—language models.",
	}).Await(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "Summary:", result.String("summary"))
	return nil
}

// script is what the offline LM answers, in turn.
var script = []string{
	dspytest.ChatReply("analysis", "The text describes DSPy as a framework for programming, not prompting, language models, with composable modules and optimizers."),
	dspytest.ChatReply(
		"reasoning", "The analysis stresses programming over prompting and composability.",
		"summary", "DSPy lets you program language models with composable modules instead of hand-written prompts."),
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
