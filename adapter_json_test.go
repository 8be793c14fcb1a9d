package dspy

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/godspy/dspy/lm"
)

func TestJSONAdapterParse(t *testing.T) {
	qa := MustSignature("question -> reasoning, answer")
	typed := MustSignature("q -> n: int, s: str, op: Literal['add', 'finish'], xs: list[int], d: dict[str, Any], ok: bool")
	for _, tc := range []struct {
		name string
		sig  *Signature
		text string
		want map[string]any
	}{
		{
			name: "bare object",
			sig:  qa,
			text: `{"reasoning": "r", "answer": "a"}`,
			want: map[string]any{"reasoning": "r", "answer": "a"},
		},
		{
			name: "json fence",
			sig:  qa,
			text: "Here you go:\n```json\n{\"reasoning\": \"r\",\n \"answer\": \"a {b}\"}\n```\nDone.",
			want: map[string]any{"reasoning": "r", "answer": "a {b}"},
		},
		{
			name: "plain fence",
			sig:  qa,
			text: "```\n{\"answer\": \"a\", \"reasoning\": \"r\"}\n```",
			want: map[string]any{"reasoning": "r", "answer": "a"},
		},
		{
			name: "prose around the object",
			sig:  qa,
			text: "Sure {not json}. {\"reasoning\": \"r\", \"answer\": \"a\"} Hope that helps {}",
			want: map[string]any{"reasoning": "r", "answer": "a"},
		},
		{
			name: "duplicate keys keep the first",
			sig:  qa,
			text: `{"answer": "first", "reasoning": "r", "answer": "second", "extra": 1}`,
			want: map[string]any{"reasoning": "r", "answer": "first"},
		},
		{
			name: "python dict",
			sig:  qa,
			text: `{'reasoning': 'it\'s so', 'answer': 'a',}`,
			want: map[string]any{"reasoning": "it's so", "answer": "a"},
		},
		{
			name: "coercions",
			sig:  typed,
			text: `{"n": "4", "s": 12.50, "op": "FINISH", "xs": "[1, 2]", "d": {"k": [1, {"z": null}]}, "ok": "true"}`,
			want: map[string]any{
				"n": 4, "s": "12.50", "op": "finish", "xs": []any{1, 2},
				"d": map[string]any{"k": []any{1.0, map[string]any{"z": nil}}}, "ok": true,
			},
		},
		{
			name: "object for a str field keeps its JSON text",
			sig:  MustSignature("q -> s"),
			text: `{"s": {"a": [1, 2]}}`,
			want: map[string]any{"s": `{"a": [1, 2]}`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := JSONAdapter{}.Parse(tc.sig, tc.text)
			if err != nil {
				t.Fatalf("Parse(%q) error: %v", tc.text, err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("Parse(%q) mismatch (-want +got):\n%s", tc.text, d)
			}
		})
	}
}

func TestJSONAdapterParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, sig, text, wantField, wantErr string
	}{
		{"no object", "q -> answer", "The answer is 4.", "",
			`dspy: JSONAdapter could not parse the LM response: LM response cannot be serialized to a JSON object; LM response: "The answer is 4."`},
		{"array", "q -> answer", `["answer", 4]`, "", "LM response cannot be serialized to a JSON object"},
		{"missing field", "q -> reasoning, answer", `{"reasoning": "r"}`, "answer",
			`dspy: JSONAdapter could not parse field "answer": Expected to find output fields in the LM response: [reasoning, answer] Actual output fields parsed from the LM response: [reasoning]`},
		{"bad int", "q -> n: int", `{"n": "four"}`, "n", `could not parse field "n": "four" is not a valid int`},
		{"bool for int", "q -> n: int", `{"n": true}`, "n", `true is not a valid int`},
		{"bad literal", "q -> op: Literal['a', 'b']", `{"op": "c"}`, "op", `"c" is not one of Literal['a', 'b']`},
		{"null str", "q -> s", `{"s": null}`, "s", `null is not a valid str`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := JSONAdapter{}.Parse(MustSignature(tc.sig), tc.text)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Parse(%q) error = %v, want it to contain %q", tc.text, err, tc.wantErr)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse(%q) error is %T, want *ParseError", tc.text, err)
			}
			if pe.Raw != tc.text || pe.Field != tc.wantField || pe.Adapter != "JSONAdapter" {
				t.Errorf("ParseError = {%q, %q, %q}, want {JSONAdapter, %q, %q}", pe.Adapter, pe.Field, pe.Raw, tc.wantField, tc.text)
			}
		})
	}
}

func TestJSONAdapterResponseFormat(t *testing.T) {
	sig := MustSignature("q -> reasoning, answer: Literal['yes', 'no'], score: float, tags: list[str]")
	var req lm.Request
	if err := (JSONAdapter{}).Format(sig, nil, Inputs{"q": "?"}, &req); err != nil {
		t.Fatal(err)
	}
	rf := req.ResponseFormat
	if rf == nil || rf.Type != "json_schema" || !rf.Strict || rf.Name != "DSPyProgramOutputs" {
		t.Fatalf("ResponseFormat = %+v, want a strict json_schema", rf)
	}
	got, err := json.Marshal(rf.Schema)
	if err != nil {
		t.Fatal(err)
	}
	// Properties stay in signature order: reasoning before answer.
	want := `{"additionalProperties":false,` +
		`"properties":{"reasoning":{"type":"string"},"answer":{"enum":["yes","no"],"type":"string"},"score":{"type":"number"},"tags":{"items":{"type":"string"},"type":"array"}},` +
		`"required":["reasoning","answer","score","tags"],"type":"object"}`
	if d := cmp.Diff(want, string(got)); d != "" {
		t.Errorf("schema mismatch (-want +got):\n%s", d)
	}

	for _, s := range []string{"q -> d: dict[str, Any]", "q -> a: Any", "q -> xs: list[dict[str, int]]"} {
		if rf := ResponseFormatFor(MustSignature(s)); rf.Type != "json_object" || rf.Schema != nil {
			t.Errorf("ResponseFormatFor(%q) = %+v, want json_object", s, rf)
		}
	}
}

func TestJSONAdapterRoundTrip(t *testing.T) {
	sig := MustSignature("q -> reasoning, n: int, op: Literal['add', 'finish'], xs: list[float], d: dict[str, Any], ok: bool")
	demo := Example{
		"q": "?", "reasoning": "line one\nline \"two\" </b> \u2028 end", "n": 3, "op": "add",
		"xs": []any{1.5, 2.0}, "d": map[string]any{"x": 2.0, "y": []any{"z"}}, "ok": false,
	}
	var req lm.Request
	if err := (JSONAdapter{}).Format(sig, []Example{demo}, Inputs{"q": "?"}, &req); err != nil {
		t.Fatal(err)
	}
	reply := req.Messages[2].Content
	got, err := JSONAdapter{}.Parse(sig, reply)
	if err != nil {
		t.Fatalf("Parse(%q): %v", reply, err)
	}
	want := map[string]any{
		"reasoning": demo["reasoning"], "n": 3, "op": "add", "xs": []any{1.5, 2.0},
		"d": map[string]any{"x": 2.0, "y": []any{"z"}}, "ok": false,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("round trip mismatch (-want +got):\n%s\nreply:\n%s", d, reply)
	}
}
