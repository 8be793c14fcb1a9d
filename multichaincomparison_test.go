package dspy

import (
	"context"
	"fmt"
	"iter"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/godspy/dspy/dspytest"
	"github.com/godspy/dspy/lm"
)

// mccAttempts are three reasoning attempts, as ChainOfThought returns them;
// only the first line of each field is shown to the comparing LM.
func mccAttempts() []*Prediction {
	names := []string{"reasoning", "answer"}
	return []*Prediction{
		NewPrediction(names, map[string]any{"reasoning": "  find the capital of Belgium, which is Brussels.\nMore detail.", "answer": "Brussels"}),
		NewPrediction(names, map[string]any{"reasoning": "recall that Antwerp is the largest city.", "answer": "Antwerp\n(largest city)"}),
		NewPrediction(names, map[string]any{"reasoning": "remember the seat of the EU institutions.", "answer": " Brussels "}),
	}
}

// TestGoldenMultiChainComparison pins the prompt DSPy's MultiChainComparison
// builds: the task's inputs, reasoning_attempt_1..M, the rationale output
// first, and the task's instructions.
func TestGoldenMultiChainComparison(t *testing.T) {
	model := dspytest.NewScriptedLM(dspytest.ChatReply(
		"rationale", "Two attempts say Brussels, the capital; Antwerp is only the largest city.",
		"answer", "Brussels"))
	mcc := NewMultiChainComparison("question -> answer", 3)
	ctx := WithSettings(context.Background(), WithLM(model))
	pred, err := mcc.Compare(ctx, mccAttempts(), Inputs{"question": "What is the capital of Belgium?"})
	if err != nil {
		t.Fatalf("Compare: %v", err)
	}
	if got := pred.Get("answer"); got != "Brussels" {
		t.Errorf("Compare answer = %v, want Brussels", got)
	}
	if d := cmp.Diff([]string{"rationale", "answer"}, pred.Names()); d != "" {
		t.Errorf("Compare fields (-want +got):\n%s", d)
	}
	req := model.Requests()[0]
	var b strings.Builder
	for _, m := range req.Messages {
		fmt.Fprintf(&b, "=== %s ===\n%s\n", m.Role, m.Content)
	}
	if req.Temperature != nil {
		fmt.Fprintf(&b, "=== temperature ===\n%v\n", *req.Temperature)
	}
	checkGolden(t, "multichain.golden", b.String())
}

func TestMultiChainComparisonBadAttempts(t *testing.T) {
	mcc := NewMultiChainComparison("question -> answer", 3)
	ctx := WithSettings(context.Background(), WithLM(dspytest.Repeat("unused")))
	in := Inputs{"question": "q"}
	if _, err := mcc.Compare(ctx, mccAttempts()[:2], in); err == nil || !strings.Contains(err.Error(), "got 2 attempts, want M = 3") {
		t.Errorf("Compare(2 attempts) error = %v, want one naming the count", err)
	}
	bad := mccAttempts()
	bad[1] = NewPrediction([]string{"answer"}, map[string]any{"answer": "x"})
	if _, err := mcc.Compare(ctx, bad, in); err == nil || !strings.Contains(err.Error(), `attempt 2: the prediction has neither a "rationale" nor a "reasoning" field`) {
		t.Errorf("Compare(no reasoning) error = %v, want one naming attempt 2", err)
	}
}

// barrierLM holds every attempt until all m have arrived, so the test
// passes only if the attempts run at once; then it answers by rollout id.
// The comparison request (which has reasoning_attempt inputs) is answered
// with the rationale.
type barrierLM struct {
	m       int
	mu      sync.Mutex
	arrived int
	all     chan struct{}
	reqs    []*lm.Request
}

func (b *barrierLM) Generate(ctx context.Context, req *lm.Request) (*lm.Response, error) {
	b.mu.Lock()
	b.reqs = append(b.reqs, req)
	b.mu.Unlock()
	reply := func(s string) (*lm.Response, error) {
		return &lm.Response{Choices: []lm.Choice{{Message: lm.Message{Role: lm.RoleAssistant, Content: s}}}}, nil
	}
	if strings.Contains(req.Messages[0].Content, "reasoning_attempt_1") {
		return reply(dspytest.ChatReply("rationale", "Most say Brussels.", "answer", "Brussels"))
	}
	b.mu.Lock()
	b.arrived++
	if b.arrived == b.m {
		close(b.all)
	}
	b.mu.Unlock()
	select {
	case <-b.all:
	case <-time.After(5 * time.Second):
		return nil, fmt.Errorf("attempt %s: the other attempts did not start", req.RolloutID)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return reply(dspytest.ChatReply("reasoning", "Attempt "+req.RolloutID+".", "answer", "Answer "+req.RolloutID))
}

func (b *barrierLM) Stream(ctx context.Context, req *lm.Request) iter.Seq2[lm.Chunk, error] {
	return func(yield func(lm.Chunk, error) bool) {
		resp, err := b.Generate(ctx, req)
		if err != nil {
			yield(lm.Chunk{}, err)
			return
		}
		yield(lm.Chunk{Text: resp.Text()}, nil)
	}
}

func TestMultiChainComparisonProducesAttemptsConcurrently(t *testing.T) {
	model := &barrierLM{m: 3, all: make(chan struct{})}
	mcc := NewMultiChainComparison("question -> answer", 3)
	ctx := WithSettings(context.Background(), WithLM(model))
	pred, err := mcc.Call(ctx, Inputs{"question": "What is the capital of Belgium?"})
	if err != nil {
		t.Fatalf("Call: %v", err)
	}
	if pred.Get("answer") != "Brussels" || pred.Get("rationale") != "Most say Brussels." {
		t.Errorf("Call = %v, want the comparison's rationale and answer", pred)
	}
	var ids []string
	var cmpReq *lm.Request
	for _, r := range model.reqs {
		if strings.Contains(r.Messages[0].Content, "reasoning_attempt_1") {
			cmpReq = r
			continue
		}
		ids = append(ids, r.RolloutID)
	}
	slices.Sort(ids)
	if d := cmp.Diff([]string{"0", "1", "2"}, ids); d != "" {
		t.Errorf("attempt rollout ids (-want +got):\n%s", d)
	}
	if cmpReq == nil {
		t.Fatal("no comparison request")
	}
	user := cmpReq.Messages[len(cmpReq.Messages)-1].Content
	for i := range 3 {
		// Attempts are gathered in order: attempt i had rollout id i.
		want := fmt.Sprintf("[[ ## reasoning_attempt_%d ## ]]\n«I'm trying to Attempt %d. I'm not sure but my prediction is Answer %d»", i+1, i, i)
		if !strings.Contains(user, want) {
			t.Errorf("comparison request lacks %q:\n%s", want, user)
		}
	}
}
