// Command stream_basic is the Go twin of the guide's basic streaming: a
// listener on "answer" receives the answer token by token; the channel form
// (Chan) is the asynchronous style, for select loops.
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

func run(ctx context.Context, out io.Writer, model lm.LM) error {
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

// script is what the offline LM answers.
var script = []string{dspytest.ChatReply("answer", "To get to the other side of the dinner table! It heard the recipe called for a free-range chicken.")}

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
