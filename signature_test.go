package dspy

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseSignature(t *testing.T) {
	tests := []struct {
		in   string
		want *Signature
	}{
		{"question -> answer", &Signature{inputs: []Field{{Name: "question"}}, outputs: []Field{{Name: "answer"}}}},
		{"context: list[str], question: str -> answer, confidence: float", &Signature{
			inputs:  []Field{{Name: "context", Type: ListOf(Str())}, {Name: "question"}},
			outputs: []Field{{Name: "answer"}, {Name: "confidence", Type: Float()}},
		}},
		{"text -> sentiment: Literal['positive', 'negative, really'], n: int, ok: bool", &Signature{
			inputs:  []Field{{Name: "text"}},
			outputs: []Field{{Name: "sentiment", Type: Literal("positive", "negative, really")}, {Name: "n", Type: Int()}, {Name: "ok", Type: Bool()}},
		}},
		{"q -> meta: dict[str, Any], grid: list[list[int]]", &Signature{
			inputs:  []Field{{Name: "q"}},
			outputs: []Field{{Name: "meta", Type: DictOf(Str(), Any())}, {Name: "grid", Type: ListOf(ListOf(Int()))}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSignature(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, got, allowSig); d != "" {
				t.Errorf("ParseSignature(%q) (-want +got):\n%s", tt.in, d)
			}
			again, err := ParseSignature(got.String())
			if err != nil || !cmp.Equal(got, again, allowSig) {
				t.Errorf("round trip through String() %q: %v", got.String(), err)
			}
		})
	}
}

func TestParseSignatureErrors(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"question answer", `dspy: bad signature "question answer" at offset 15: missing "->" between inputs and outputs`},
		{" -> answer", `dspy: bad signature " -> answer" at offset 0: no inputs: the inputs side is empty`},
		{"question -> ", `dspy: bad signature "question -> " at offset 11: no outputs: the outputs side is empty`},
		{"q, q -> a", `dspy: bad signature "q, q -> a" at offset 3: duplicate field name "q"`},
		{"q -> a, q", `dspy: bad signature "q -> a, q" at offset 8: duplicate field name "q"`},
		{"2fast -> a", `dspy: bad signature "2fast -> a" at offset 0: "2fast" is not a valid field name (letters, digits and _, not starting with a digit)`},
		{"q -> a: strr", `dspy: bad signature "q -> a: strr" at offset 8: field "a": unknown type "strr" (want str, int, float, bool, Any, list[T], dict[K, V] or Literal[...])`},
		{"q -> a: list[int", `dspy: bad signature "q -> a: list[int" at offset 8: field "a": unbalanced brackets in type "list[int"`},
		{"q -> a -> b", `dspy: bad signature "q -> a -> b" at offset 7: more than one "->"`},
		{"q -> a:", `dspy: bad signature "q -> a:" at offset 7: missing type after ":" for field "a"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := ParseSignature(tt.in)
			if err == nil {
				t.Fatalf("ParseSignature(%q) succeeded", tt.in)
			}
			if err.Error() != tt.want {
				t.Errorf("ParseSignature(%q) error\n got %s\nwant %s", tt.in, err, tt.want)
			}
			var se *SignatureError
			if !errors.As(err, &se) {
				t.Errorf("error is %T, want *SignatureError", err)
			}
		})
	}
}

func TestSignatureOf(t *testing.T) {
	type QA struct {
		_          struct{} `dspy:"instructions=Answer questions with short factoid answers."`
		Question   string   `dspy:"in"`
		Context    []string `dspy:"in,desc=facts, in order"`
		Answer     string   `dspy:"out,desc=often between 1 and 5 words"`
		Confidence float64  `json:"conf" dspy:"out"`
		Label      string   `dspy:"out,literal=yes|no"`
		ignored    int      //lint:ignore U1000 unexported on purpose: SignatureOf must skip it
	}
	got, err := SignatureOf[QA]()
	if err != nil {
		t.Fatal(err)
	}
	want := &Signature{
		instructions: "Answer questions with short factoid answers.",
		inputs:       []Field{{Name: "question"}, {Name: "context", Desc: "facts, in order", Type: ListOf(Str())}},
		outputs: []Field{
			{Name: "answer", Desc: "often between 1 and 5 words"},
			{Name: "conf", Type: Float()},
			{Name: "label", Type: Literal("yes", "no")},
		},
	}
	if d := cmp.Diff(want, got, allowSig); d != "" {
		t.Errorf("SignatureOf (-want +got):\n%s", d)
	}
	type bad struct {
		In string `dspy:"in"`
	}
	if _, err := SignatureOf[bad](); err == nil {
		t.Error("SignatureOf a struct with no outputs succeeded")
	}
}

func TestTaskInstructionsDefault(t *testing.T) {
	got := MustSignature("question, context -> answer").Instructions()
	want := "Given the fields `question`, `context`, produce the fields `answer`."
	if got != want {
		t.Errorf("Instructions() = %q, want %q", got, want)
	}
}

func FuzzParseSignature(f *testing.F) {
	for _, s := range []string{"question -> answer", "a: list[str], b -> c: Literal['x', 'y']", "q -> d: dict[str, Any]", "->", "a -> b -> c", "x: list[ -> y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sig, err := ParseSignature(s)
		if err != nil {
			var se *SignatureError
			if !errors.As(err, &se) || se.Pos < 0 || se.Pos > len(s) {
				t.Fatalf("ParseSignature(%q) error %v: not a *SignatureError with a position inside the input", s, err)
			}
			return
		}
		again, err := ParseSignature(sig.String())
		if err != nil {
			t.Fatalf("ParseSignature(%q).String() = %q does not parse: %v", s, sig.String(), err)
		}
		if !cmp.Equal(sig, again, allowSig) {
			t.Fatalf("round trip of %q changed it: %s", s, cmp.Diff(sig, again, allowSig))
		}
	})
}
