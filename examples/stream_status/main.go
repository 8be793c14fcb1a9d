// Command stream_status is the Go twin of the guide's status-message
// example: a custom StatusProvider reports what the program is doing while
// it works, before the streamed answer.
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

func run(ctx context.Context, out, log io.Writer) error {
	model, err := demo.LM(log, dspytest.ChatReply("answer", "3 + 2 is 5."))
	if err != nil {
		return err
	}
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
