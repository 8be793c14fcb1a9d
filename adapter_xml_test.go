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
		{"tag inside another value", qa, "<reasoning>see <answer>x</answer></reasoning><answer>y</answer>",
			map[string]any{"reasoning": "see <answer>x</answer>", "answer": "y"}},
		// DSPy 3 reads the reply with an XML parser: references are decoded
		// and a nested element of the field's name does not end the field.
		{"entities decoded", qa, "<reasoning>r</reasoning><answer>a &amp;&amp; b &lt;c&gt; &#65;&#x1F600; &quot;&apos;</answer>",
			map[string]any{"reasoning": "r", "answer": "a && b <c> A😀 \"'"}},
		{"nested tag of the same name", qa, "<reasoning>r</reasoning><answer>The tag <answer>inner</answer> ends here</answer>",
			map[string]any{"reasoning": "r", "answer": "The tag <answer>inner</answer> ends here"}},
		{"children written back as ElementTree does", qa,
			"<reasoning><b x='1'\n y=\"a&amp;b\"></b> a &amp; <i>c &lt; d</i>\r\n</reasoning><answer><![CDATA[x < y]]><!-- c --><?pi?></answer>",
			map[string]any{"reasoning": `<b x="1" y="a&amp;b" /> a &amp; <i>c &lt; d</i>`, "answer": "x < y"}},
		{"entry key", qa, `<reasoning>r</reasoning><entry key="answer">a</entry>`, map[string]any{"reasoning": "r", "answer": "a"}},
		{"nested list", MustSignature("q -> xs: list[int], m: dict[str, list[int]]"),
			"<xs><item>1</item><item> 2 </item></xs><m><a>3</a><a>4</a><entry key=\"b c\">5</entry></m>",
			map[string]any{"xs": []any{1, 2}, "m": map[string]any{"a": []any{3, 4}, "b c": []any{5}}}},
		{"empty list and dict", MustSignature("q -> xs: list[str], m: dict[str, int]"), "<xs /><m></m>",
			map[string]any{"xs": []any{}, "m": map[string]any{}}},
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
		{"unclosed field", "q -> a, b", "<a>1 <b>2</b>", "", "Failed to parse XML: unclosed element <a>"},
		{"bare ampersand", "q -> a", "<a>AT&T</a>", "", "Failed to parse XML"},
		{"undefined entity", "q -> a", "<a>&nbsp;</a>", "", "Failed to parse XML: undefined entity &nbsp;"},
		{"mismatched tag", "q -> a", "<a>x</b>", "", "Failed to parse XML: mismatched tag"},
		{"int with children", "q -> n: int", "<n><b>4</b></n>", "n", "it has child elements"},
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
