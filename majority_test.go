package dspy_test

import (
	"testing"

	"github.com/godspy/dspy"
)

func answers(vals ...any) []*dspy.Prediction {
	out := make([]*dspy.Prediction, len(vals))
	for i, v := range vals {
		out[i] = dspy.NewPrediction([]string{"reasoning", "answer"}, map[string]any{"reasoning": i, "answer": v})
	}
	return out
}

func TestMajority(t *testing.T) {
	for _, tc := range []struct {
		name  string
		preds []*dspy.Prediction
		field string
		want  int // index of the prediction returned
	}{
		{"plain", answers("Paris", "Lyon", "Paris"), "answer", 0},
		{"normalized", answers("Lyon", "the  Paris.", "PARIS!"), "answer", 1},
		{"tie goes to the value seen first", answers("Lyon", "Paris", "Paris", "Lyon"), "answer", 0},
		{"tie after normalization", answers("b", "A", "a.", "B"), "answer", 0},
		{"missing values are not counted", append(answers("Lyon"), dspy.NewPrediction(nil, nil), dspy.NewPrediction(nil, nil)), "answer", 0},
		{"empty values are not counted", answers("", "", "", "Paris"), "answer", 3},
		{"all empty", answers("", "."), "answer", 0},
		{"default field is the last", answers("x", "y", "y"), "", 1},
		{"non-string values", answers(4, 5, 4.0), "answer", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := dspy.Majority(tc.preds, tc.field)
			if err != nil {
				t.Fatalf("Majority: %v", err)
			}
			if got != tc.preds[tc.want] {
				t.Errorf("Majority(%q) = %v, want prediction %d (%v)", tc.field, got, tc.want, tc.preds[tc.want])
			}
		})
	}
}

func TestMajorityErrors(t *testing.T) {
	if _, err := dspy.Majority(nil, "answer"); err == nil {
		t.Error("Majority(nil) succeeded, want an error")
	}
	if _, err := dspy.Majority(answers("x"), "missing"); err == nil {
		t.Error("Majority(missing field) succeeded, want an error")
	}
}

func TestNormalizeText(t *testing.T) {
	for in, want := range map[string]string{
		"  The Eiffel   Tower!  ": "eiffel tower",
		"A cat, an apple":         "cat apple",
		"theatre":                 "theatre",
		"Paris.":                  "paris",
		"U.S.A.":                  "usa",
		"x_y + 1 = 2":             "xy 1 2",
		"the—end":                 "—end",
		"Crème brûlée":            "crème brûlée",
	} {
		if got := dspy.NormalizeText(in); got != want {
			t.Errorf("NormalizeText(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCompletionsOf(t *testing.T) {
	p := dspy.NewPrediction([]string{"answer"}, map[string]any{"answer": "a"})
	p.Completions = []map[string]any{{"answer": "a"}, {"answer": "b"}, {"answer": "B."}}
	cs := dspy.CompletionsOf(p)
	if len(cs) != 3 || cs[2].Get("answer") != "B." {
		t.Fatalf("CompletionsOf = %v, want three predictions", cs)
	}
	got, err := dspy.Majority(cs, "answer")
	if err != nil || got.Get("answer") != "b" {
		t.Errorf("Majority(CompletionsOf) = %v, %v; want b", got, err)
	}
	if cs := dspy.CompletionsOf(dspy.NewPrediction(nil, nil)); len(cs) != 1 {
		t.Errorf("CompletionsOf(no completions) has %d predictions, want 1", len(cs))
	}
}
