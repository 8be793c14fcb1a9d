package dspy

import (
	"errors"
	"testing"

	"github.com/godspy/dspy/lm"
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
		{"q -> a: strr", `dspy: bad signature "q -> a: strr" at offset 8: field "a": unknown type "strr" (want str, int, float, bool, Any, History, list[T], dict[K, V] or Literal[...])`},
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

// A Signature cannot be changed after construction: what its accessors
// return are copies, so a prompt the adapters cached for it stays right.
func TestSignatureImmutable(t *testing.T) {
	sig := MustSignature("question -> answer: Literal['yes', 'no']")
	format := func() string {
		var req lm.Request
		if err := (ChatAdapter{}).Format(sig, nil, Inputs{"question": "q"}, &req); err != nil {
			t.Fatal(err)
		}
		return req.Messages[0].Content + req.Messages[1].Content
	}
	before := format() // cached now

	outs := sig.Outputs()
	outs[0].Desc = "changed"
	outs[0].Name = "changed"
	vals := outs[0].Type.Values()
	vals[0] = "changed"
	ins := sig.Inputs()
	ins[0].Name = "changed"

	if got := sig.String(); got != "question -> answer: Literal['yes', 'no']" {
		t.Errorf("after mutating copies, sig.String() = %q", got)
	}
	if d := cmp.Diff(before, format()); d != "" {
		t.Errorf("cached prompt changed (-before +after):\n%s", d)
	}
	// The cached prompt equals one built from scratch for an equal signature.
	sig = MustSignature("question -> answer: Literal['yes', 'no']")
	if d := cmp.Diff(before, format()); d != "" {
		t.Errorf("prompt differs from a fresh signature's (-cached +fresh):\n%s", d)
	}

	// Constructors copy what they are given.
	lit := []string{"a", "b"}
	typ := Literal(lit...)
	lit[0] = "changed"
	if got := typ.String(); got != "Literal['a', 'b']" {
		t.Errorf("Literal after mutating its argument = %s", got)
	}
	fields := []Field{{Name: "q"}}
	s, err := NewSignature(fields, []Field{{Name: "a", Type: typ}})
	if err != nil {
		t.Fatal(err)
	}
	fields[0].Name = "changed"
	if got := s.String(); got != "q -> a: Literal['a', 'b']" {
		t.Errorf("NewSignature after mutating its argument = %q", got)
	}
}

func TestNewSignature(t *testing.T) {
	for _, tc := range []struct {
		name     string
		ins, out []Field
		want     string // error text, "" for none
	}{
		{"ok", []Field{{Name: "q"}}, []Field{{Name: "a", Type: ListOf(Int())}}, ""},
		{"no inputs", nil, []Field{{Name: "a"}}, `dspy: bad signature " -> a": no inputs`},
		{"no outputs", []Field{{Name: "q"}}, nil, `dspy: bad signature "q -> ": no outputs`},
		{"bad name", []Field{{Name: "1q"}}, []Field{{Name: "a"}}, `dspy: bad signature "1q -> a": "1q" is not a valid field name (letters, digits and _, not starting with a digit)`},
		{"duplicate", []Field{{Name: "q"}}, []Field{{Name: "q"}}, `dspy: bad signature "q -> q": duplicate field name "q"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewSignature(tc.ins, tc.out)
			if tc.want == "" {
				if err != nil || s == nil {
					t.Fatalf("NewSignature() = %v, %v", s, err)
				}
				return
			}
			var se *SignatureError
			if !errors.As(err, &se) || err.Error() != tc.want || se.Pos != -1 {
				t.Fatalf("NewSignature() error = %v, want *SignatureError %q with Pos -1", err, tc.want)
			}
		})
	}
}
