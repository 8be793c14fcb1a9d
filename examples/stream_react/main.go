// Command stream_react is the Go twin of the guide's streaming ReAct agent:
// a listener WithAllowReuse streams the agent's thought at every iteration,
// a path-bound listener streams the extract step's answer, and the default
// status messages announce each tool call (never the internal finish).
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

type weatherArgs struct {
	City string `json:"city" desc:"the city to look up"`
}

// fetchWeather stands in for a weather API; it honours ctx like a real
// HTTP call would.
func fetchWeather(ctx context.Context, a weatherArgs) (string, error) {
	select {
	case <-time.After(30 * time.Millisecond):
	case <-ctx.Done():
		return "", ctx.Err()
	}
	return fmt.Sprintf("The weather in %s is sunny, 22°C.", a.City), nil
}

func run(ctx context.Context, out io.Writer, model lm.LM) error {
	ctx = dspy.WithSettings(ctx, dspy.WithLM(model))

	agent := dspy.NewReAct("question -> answer", []*dspy.Tool{
		dspy.NewTool("fetch_weather", "Get the current weather for a city.", fetchWeather),
	})
	program, err := streaming.Streamify(agent,
		streaming.WithListeners(
			streaming.NewListener("next_thought", streaming.WithAllowReuse()),
			streaming.NewListener("answer", streaming.WithPredictName("extract"))),
		streaming.WithStatus(streaming.DefaultStatus{}))
	if err != nil {
		return err
	}
	for ev, err := range program.Stream(ctx, dspy.Inputs{"question": "What's the weather like in Paris?"}) {
		if err != nil {
			return err
		}
		switch e := ev.(type) {
		case *streaming.StatusMessage:
			fmt.Fprintf(out, "[%s]\n", e.Message)
		case *streaming.StreamResponse:
			fmt.Fprint(out, e.Chunk)
			if e.IsLastChunk {
				fmt.Fprintf(out, "  <- %s.%s\n", e.PredictName, e.SignatureFieldName)
			}
		case *streaming.Final:
			fmt.Fprintf(out, "Answer: %s (%d steps)\n", e.Prediction.String("answer"), len(e.Prediction.Trajectory))
		}
	}
	return nil
}

// script is what the offline LM answers, in turn.
var script = []string{
	dspytest.ChatReply(
		"next_thought", "I should look up the current weather in Paris.",
		"next_tool_name", "fetch_weather",
		"next_tool_args", `{"city": "Paris"}`),
	dspytest.ChatReply(
		"next_thought", "I have the weather; I can answer now.",
		"next_tool_name", "finish",
		"next_tool_args", `{}`),
	dspytest.ChatReply(
		"reasoning", "The tool reported sunny weather at 22°C in Paris.",
		"answer", "It is sunny in Paris, 22°C: a good day for a walk."),
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
