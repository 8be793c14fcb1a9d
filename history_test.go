package dspy

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/godspy/dspy/dspytest"
	"github.com/godspy/dspy/lm"
)

// historyTurns is the history of DSPy's
// test_chat_adapter_format_exact_messages_with_history.
var historyTurns = History{Messages: []map[string]any{
	{"question": "What is 1+1?", "answer": "2"},
	{"question": "What is 2+2?", "answer": "4"},
}}

func contents(ms []lm.Message) []dspyMessage {
	out := make([]dspyMessage, len(ms))
	for i, m := range ms {
		out[i] = dspyMessage{string(m.Role), m.Content}
	}
	return out
}

// TestPredictHistory: Predict with a dspy.History value sends DSPy's exact
// messages (test_chat_adapter_format_exact_messages_with_history).
func TestPredictHistory(t *testing.T) {
	var want []dspyMessage
	for _, c := range loadDSPyMessages(t) {
		if c.ID == "chat/test_chat_adapter_format_exact_messages_with_history" {
			want = c.Messages
		}
	}
	if want == nil {
		t.Fatal("no DSPy history case")
	}
	model := dspytest.NewScriptedLM(dspytest.ChatReply("answer", "6"))
	ctx := WithSettings(context.Background(), WithLM(model), WithAdapter(ChatAdapter{Layout: LayoutDSPy3}))
	p := NewPredict("history: History, question -> answer")
	pred, err := p.Call(ctx, Inputs{"history": historyTurns, "question": "What is 3+3?"})
	if err != nil {
		t.Fatal(err)
	}
	if pred.Get("answer") != "6" {
		t.Errorf("answer = %v, want 6", pred.Get("answer"))
	}
	if d := cmp.Diff(want, contents(model.Requests()[0].Messages)); d != "" {
		t.Errorf("messages mismatch (-want +got):\n%s", d)
	}
}

// TestChainOfThoughtHistory: the history turns are formatted for the
// signature with reasoning, whose missing value DSPy writes as None.
func TestChainOfThoughtHistory(t *testing.T) {
	model := dspytest.NewScriptedLM(dspytest.ChatReply("reasoning", "3+3", "answer", "6"))
	ctx := WithSettings(context.Background(), WithLM(model))
	cot := NewChainOfThought("question, history: dspy.History -> answer")
	if _, err := cot.Call(ctx, Inputs{"question": "What is 3+3?", "history": &historyTurns}); err != nil {
		t.Fatal(err)
	}
	got := contents(model.Requests()[0].Messages)
	want := []dspyMessage{
		{"user", "[[ ## question ## ]]\nWhat is 1+1?"},
		{"assistant", "[[ ## reasoning ## ]]\nNone\n\n[[ ## answer ## ]]\n2\n\n[[ ## completed ## ]]\n"},
		{"user", "[[ ## question ## ]]\nWhat is 2+2?"},
		{"assistant", "[[ ## reasoning ## ]]\nNone\n\n[[ ## answer ## ]]\n4\n\n[[ ## completed ## ]]\n"},
		{"user", "[[ ## question ## ]]\nWhat is 3+3?\n\nRespond with the corresponding output fields, starting with the field `[[ ## reasoning ## ]]`, then `[[ ## answer ## ]]`, and then ending with the marker for `[[ ## completed ## ]]`."},
	}
	if d := cmp.Diff(want, got[1:]); d != "" {
		t.Errorf("messages mismatch (-want +got):\n%s", d)
	}
}

// TestReActHistory: every step call and the extract call carry the
// history turns, before the current inputs and the trajectory.
func TestReActHistory(t *testing.T) {
	model := dspytest.NewScriptedLM(
		dspytest.ChatReply("next_thought", "done", "next_tool_name", "finish", "next_tool_args", "{}"),
		dspytest.ChatReply("reasoning", "r", "answer", "6"),
	)
	ctx := WithSettings(context.Background(), WithLM(model))
	r := NewReAct("history: History, question -> answer", nil)
	in := Inputs{"history": map[string]any{"messages": []any{map[string]any{"question": "What is 1+1?", "answer": "2"}}}, "question": "What is 3+3?"}
	if _, err := r.Call(ctx, in); err != nil {
		t.Fatal(err)
	}
	reqs := model.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d LM calls, want 2", len(reqs))
	}
	turn := map[int]dspyMessage{
		0: {"assistant", "[[ ## next_thought ## ]]\nNone\n\n[[ ## next_tool_name ## ]]\nNone\n\n[[ ## next_tool_args ## ]]\nNone\n\n[[ ## completed ## ]]\n"},
		1: {"assistant", "[[ ## reasoning ## ]]\nNone\n\n[[ ## answer ## ]]\n2\n\n[[ ## completed ## ]]\n"},
	}
	for i, req := range reqs {
		got := contents(req.Messages)
		want := []dspyMessage{{"user", "[[ ## question ## ]]\nWhat is 1+1?"}, turn[i]}
		if d := cmp.Diff(want, got[1:3]); d != "" {
			t.Errorf("call %d: history messages mismatch (-want +got):\n%s", i, d)
		}
		if len(got) != 4 {
			t.Errorf("call %d: %d messages, want system, two history turns and the user message", i, len(got))
		}
	}
}

// TestHistoryInputs: the forms a History input may take, and the errors.
func TestHistoryInputs(t *testing.T) {
	sig := MustSignature("question, history: History -> answer")
	for _, tc := range []struct {
		name  string
		v     any
		turns int
		err   bool
	}{
		{"value", historyTurns, 2, false},
		{"pointer", &historyTurns, 2, false},
		{"nil pointer", (*History)(nil), 0, false},
		{"json", map[string]any{"messages": []any{map[string]any{"question": "q", "answer": "a"}}}, 1, false},
		{"json typed", map[string]any{"messages": []map[string]any{{"question": "q"}}}, 1, false},
		{"empty", History{}, 0, false},
		{"not a history", "earlier", 0, true},
		{"bad message", map[string]any{"messages": []any{"x"}}, 0, true},
		{"extra key", map[string]any{"messages": []any{}, "x": 1}, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, a := range []Adapter{ChatAdapter{}, JSONAdapter{}, XMLAdapter{}} {
				var req lm.Request
				err := a.Format(sig, nil, Inputs{"question": "q2", "history": tc.v}, &req)
				if tc.err {
					if err == nil {
						t.Errorf("%T: no error", a)
					}
					continue
				}
				if err != nil {
					t.Fatalf("%T: %v", a, err)
				}
				if n := len(req.Messages); n != 2+2*tc.turns {
					t.Errorf("%T: %d messages, want %d", a, n, 2+2*tc.turns)
				}
			}
		})
	}
}

// TestHistoryXML: XMLAdapter writes history turns with its sections, a
// str output escaped and a missing one as None.
func TestHistoryXML(t *testing.T) {
	sig := MustSignature("question, history: History -> answer, n: int")
	var req lm.Request
	h := History{Messages: []map[string]any{{"question": "a < b?", "answer": "yes & no"}, {"answer": "x"}}}
	if err := (XMLAdapter{}).Format(sig, nil, Inputs{"question": "q", "history": h}, &req); err != nil {
		t.Fatal(err)
	}
	want := []dspyMessage{
		{"user", "<question>\na < b?\n</question>"},
		{"assistant", "<answer>\nyes &amp; no\n</answer>\n\n<n>\nNone\n</n>"},
		{"assistant", "<answer>\nx\n</answer>\n\n<n>\nNone\n</n>"},
		{"user", "<question>\nq\n</question>\n\nRespond with the corresponding output fields wrapped in XML tags `<answer>`, then `<n>`."},
	}
	if d := cmp.Diff(want, contents(req.Messages)[1:]); d != "" {
		t.Errorf("messages mismatch (-want +got):\n%s", d)
	}
}

// TestSignatureOfHistory: a dspy.History field is a History input.
func TestSignatureOfHistory(t *testing.T) {
	type chat struct {
		History  History `dspy:"in"`
		Question string  `dspy:"in"`
		Answer   string  `dspy:"out"`
	}
	sig, err := SignatureOf[chat]()
	if err != nil {
		t.Fatal(err)
	}
	if f, _ := sig.Input("history"); f.Type.Kind() != KindHistory || f.Type.String() != "History" {
		t.Errorf("history field type = %v, want History", f.Type)
	}
	for _, s := range []string{"history: History, q -> a", "history: dspy.History, q -> a"} {
		if f, _ := MustSignature(s).Input("history"); f.Type.Kind() != KindHistory {
			t.Errorf("%q: history type %v", s, f.Type)
		}
	}
}
