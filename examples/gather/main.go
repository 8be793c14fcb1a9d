// Command gather is the Go twin of the guide's asyncio.gather example: three
// questions answered concurrently, results in order.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

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

var questions = []string{
	"What is the capital of France?",
	"What is 2+2?",
	"Who wrote Romeo and Juliet?",
}

func run(ctx context.Context, out io.Writer, model lm.LM) error {
	ctx = dspy.WithSettings(ctx, dspy.WithLM(model))

	predict := dspy.NewPredict("question -> answer")
	var futures []*dspy.Future[*dspy.Prediction]
	for _, q := range questions {
		futures = append(futures, predict.ACall(ctx, dspy.Inputs{"question": q}))
	}
	results, err := dspy.Gather(ctx, futures...)
	if err != nil {
		return err
	}
	for i, r := range results {
		if i > 0 {
			fmt.Fprintln(out)
		}
		fmt.Fprintf(out, "Q: %s\nA: %s\n", questions[i], r.String("answer"))
	}
	return nil
}

// answers are the offline LM's answers to the questions.
var answers = map[string]string{
	questions[0]: "Paris",
	questions[1]: "4",
	questions[2]: "William Shakespeare",
}

// offlineLM answers each question by what it asks (the calls run
// concurrently, so their order is not known), so the example runs without a
// model.
func offlineLM() *dspytest.ScriptedLM {
	return dspytest.NewScriptedLMFunc(func(req *lm.Request) (dspytest.Reply, error) {
		last := req.Messages[len(req.Messages)-1].Content
		for q, a := range answers {
			if strings.Contains(last, q) {
				return dspytest.Reply{Text: dspytest.ChatReply("answer", a)}, nil
			}
		}
		return dspytest.Reply{Text: dspytest.ChatReply("answer", "I don't know")}, nil
	})
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
