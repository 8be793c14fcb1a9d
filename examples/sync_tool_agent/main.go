// Command sync_tool_agent is the Go twin of the DSPy guide's sync tool in
// an async agent: a calculate tool without ctx (a plain function) used by a
// ReAct agent that is called with ACall. calculate evaluates arithmetic with
// a small parser (calc.go), never by running code. The LM's side is
// scripted, so the example runs offline.
// With OPENAI_API_KEY (or DSPY_LM=provider/model) set, the agent runs on
// a real model instead.
//
//	go run ./examples/sync_tool_agent
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

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

type calculateArgs struct {
	Expression string `json:"expression" desc:"an arithmetic expression: numbers, + - * / ^ and parentheses"`
}

// calculate is a sync tool: it takes no ctx, so it cannot be cancelled,
// which is harmless for work this short.
func calculate(a calculateArgs) (string, error) {
	v, err := eval(a.Expression)
	if err != nil {
		return "", err
	}
	return formatNumber(v), nil
}

func run(ctx context.Context, w io.Writer, model lm.LM) error {
	ctx = dspy.WithSettings(ctx, dspy.WithLM(model))
	calculator := dspy.NewToolFunc("calculate", "Evaluate a mathematical expression.", calculate)
	agent := dspy.NewReAct("question -> answer", []*dspy.Tool{calculator})

	// ACall starts the agent at once; Await collects the result.
	future := agent.ACall(ctx, dspy.Inputs{"question": "What is 15 * 23 + 7?"})
	pred, err := future.Await(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(w, pred.String("answer"))
	return nil
}

// offlineLM plays the LM's side of the agent's conversation, so the
// example runs without a model.
func offlineLM() *dspytest.ScriptedLM {
	return dspytest.NewScriptedLM(
		dspytest.ChatReply("next_thought", "I need to compute 15 * 23 + 7.",
			"next_tool_name", "calculate", "next_tool_args", `{"expression": "15 * 23 + 7"}`),
		dspytest.ChatReply("next_thought", "The calculator returned the result.",
			"next_tool_name", "finish", "next_tool_args", "{}"),
		dspytest.ChatReply("reasoning", "15 * 23 = 345, and 345 + 7 = 352.", "answer", "352"),
	)
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
