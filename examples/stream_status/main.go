// Command stream_status is the Go twin of the guide's status-message
// example: a custom StatusProvider reports what the program is doing while
// it works, before the streamed answer.
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

// MyStatus overrides two of DefaultStatus's six hooks.
type MyStatus struct{ streaming.DefaultStatus }

func (MyStatus) ToolStart(i dspy.ToolStartInfo) string {
	return fmt.Sprintf("Calling Tool %s with inputs %v...", i.Tool.Name(), i.Args)
}

func (MyStatus) ToolEnd(i dspy.ToolEndInfo) string {
	return fmt.Sprintf("Tool finished with output: %v!", i.Result)
}

// MyProgram evaluates a math question with a tool, then answers.
type MyProgram struct {
	tool    *dspy.Tool
	Predict *dspy.Predict
}

type evalArgs struct {
	X int `json:"x" desc:"a number"`
	Y int `json:"y" desc:"another number"`
}

func NewMyProgram() *MyProgram {
	add := dspy.NewTool("evaluate_math_expression", "Add two numbers.",
		func(ctx context.Context, a evalArgs) (int, error) { return a.X + a.Y, nil })
	return &MyProgram{tool: add, Predict: dspy.NewPredict("question -> answer")}
}

func (p *MyProgram) Forward(ctx context.Context, in dspy.Inputs) (*dspy.Prediction, error) {
	sum, err := p.tool.Call(ctx, map[string]any{"x": in["x"], "y": 2})
	if err != nil {
		return nil, err
	}
	return p.Predict.Call(ctx, dspy.Inputs{"question": fmt.Sprintf("What is %v + 2? (a tool computed %v)", in["x"], sum)})
}

func run(ctx context.Context, out io.Writer, model lm.LM) error {
	ctx = dspy.WithSettings(ctx, dspy.WithLM(model))

	program, err := streaming.Streamify(NewMyProgram(),
		streaming.WithListeners(streaming.NewListener("answer")),
		streaming.WithStatus(MyStatus{}))
	if err != nil {
		return err
	}
	for ev, err := range program.Stream(ctx, dspy.Inputs{"x": 3}) {
		if err != nil {
			return err
		}
		switch e := ev.(type) {
		case *streaming.StatusMessage:
			fmt.Fprintln(out, "[status]", e.Message)
		case *streaming.StreamResponse:
			fmt.Fprint(out, e.Chunk)
		case *streaming.Final:
			fmt.Fprintln(out)
			fmt.Fprintln(out, e.Prediction)
		}
	}
	return nil
}

// script is what the offline LM answers.
var script = []string{dspytest.ChatReply("answer", "3 + 2 is 5.")}

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
