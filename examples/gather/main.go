// Command gather is the Go twin of the guide's asyncio.gather example: three
// questions answered concurrently, results in order.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/dspytest"
	"github.com/godspy/dspy/examples/internal/demo"
	"github.com/godspy/dspy/lm"
)

func main() {
	if err := run(context.Background(), os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

var questions = []string{
	"What is the capital of France?",
	"What is 2+2?",
	"Who wrote Romeo and Juliet?",
}

var answers = map[string]string{
	questions[0]: "Paris",
	questions[1]: "4",
	questions[2]: "William Shakespeare",
}

func run(ctx context.Context, out, log io.Writer) error {
	var model lm.LM
	if demo.Name() != "" {
		var err error
		if model, err = demo.LM(log); err != nil {
			return err
		}
	} else {
		fmt.Fprintln(log, "(offline demo LM: set OPENAI_API_KEY to use a real model)")
		// Offline, answer each question by what it asks.
		model = dspytest.NewScriptedLMFunc(func(req *lm.Request) (dspytest.Reply, error) {
			last := req.Messages[len(req.Messages)-1].Content
			for q, a := range answers {
				if strings.Contains(last, q) {
					return dspytest.Reply{Text: dspytest.ChatReply("answer", a)}, nil
				}
			}
			return dspytest.Reply{Text: dspytest.ChatReply("answer", "I don't know")}, nil
		})
	}
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
		fmt.Fprintf(out, "Q: %s\nA: %s\n", questions[i], r.Get("answer"))
	}
	return nil
}
