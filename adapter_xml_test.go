package dspy

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/godspy/dspy/lm"
)

func TestXMLAdapterParse(t *testing.T) {
	qa := MustSignature("question -> reasoning, answer")
	for _, tc := range []struct {
		name string
		sig  *Signature
		text string
		want map[string]any
	}{
		{"plain", qa, "<reasoning>\nr\n</reasoning>\n<answer>\na\n</answer>", map[string]any{"reasoning": "r", "answer": "a"}},
		{"any order, prose and other tags", qa, "ok <x>1</x><answer> a <b>bold</b> </answer> then <reasoning>r</reasoning>",
			map[string]any{"reasoning": "r", "answer": "a <b>bold</b>"}},
		{"first occurrence wins", qa, "<answer>1</answer><reasoning>r</reasoning><answer>2</answer>", map[string]any{"reasoning": "r", "answer": "1"}},
		{"unclosed last field runs to the end", qa, "<reasoning>r</reasoning><answer>  open ended\n", map[string]any{"reasoning": "r", "answer": "open ended"}},
		{"tag inside another value", qa, "<reasoning>see <answer>x</answer></reasoning><answer>y</answer>",
			map[string]any{"reasoning": "see <answer>x</answer>", "answer": "y"}},
		{"name prefix is not a match", MustSignature("q -> a, ab"), "<ab>2</ab><a>1</a>", map[string]any{"a": "1", "ab": "2"}},
		{"typed", MustSignature("q -> n: int, xs: list[str]"), "<n>5</n><xs>['a']</xs>", map[string]any{"n": 5, "xs": []any{"a"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := XMLAdapter{}.Parse(tc.sig, tc.text)
			if err != nil {
				t.Fatalf("Parse(%q) error: %v", tc.text, err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("Parse(%q) mismatch (-want +got):\n%s", tc.text, d)
			}
		})
	}
}

func TestXMLAdapterParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, sig, text, wantField, wantErr string
	}{
		{"unparsable", "q -> answer", "just text", "answer",
			`dspy: XMLAdapter could not parse field "answer": Expected to find output fields in the LM response: [answer] Actual output fields parsed from the LM response: []; LM response: "just text"`},
		{"swallowed by an unclosed field", "q -> a, b", "<a>1 <b>2</b>", "b", "Actual output fields parsed from the LM response: [a]"},
		{"bad float", "q -> x: float", "<x>many</x>", "x", `"many" is not a valid float`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := XMLAdapter{}.Parse(MustSignature(tc.sig), tc.text)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Parse(%q) error = %v, want it to contain %q", tc.text, err, tc.wantErr)
			}
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Raw != tc.text || pe.Field != tc.wantField || pe.Adapter != "XMLAdapter" {
				t.Errorf("Parse(%q) error = %#v, want *ParseError{XMLAdapter, %q, raw}", tc.text, err, tc.wantField)
			}
		})
	}
}

func TestXMLAdapterRoundTrip(t *testing.T) {
	sig := MustSignature("q -> reasoning, n: int, tags: list[str]")
	demo := Example{"q": "?", "reasoning": "a < b and <c>", "n": -2, "tags": []string{"x", "y"}}
	var req lm.Request
	if err := (XMLAdapter{}).Format(sig, []Example{demo}, Inputs{"q": "?"}, &req); err != nil {
		t.Fatal(err)
	}
	got, err := XMLAdapter{}.Parse(sig, req.Messages[2].Content)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"reasoning": "a < b and <c>", "n": -2, "tags": []any{"x", "y"}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("round trip mismatch (-want +got):\n%s", d)
	}
	if _, ok := (XMLAdapter{}).Fallback().(JSONAdapter); !ok {
		t.Error("XMLAdapter.Fallback() is not JSONAdapter")
	}
}
