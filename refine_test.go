package dspy_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/dspytest"
	"github.com/godspy/dspy/lm"
)

// allText joins a request's messages.
func allText(req *lm.Request) string {
	var b strings.Builder
	for _, m := range req.Messages {
		b.WriteString(m.Content)
		b.WriteString("\n")
	}
	return b.String()
}

func TestRefineAdviceReachesNextAttempt(t *testing.T) {
	const advice = "Answer with the city name only."
	model := dspytest.NewScriptedLM(
		dspytest.ChatReply("reasoning", "Belgium's capital.", "answer", "The capital of Belgium is Brussels"),
		dspytest.ChatReply("discussion", "The answer is a sentence.", "advice", `{"predict": "`+advice+`"}`),
		dspytest.ChatReply("reasoning", "City only.", "answer", "Brussels"),
	)
	ctx := dspy.WithSettings(context.Background(), dspy.WithLM(model))
	r := dspy.NewRefine(dspy.NewChainOfThought("question -> answer"), 3, oneWord, 1.0,
		dspy.WithRewardDescription("1 / the number of words in the answer"))
	pred, err := r.Call(ctx, question)
	if err != nil {
		t.Fatalf("Refine.Call: %v", err)
	}
	if got := pred.Get("answer"); got != "Brussels" {
		t.Errorf("Refine answer = %v, want Brussels", got)
	}
	reqs := model.Requests()
	if len(reqs) != 3 {
		t.Fatalf("Refine sent %d requests, want 3 (attempt, feedback, attempt)", len(reqs))
	}
	first, feedback, second := allText(reqs[0]), allText(reqs[1]), allText(reqs[2])
	if strings.Contains(first, "hint_") {
		t.Errorf("first attempt has a hint:\n%s", first)
	}
	for _, want := range []string{
		"[[ ## module_names ## ]]\n[\"predict\"]",
		"Module predict\n\tInput Fields:\n\t\t1. `question` (str)",
		"The capital of Belgium is Brussels", // the trajectory and outputs
		"\"module_name\": \"predict\"",
		"1 / the number of words in the answer",
		"[[ ## target_threshold ## ]]\n1.0",
	} {
		if !strings.Contains(feedback, want) {
			t.Errorf("feedback request lacks %q:\n%s", want, feedback)
		}
	}
	for _, want := range []string{
		"`hint_` (str): A hint to the module from an earlier run",
		"[[ ## hint_ ## ]]\n" + advice,
		"Given the fields `question`, produce the fields `reasoning`, `answer`.",
	} {
		if !strings.Contains(second, want) {
			t.Errorf("second attempt lacks %q:\n%s", want, second)
		}
	}
	if d := cmp.Diff([]string{"0", "", "1"}, []string{reqs[0].RolloutID, reqs[1].RolloutID, reqs[2].RolloutID}); d != "" {
		t.Errorf("rollout ids of attempt, feedback, attempt (-want +got):\n%s", d)
	}
}

func TestRefineReturnsBestWithoutFeedbackAfterLast(t *testing.T) {
	model := dspytest.NewScriptedLM(
		dspytest.ChatReply("answer", "It is Brussels"),
		dspytest.ChatReply("discussion", "Too long.", "advice", `{"self": "Be brief."}`),
		dspytest.ChatReply("answer", "Brussels, Belgium"),
	)
	r := dspy.NewRefine(dspy.NewPredict("question -> answer", dspy.WithLM(model)), 2, oneWord, 1.0)
	ctx := dspy.WithSettings(context.Background(), dspy.WithLM(model))
	pred, err := r.Call(ctx, question)
	if err != nil {
		t.Fatalf("Refine.Call: %v", err)
	}
	if got := pred.Get("answer"); got != "Brussels, Belgium" {
		t.Errorf("Refine answer = %v, want the best, Brussels, Belgium", got)
	}
	if n := len(model.Requests()); n != 3 {
		t.Errorf("Refine sent %d requests, want 3: no feedback after the last attempt", n)
	}
	if !strings.Contains(allText(model.Requests()[2]), "[[ ## hint_ ## ]]\nBe brief.") {
		t.Errorf("second attempt lacks the hint for \"self\":\n%s", allText(model.Requests()[2]))
	}
}

func TestRefineFailures(t *testing.T) {
	boom := errors.New("boom")
	model := dspytest.NewScriptedLM().Push(
		dspytest.Reply{Err: boom},
		dspytest.Reply{Text: dspytest.ChatReply("answer", "Brussels")},
	)
	r := dspy.NewRefine(dspy.NewPredict("question -> answer", dspy.WithLM(model)), 3, oneWord, 1.0, dspy.WithFailCount(1))
	pred, err := r.Call(context.Background(), question)
	if err != nil || pred.Get("answer") != "Brussels" {
		t.Fatalf("Refine after one tolerated failure = %v, %v; want Brussels", pred, err)
	}

	model = dspytest.NewScriptedLM().Push(dspytest.Reply{Err: boom}, dspytest.Reply{Err: boom}, dspytest.Reply{Err: boom})
	r = dspy.NewRefine(dspy.NewPredict("question -> answer", dspy.WithLM(model)), 3, oneWord, 1.0, dspy.WithFailCount(1))
	if _, err := r.Call(context.Background(), question); !errors.Is(err, dspy.ErrTooManyFailures) || !errors.Is(err, boom) {
		t.Fatalf("Refine error = %v, want ErrTooManyFailures wrapping boom", err)
	}
	if n := len(model.Requests()); n != 2 {
		t.Errorf("Refine made %d attempts, want 2 (it stops at the second failure)", n)
	}
}

func TestRefineCallerCancels(t *testing.T) {
	model := dspytest.Repeat(dspytest.ChatReply("answer", "It is Brussels"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := dspy.NewRefine(dspy.NewPredict("question -> answer", dspy.WithLM(model)), 3, oneWord, 1.0)
	if _, err := r.Call(ctx, question); !errors.Is(err, context.Canceled) {
		t.Fatalf("Refine error = %v, want context.Canceled", err)
	}
}
