// Command stream_react is the Go twin of the guide's streaming ReAct agent:
// a listener WithAllowReuse streams the agent's thought at every iteration,
// a path-bound listener streams the extract step's answer, and the default
// status messages announce each tool call (never the internal finish).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

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

func run(ctx context.Context, out, log io.Writer) error {
	model, err := demo.LM(log,
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
	)
	if err != nil {
		return err
	}
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
			fmt.Fprintf(out, "Answer: %s (%d steps)\n", e.Prediction.Get("answer"), len(e.Prediction.Trajectory))
		}
	}
	return nil
}
