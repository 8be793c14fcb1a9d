package dspy_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/dspytest"
	"github.com/godspy/dspy/lm"
)

// recordedMessage is one message of a recorded DSPy request.
type recordedMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// reactExchanges returns the three requests and responses of DSPy's ReAct
// recorded in test_react[True].yaml, in order: two react steps and the
// extract step.
func reactExchanges(t *testing.T) (reqs [][]recordedMessage, resps []string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "dspy", "chatadapter_exchanges.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Exchanges []struct {
			SourceFile  string `json:"source_file"`
			Interaction int    `json:"interaction"`
			Request     struct {
				Messages []recordedMessage `json:"messages"`
			} `json:"request"`
			ResponseContent string `json:"response_content"`
		} `json:"exchanges"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	reqs, resps = make([][]recordedMessage, 3), make([]string, 3)
	for _, e := range f.Exchanges {
		if e.SourceFile == "test_react[True].yaml" && e.Interaction < 3 {
			reqs[e.Interaction] = e.Request.Messages
			resps[e.Interaction] = e.ResponseContent
		}
	}
	for i, r := range reqs {
		if r == nil {
			t.Fatalf("test_react[True].yaml interaction %d is missing from the exchanges", i)
		}
	}
	return reqs, resps
}

type addArgs struct {
	X int `json:"x"`
	Y int `json:"y"`
}

func addTool() *dspy.Tool {
	return dspy.NewTool("add", "", func(_ context.Context, a addArgs) (int, error) { return a.X + a.Y, nil })
}

// TestReActGoldenDSPyExchanges runs DSPy's recorded ReAct episode (the tool
// add(x, y), "question -> answer", "What is 2 + 2?") on the recorded
// responses and compares every request godspy sends with the one DSPy sent,
// byte for byte.
func TestReActGoldenDSPyExchanges(t *testing.T) {
	reqs, resps := reactExchanges(t)
	model := dspytest.NewScriptedLM(resps...)
	agent := dspy.NewReAct("question -> answer", []*dspy.Tool{addTool()})
	ctx := dspy.WithSettings(context.Background(), dspy.WithLM(model))

	pred, err := agent.Call(ctx, dspy.Inputs{"question": "What is 2 + 2?"})
	if err != nil {
		t.Fatalf("ReAct.Call: %v", err)
	}
	sent := model.Requests()
	if len(sent) != len(reqs) {
		t.Fatalf("ReAct sent %d requests, DSPy sent %d", len(sent), len(reqs))
	}
	for i, req := range sent {
		got := make([]recordedMessage, len(req.Messages))
		for j, m := range req.Messages {
			got[j] = recordedMessage{Role: string(m.Role), Content: m.Content}
		}
		if diff := cmp.Diff(reqs[i], got); diff != "" {
			t.Errorf("request %d differs from DSPy's (-dspy +godspy):\n%s", i, diff)
		}
	}

	if got := pred.String("answer"); got != "4" {
		t.Errorf("answer = %q, want %q", got, "4")
	}
	want := []dspy.Step{
		{Thought: "I need to perform the addition of 2 and 2 to answer the question.", ToolName: "add",
			ToolArgs: map[string]any{"x": 2.0, "y": 2.0}, Observation: "4"},
		{Thought: "I have completed the addition and found that 2 + 2 equals 4. I can now finish the task as I have all the information needed to answer the question.",
			ToolName: "finish", ToolArgs: map[string]any{}, Observation: "Completed."},
	}
	if diff := cmp.Diff(want, pred.Trajectory); diff != "" {
		t.Errorf("trajectory (-want +got):\n%s", diff)
	}
	if len(sent) > 0 && sent[0].Tools != nil {
		t.Errorf("text-mode request carries tools: %v", sent[0].Tools)
	}
}

var _ lm.LM = (*dspytest.ScriptedLM)(nil)
