// Command stream_multiple_fields is the Go twin of the guide's example with
// several listeners: a program of two predictors, each field streamed as it
// is written.
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
	return m.Predict2.Call(ctx, dspy.Inputs{"question": in["question"], "answer": answer.String("answer")})
}

func run(ctx context.Context, out io.Writer, model lm.LM) error {
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

// script is what the offline LM answers, in turn.
var script = []string{
	dspytest.ChatReply("answer", "To get to the other side of the recipe!"),
	dspytest.ChatReply("judgement", "The answer is a pun on the classic joke, and it is funny."),
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
