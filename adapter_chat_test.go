package dspy

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/godspy/dspy/lm"
)

func TestChatAdapterParse(t *testing.T) {
	qa := MustSignature("question -> reasoning, answer")
	typed := MustSignature("q -> n: int, x: float, ok: bool, op: Literal['add', 'finish'], tags: list[str], args: dict[str, Any]")
	for _, tc := range []struct {
		name string
		sig  *Signature
		text string
		want map[string]any
	}{
		{
			name: "plain",
			sig:  qa,
			text: "[[ ## reasoning ## ]]\nBecause.\n\n[[ ## answer ## ]]\n42\n\n[[ ## completed ## ]]",
			want: map[string]any{"reasoning": "Because.", "answer": "42"},
		},
		{
			name: "value on the header line",
			sig:  qa,
			text: "[[ ## reasoning ## ]] first line  \n  second line\n\n[[ ## answer ## ]]   42   ",
			want: map[string]any{"reasoning": "first line\n  second line", "answer": "42"},
		},
		{
			name: "header line value with whitespace-only body",
			sig:  qa,
			text: "[[ ## reasoning ## ]] r\n   \n\t\n[[ ## answer ## ]]\na",
			want: map[string]any{"reasoning": "r", "answer": "a"},
		},
		{
			name: "first section wins, others ignored",
			sig:  qa,
			text: "preamble\n[[ ## answer ## ]]\nfirst\n[[ ## notes ## ]]\nx\n[[ ## answer ## ]]\nsecond\n[[ ## reasoning ## ]]\nr\n[[ ## completed ## ]]\ntrailing",
			want: map[string]any{"reasoning": "r", "answer": "first"},
		},
		{
			name: "indented header and CRLF",
			sig:  qa,
			text: "  [[ ## reasoning ## ]]\r\nwhy\r\n\r\n\t[[ ## answer ## ]]\r\nyes\r\n",
			want: map[string]any{"reasoning": "why", "answer": "yes"},
		},
		{
			name: "header not at line start is text",
			sig:  qa,
			text: "[[ ## reasoning ## ]]\nsee [[ ## answer ## ]] here\n[[ ## answer ## ]]\nok",
			want: map[string]any{"reasoning": "see [[ ## answer ## ]] here", "answer": "ok"},
		},
		{
			name: "malformed headers are text",
			sig:  qa,
			text: "[[ ## reasoning ## ]]\n[[ ## bad-name ## ]]\n[[ ##answer## ]]\n[[ ## answer ## ]]\nok",
			want: map[string]any{"reasoning": "[[ ## bad-name ## ]]\n[[ ##answer## ]]", "answer": "ok"},
		},
		{
			name: "empty value",
			sig:  qa,
			text: "[[ ## reasoning ## ]]\n[[ ## answer ## ]]\n",
			want: map[string]any{"reasoning": "", "answer": ""},
		},
		{
			name: "unicode field names",
			sig:  MustSignature("q -> réponse, 答え"),
			text: "[[ ## réponse ## ]]\noui\n[[ ## 答え ## ]]\nはい",
			want: map[string]any{"réponse": "oui", "答え": "はい"},
		},
		{
			name: "typed values",
			sig:  typed,
			text: "[[ ## n ## ]]\n 42 \n[[ ## x ## ]]\n2.5\n[[ ## ok ## ]]\nTrue\n[[ ## op ## ]]\n'Finish'\n" +
				"[[ ## tags ## ]]\n['a', \"b\"]\n[[ ## args ## ]]\n{\"x\": 2, \"nested\": {\"y\": [true, null]}}\n[[ ## completed ## ]]",
			want: map[string]any{
				"n": 42, "x": 2.5, "ok": true, "op": "finish",
				"tags": []any{"a", "b"},
				"args": map[string]any{"x": 2.0, "nested": map[string]any{"y": []any{true, nil}}},
			},
		},
		{
			name: "python literals and fences",
			sig:  typed,
			text: "[[ ## n ## ]]\n\"7\"\n[[ ## x ## ]]\n3\n[[ ## ok ## ]]\nfalse\n[[ ## op ## ]]\nLiteral['add']\n" +
				"[[ ## tags ## ]]\n```json\n[\"a\",]\n```\n[[ ## args ## ]]\n{'k': True, 'n': None, 't': (1, 2.5,)}",
			want: map[string]any{
				"n": 7, "x": 3.0, "ok": false, "op": "add",
				"tags": []any{"a"},
				"args": map[string]any{"k": true, "n": nil, "t": []any{1.0, 2.5}},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ChatAdapter{}.Parse(tc.sig, tc.text)
			if err != nil {
				t.Fatalf("Parse(%q) error: %v", tc.text, err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("Parse(%q) mismatch (-want +got):\n%s", tc.text, d)
			}
		})
	}
}

func TestChatAdapterParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name      string
		sig       string
		text      string
		wantField string
		wantErr   string
	}{
		{
			name:      "unparsable reply",
			sig:       "question -> answer",
			text:      "I think the answer is 4.",
			wantField: "answer",
			wantErr:   `dspy: ChatAdapter could not parse field "answer": Expected to find output fields in the LM response: [answer] Actual output fields parsed from the LM response: []; LM response: "I think the answer is 4."`,
		},
		{
			name:      "missing field",
			sig:       "question -> reasoning, answer",
			text:      "[[ ## reasoning ## ]]\nhmm\n[[ ## completed ## ]]",
			wantField: "answer",
			wantErr:   `Expected to find output fields in the LM response: [reasoning, answer] Actual output fields parsed from the LM response: [reasoning]`,
		},
		{
			name:      "bad literal",
			sig:       "q -> op: Literal['add', 'finish']",
			text:      "[[ ## op ## ]]\nsubtract",
			wantField: "op",
			wantErr:   `dspy: ChatAdapter could not parse field "op": "subtract" is not one of Literal['add', 'finish']`,
		},
		{
			name:      "bad int",
			sig:       "q -> n: int",
			text:      "[[ ## n ## ]]\nfour",
			wantField: "n",
			wantErr:   `could not parse field "n": "four" is not a valid int`,
		},
		{
			name:      "fractional int",
			sig:       "q -> n: int",
			text:      "[[ ## n ## ]]\n4.5",
			wantField: "n",
			wantErr:   `"4.5" is not a valid int`,
		},
		{
			name:      "bad bool",
			sig:       "q -> ok: bool",
			text:      "[[ ## ok ## ]]\nmaybe",
			wantField: "ok",
			wantErr:   `"maybe" is not a valid bool (want True or False)`,
		},
		{
			name:      "bad list",
			sig:       "q -> xs: list[int]",
			text:      "[[ ## xs ## ]]\n[1, 'two']",
			wantField: "xs",
			wantErr:   `item 1: "two" is not a valid int`,
		},
		{
			name:      "not a dict",
			sig:       "q -> d: dict[str, Any]",
			text:      "[[ ## d ## ]]\nx = 1",
			wantField: "d",
			wantErr:   `"x = 1" is not a valid dict[str, Any]`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ChatAdapter{}.Parse(MustSignature(tc.sig), tc.text)
			if err == nil {
				t.Fatalf("Parse(%q) = nil error, want %q", tc.text, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Parse(%q) error = %q, want it to contain %q", tc.text, err, tc.wantErr)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse(%q) error is %T, want *ParseError", tc.text, err)
			}
			if pe.Raw != tc.text || pe.Field != tc.wantField || pe.Adapter != "ChatAdapter" {
				t.Errorf("ParseError = {Adapter: %q, Field: %q, Raw: %q}, want {ChatAdapter, %q, %q}", pe.Adapter, pe.Field, pe.Raw, tc.wantField, tc.text)
			}
		})
	}
}

func TestChatAdapterFormatValues(t *testing.T) {
	sig := &Signature{
		inputs: []Field{
			{Name: "docs"}, {Name: "one"}, {Name: "none"}, {Name: "nums", Type: ListOf(Int())},
			{Name: "obj", Type: DictOf(Str(), Any())}, {Name: "flag", Type: Bool()}, {Name: "f", Type: Float()}, {Name: "g"},
		},
		outputs: []Field{{Name: "answer"}},
	}
	in := Inputs{
		"docs": []string{"a", "multi\nline"},
		"one":  []any{"solo"},
		"none": []string{},
		"nums": []int{1, 2},
		"obj":  map[string]any{"b": "<&>", "a": []any{1.5, true, nil}},
		"flag": false,
		"f":    2.0,
		"g":    2.0,
	}
	var req lm.Request
	if err := (ChatAdapter{}).Format(sig, nil, in, &req); err != nil {
		t.Fatal(err)
	}
	want := "[[ ## docs ## ]]\n[1] «a»\n[2] «««\n    multi\n    line\n»»»\n\n" +
		"[[ ## one ## ]]\n«solo»\n\n" +
		"[[ ## none ## ]]\nN/A\n\n" +
		"[[ ## nums ## ]]\n[1, 2]\n\n" +
		"[[ ## obj ## ]]\n{\"a\": [1.5, true, null], \"b\": \"<&>\"}\n\n" +
		"[[ ## flag ## ]]\nFalse\n\n" +
		"[[ ## f ## ]]\n2.0\n\n" +
		"[[ ## g ## ]]\n2\n\n" +
		"Respond with the corresponding output fields, starting with the field `[[ ## answer ## ]]`, and then ending with the marker for `[[ ## completed ## ]]`."
	if d := cmp.Diff(want, req.Messages[len(req.Messages)-1].Content); d != "" {
		t.Errorf("user message mismatch (-want +got):\n%s", d)
	}
}

func TestChatAdapterSystemNotes(t *testing.T) {
	sig := MustSignature("q -> n: int, x: float, ok: bool, xs: list[str], d: dict[str, int], lit: Literal['a', \"b's\"], one: Literal['only'], any: Any, l2: list[Literal['x', 'y']]")
	sys := ChatAdapter{}.system(sig)
	for _, want := range []string{
		"{n}        # note: the value you produce must be a single int value",
		"{x}        # note: the value you produce must be a single float value",
		"{ok}        # note: the value you produce must be True or False",
		`{xs}        # note: the value you produce must adhere to the JSON schema: {"type": "array", "items": {"type": "string"}}`,
		`{d}        # note: the value you produce must adhere to the JSON schema: {"type": "object", "additionalProperties": {"type": "integer"}}`,
		"{lit}        # note: the value you produce must exactly match (no extra characters) one of: a; b's",
		"{one}        # note: the value you produce must exactly match (no extra characters) one of: only",
		`{any}        # note: the value you produce must adhere to the JSON schema: {}`,
		`{l2}        # note: the value you produce must adhere to the JSON schema: {"type": "array", "items": {"type": "string", "enum": ["x", "y"]}}`,
		"2. `x` (float)",
		"6. `lit` (Literal['a', \"b's\"])",
	} {
		if !strings.Contains(sys, want) {
			t.Errorf("system message lacks %q:\n%s", want, sys)
		}
	}
}

func TestChatAdapterObjective(t *testing.T) {
	for _, tc := range []struct{ instr, want string }{
		{"Do it.", "In adhering to this structure, your objective is: \n        Do it."},
		{"    Indented\n      more\n\n    back\n", "In adhering to this structure, your objective is: \n        Indented\n          more\n        \n        back"},
		{"a\r\nb\rc", "In adhering to this structure, your objective is: \n        a\n        b\n        c"},
		{"\tTab\n\t  x", "In adhering to this structure, your objective is: \n        Tab\n          x"},
	} {
		var b strings.Builder
		writeObjective(&b, tc.instr)
		if d := cmp.Diff(tc.want, b.String()); d != "" {
			t.Errorf("writeObjective(%q) mismatch (-want +got):\n%s", tc.instr, d)
		}
	}
}

func TestChatAdapterFallback(t *testing.T) {
	var a Adapter = ChatAdapter{}
	fa, ok := a.(FallbackAdapter)
	if !ok {
		t.Fatal("ChatAdapter does not implement FallbackAdapter")
	}
	if _, ok := fa.Fallback().(JSONAdapter); !ok {
		t.Errorf("ChatAdapter.Fallback() = %T, want JSONAdapter", fa.Fallback())
	}
}

// chatBenchSig is the 2-in/2-out signature of the Predict benchmark.
var chatBenchSig = MustSignature("context, question -> reasoning, answer")

func BenchmarkChatFormat(b *testing.B) {
	in := Inputs{"context": "Paris is the capital and largest city of France.", "question": "What is the capital of France?"}
	a := ChatAdapter{}
	b.ReportAllocs()
	for b.Loop() {
		var req lm.Request
		if err := a.Format(chatBenchSig, nil, in, &req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkChatParse(b *testing.B) {
	text := "[[ ## reasoning ## ]]\nThe context says Paris is the capital of France.\n\n[[ ## answer ## ]]\nParis\n\n[[ ## completed ## ]]"
	a := ChatAdapter{}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Parse(chatBenchSig, text); err != nil {
			b.Fatal(err)
		}
	}
}

func TestChatAdapterDemoSelection(t *testing.T) {
	sig := MustSignature("question -> answer")
	demos := []Example{
		{"question": "inputs only"},                // dropped: no output
		{"answer": "outputs only"},                 // dropped: no input
		{"question": "q1", "answer": "a1"},         // complete
		{"question": "q2", "answer": nil},          // incomplete: None counts as missing
		{"question": "q3", "answer": "a3", "x": 1}, // complete; unknown keys ignored
	}
	var req lm.Request
	if err := (ChatAdapter{}).Format(sig, demos, Inputs{"question": "q"}, &req); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range req.Messages[1:] {
		got = append(got, string(m.Role)+": "+m.Content)
	}
	want := []string{
		"user: This is an example of the task, though some input or output fields are not supplied.\n\n[[ ## question ## ]]\nq2",
		"assistant: [[ ## answer ## ]]\nNone\n\n[[ ## completed ## ]]\n",
		"user: [[ ## question ## ]]\nq1",
		"assistant: [[ ## answer ## ]]\na1\n\n[[ ## completed ## ]]\n",
		"user: [[ ## question ## ]]\nq3",
		"assistant: [[ ## answer ## ]]\na3\n\n[[ ## completed ## ]]\n",
		"user: [[ ## question ## ]]\nq\n\nRespond with the corresponding output fields, starting with the field `[[ ## answer ## ]]`, and then ending with the marker for `[[ ## completed ## ]]`.",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("demo messages mismatch (-want +got):\n%s", d)
	}
}
