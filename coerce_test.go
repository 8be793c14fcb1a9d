package dspy

import (
	"math"
	"runtime"
	"strings"
	"testing"
	"time"
	"weak"

	"github.com/google/go-cmp/cmp"

	"github.com/godspy/dspy/lm"
)

func TestCoerceText(t *testing.T) {
	mustType := func(s string) Type {
		tp, err := ParseType(s)
		if err != nil {
			t.Fatal(err)
		}
		return tp
	}
	for _, tc := range []struct {
		typ, in string
		want    any
		wantErr string
	}{
		{typ: "str", in: " as is ", want: " as is "},
		{typ: "int", in: "42", want: 42},
		{typ: "int", in: " -7 ", want: -7},
		{typ: "int", in: "'12'", want: 12},
		{typ: "int", in: "4.0", want: 4},
		{typ: "int", in: "1e3", want: 1000},
		{typ: "int", in: "4.5", wantErr: `"4.5" is not a valid int`},
		{typ: "int", in: "0x10", wantErr: `"0x10" is not a valid int`},
		{typ: "int", in: "", wantErr: `"" is not a valid int`},
		{typ: "float", in: "2.5", want: 2.5},
		{typ: "float", in: "\"3\"", want: 3.0},
		{typ: "float", in: "NaN", wantErr: `"NaN" is not a valid float`},
		{typ: "float", in: "inf", wantErr: `"inf" is not a valid float`},
		{typ: "bool", in: "True", want: true},
		{typ: "bool", in: "false", want: false},
		{typ: "bool", in: "TRUE", want: true},
		{typ: "bool", in: "yes", wantErr: `"yes" is not a valid bool (want True or False)`},
		{typ: "Literal['add', 'finish']", in: "add", want: "add"},
		{typ: "Literal['add', 'finish']", in: "  \"finish\" ", want: "finish"},
		{typ: "Literal['add', 'finish']", in: "Literal['add']", want: "add"},
		{typ: "Literal['add', 'finish']", in: "ADD", want: "add"},
		{typ: "Literal['add', 'finish']", in: "add it", wantErr: `"add it" is not one of Literal['add', 'finish']`},
		{typ: "Literal['A', 'a']", in: "a", want: "a"},
		{typ: "list[str]", in: `["a", "b"]`, want: []any{"a", "b"}},
		{typ: "list[str]", in: `['a', "b's", 'c\n']`, want: []any{"a", "b's", "c\n"}},
		{typ: "list[int]", in: "[1, 2.0, '3']", want: []any{1, 2, 3}},
		{typ: "list[str]", in: "a, b", wantErr: `"a, b" is not a valid list[str]`},
		{typ: "list[Any]", in: "[1, 'x', None, True, {'k': (1,)}]", want: []any{1.0, "x", nil, true, map[string]any{"k": []any{1.0}}}},
		{typ: "dict[str, int]", in: `{"a": 1, 'b': '2'}`, want: map[string]any{"a": 1, "b": 2}},
		{typ: "dict[str, Any]", in: "```json\n{\"a\": {\"b\": []}}\n```", want: map[string]any{"a": map[string]any{"b": []any{}}}},
		{typ: "dict[str, Any]", in: "{'a': 1, 'a': 2}", want: map[string]any{"a": 1.0}},
		{typ: "dict[str, Any]", in: "{'a': 1", wantErr: `is not a valid dict[str, Any]`},
		{typ: "dict[str, Any]", in: "[1]", wantErr: `[1] is not a valid dict[str, Any]`},
		{typ: "Any", in: "plain words", want: "plain words"},
		{typ: "Any", in: "[1, 2]", want: []any{1.0, 2.0}},
		// Integers float64 would round stay exact (issue: tool ids > 2^53).
		{typ: "int", in: "9007199254740993", want: 9007199254740993},
		{typ: "dict[str, Any]", in: `{"id": 9007199254740993, "n": 2}`, want: map[string]any{"id": int64(9007199254740993), "n": 2.0}},
		{typ: "Any", in: "[-9007199254740993, 9007199254740992, 18446744073709551615, 2.5e20]", want: []any{int64(-9007199254740993), 9007199254740992.0, uint64(18446744073709551615), 2.5e20}},
		{typ: "list[Any]", in: "[9007199254740993, (9007199254740995,)]", want: []any{int64(9007199254740993), []any{int64(9007199254740995)}}},
	} {
		t.Run(tc.typ+"/"+tc.in, func(t *testing.T) {
			got, err := coerceText(mustType(tc.typ), tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("coerceText(%s, %q) = %v, %v; want error containing %q", tc.typ, tc.in, got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("coerceText(%s, %q) error: %v", tc.typ, tc.in, err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("coerceText(%s, %q) mismatch (-want +got):\n%s", tc.typ, tc.in, d)
			}
		})
	}
}

func TestDecodeLooseDepthLimit(t *testing.T) {
	deep := strings.Repeat("(", 10000) + strings.Repeat(")", 10000)
	if _, err := decodeLoose(deep); err == nil || !strings.Contains(err.Error(), "nested too deeply") {
		t.Errorf("decodeLoose(10000 nested tuples) error = %v, want nested too deeply", err)
	}
}

func TestWriteValue(t *testing.T) {
	type point struct {
		Y int    `json:"y"`
		X string `json:"x"`
	}
	for _, tc := range []struct {
		name string
		typ  Type
		v    any
		want string
	}{
		{"nil", Str(), nil, "None"},
		{"true", Bool(), true, "True"},
		{"int64", Int(), int64(-3), "-3"},
		{"float field", Float(), 1e16, "1e+16"},
		{"float field small", Float(), 0.0001, "0.0001"},
		{"float field tiny", Float(), 1.5e-5, "1.5e-05"},
		{"float field neg zero", Float(), math.Copysign(0, -1), "-0.0"},
		{"float in str field", Str(), 3.0, "3"},
		{"struct keeps field order", DictOf(Str(), Any()), point{Y: 1, X: "a<b"}, `{"y": 1, "x": "a<b"}`},
		{"nested map", DictOf(Str(), Any()), map[string]any{"s": "line\u2028sep", "n": []int{}}, "{\"n\": [], \"s\": \"line\u2028sep\"}"},
		{"string slice for list field", ListOf(Str()), []string{"a", "b"}, `["a", "b"]`},
		{"guillemet blob", Str(), []string{"«x»", "y"}, "[1] «««\n    «x»\n»»»\n[2] «y»"},
		{"non-string items", Str(), []any{1, true}, "[1] «1»\n[2] «True»"},
		{"named string type", Str(), lm.RoleUser, "user"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			if err := writeValue(&b, Field{Name: "f", Type: tc.typ}, tc.v); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, b.String()); d != "" {
				t.Errorf("writeValue(%#v) mismatch (-want +got):\n%s", tc.v, d)
			}
		})
	}
	var b strings.Builder
	if err := writeValue(&b, Field{Name: "f"}, make(chan int)); err == nil || !strings.Contains(err.Error(), "cannot format value of type chan int") {
		t.Errorf("writeValue(chan) error = %v, want cannot format", err)
	}
}

func TestPyQuote(t *testing.T) {
	got := pyQuote("a\"b\\c\n\t\x01\u00e9\u2028<>")
	want := `"a\"b\\c\n\t\u0001é` + "\u2028" + `<>"`
	if got != want {
		t.Errorf("pyQuote = %s, want %s", got, want)
	}
}

func TestPromptCache(t *testing.T) {
	sig := MustSignature("q -> a")
	format := func() string {
		var req lm.Request
		if err := (ChatAdapter{}).Format(sig, nil, Inputs{"q": "x"}, &req); err != nil {
			t.Fatal(err)
		}
		return req.Messages[0].Content
	}
	if s := format(); !strings.Contains(s, "Given the fields `q`") {
		t.Fatalf("system = %q", s)
	}
	// Signatures are documented as immutable, but a replaced field is not
	// served from a stale cache entry.
	sig.instructions = "New task."
	if s := format(); !strings.HasSuffix(s, "\n        New task.") {
		t.Errorf("after changing Instructions, system = %q", s)
	}
	sig.outputs = []Field{{Name: "b"}}
	if s := format(); !strings.Contains(s, "[[ ## b ## ]]") {
		t.Errorf("after replacing Outputs, system = %q", s)
	}

	// An entry goes away with its signature.
	key := promptKey{sig: weak.Make(sig), kind: promptChat}
	if _, ok := promptCache.Load(key); !ok {
		t.Fatal("no cache entry for a formatted signature")
	}
	sig = nil
	deadline := time.Now().Add(5 * time.Second)
	for {
		runtime.GC()
		if _, ok := promptCache.Load(key); !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("cache entry outlived its signature")
		}
		time.Sleep(time.Millisecond)
	}
}
