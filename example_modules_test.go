package dspy_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/dspytest"
	"github.com/godspy/dspy/lm"
)

// exampleOneWord rewards one-word answers.
func exampleOneWord(_ dspy.Inputs, p *dspy.Prediction) float64 {
	if len(strings.Fields(p.String("answer"))) == 1 {
		return 1
	}
	return 0
}

// Run a module up to three times at once and keep the first answer that
// passes the reward's threshold; the other attempts are cancelled.
func ExampleBestOfN() {
	// Attempt i has rollout id "i"; this stand-in LM answers each attempt
	// differently, as sampling at temperature 1.0 would.
	answers := map[string]string{"0": "The capital is Brussels.", "1": "Brussels", "2": "It is Brussels."}
	model := dspytest.NewScriptedLMFunc(func(req *lm.Request) (dspytest.Reply, error) {
		return dspytest.Reply{Text: dspytest.ChatReply("answer", answers[req.RolloutID])}, nil
	})
	ctx := dspy.WithSettings(context.Background(), dspy.WithLM(model))

	best := dspy.NewBestOfN(dspy.NewPredict("question -> answer"), 3, exampleOneWord, 1.0)
	pred, err := best.Call(ctx, dspy.Inputs{"question": "What is the capital of Belgium?"})
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	fmt.Println(pred.Get("answer"))
	// Output: Brussels
}

// Refine tries one attempt after the other; after a failed one, an LM
// call writes advice that the next attempt sees as a "hint_" input.
func ExampleRefine() {
	model := dspytest.NewScriptedLMFunc(func(req *lm.Request) (dspytest.Reply, error) {
		prompt := req.Messages[len(req.Messages)-1].Content
		switch {
		case strings.Contains(prompt, "[[ ## module_names ## ]]"): // the feedback call
			return dspytest.Reply{Text: dspytest.ChatReply(
				"discussion", "The answer is a sentence, not a word.",
				"advice", `{"self": "Answer with the name of the city only."}`)}, nil
		case strings.Contains(prompt, "[[ ## hint_ ## ]]"):
			return dspytest.Reply{Text: dspytest.ChatReply("answer", "Brussels")}, nil
		}
		return dspytest.Reply{Text: dspytest.ChatReply("answer", "The capital of Belgium is Brussels.")}, nil
	})
	ctx := dspy.WithSettings(context.Background(), dspy.WithLM(model))

	refine := dspy.NewRefine(dspy.NewPredict("question -> answer"), 3, exampleOneWord, 1.0,
		dspy.WithRewardDescription("1 if the answer is one word, else 0"))
	pred, err := refine.Call(ctx, dspy.Inputs{"question": "What is the capital of Belgium?"})
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	fmt.Println(pred.Get("answer"))
	fmt.Println(len(model.Requests()), "LM calls")
	// Output:
	// Brussels
	// 3 LM calls
}

// MultiChainComparison produces three reasoning attempts at once, then
// asks the LM to compare them and answer.
func ExampleMultiChainComparison() {
	model := dspytest.NewScriptedLMFunc(func(req *lm.Request) (dspytest.Reply, error) {
		if strings.Contains(req.Messages[0].Content, "reasoning_attempt_1") {
			return dspytest.Reply{Text: dspytest.ChatReply(
				"rationale", "Two attempts name Brussels, the capital; Antwerp is only the largest city.",
				"answer", "Brussels")}, nil
		}
		answer := map[string]string{"0": "Brussels", "1": "Antwerp", "2": "Brussels"}[req.RolloutID]
		return dspytest.Reply{Text: dspytest.ChatReply("reasoning", "I recall it.", "answer", answer)}, nil
	})
	ctx := dspy.WithSettings(context.Background(), dspy.WithLM(model))

	mcc := dspy.NewMultiChainComparison("question -> answer", 3)
	pred, err := mcc.Call(ctx, dspy.Inputs{"question": "What is the capital of Belgium?"})
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	fmt.Println(pred.Get("rationale"))
	fmt.Println(pred.Get("answer"))
	// Output:
	// Two attempts name Brussels, the capital; Antwerp is only the largest city.
	// Brussels
}

// Majority picks the most common answer, compared after normalization.
func ExampleMajority() {
	var preds []*dspy.Prediction
	for _, a := range []string{"Antwerp", "Brussels.", "the brussels", "Antwerp", "BRUSSELS"} {
		preds = append(preds, dspy.NewPrediction([]string{"answer"}, map[string]any{"answer": a}))
	}
	winner, err := dspy.Majority(preds, "answer")
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	fmt.Println(winner.Get("answer"))
	// Output: Brussels.
}

// Parallel runs different modules on different inputs, a few at a time,
// and returns the results in order.
func ExampleParallel() {
	model := dspytest.NewScriptedLMFunc(func(req *lm.Request) (dspytest.Reply, error) {
		prompt := req.Messages[len(req.Messages)-1].Content
		if strings.Contains(prompt, "[[ ## text ## ]]") {
			return dspytest.Reply{Text: dspytest.ChatReply("summary", "Tides come from the Moon.")}, nil
		}
		return dspytest.Reply{Text: dspytest.ChatReply("answer", "4")}, nil
	})
	ctx := dspy.WithSettings(context.Background(), dspy.WithLM(model))

	qa := dspy.NewPredict("question -> answer")
	summarize := dspy.NewPredict("text -> summary")
	p := dspy.NewParallel(dspy.BatchOptions{Concurrency: 2})
	results, err := p.Run(ctx, []dspy.ParallelTask{
		{Module: qa, Inputs: dspy.Inputs{"question": "What is 2+2?"}},
		{Module: summarize, Inputs: dspy.Inputs{"text": "The Moon's gravity pulls on the oceans..."}},
	})
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	fmt.Println(results[0].Prediction.Get("answer"))
	fmt.Println(results[1].Prediction.Get("summary"))
	// Output:
	// 4
	// Tides come from the Moon.
}
