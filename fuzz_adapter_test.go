package dspy

import (
	"errors"
	"math"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/godspy/dspy/lm"
)

// fuzzSig has a field of every kind, so arbitrary replies reach every
// coercion path.
var fuzzSig = MustSignature("q -> reasoning, answer, n: int, x: float, ok: bool, op: Literal['add', 'finish'], tags: list[str], args: dict[str, Any], v: Any")

// checkParseResult asserts the contract of Parse on arbitrary text: an
// error is a *ParseError carrying the text, and success yields every
// output field.
func checkParseResult(t *testing.T, adapter, text string, got map[string]any, err error) {
	t.Helper()
	if err != nil {
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Fatalf("%s.Parse error is %T (%v), want *ParseError", adapter, err, err)
		}
		if pe.Raw != text || pe.Adapter != adapter {
			t.Fatalf("ParseError{Adapter: %q, Raw: %q}, want {%q, %q}", pe.Adapter, pe.Raw, adapter, text)
		}
		_ = pe.Error()
		return
	}
	for _, f := range fuzzSig.outputs {
		if _, ok := got[f.Name]; !ok {
			t.Fatalf("%s.Parse(%q) succeeded without field %q", adapter, text, f.Name)
		}
	}
}

// roundTripSig is the signature whose demo outputs are formatted, then
// parsed back.
var roundTripSig = MustSignature("q -> reasoning, answer, n: int, ok: bool, tags: list[str]")

// demoReply formats a demo with the given outputs and returns the assistant
// message, the text an LM following the demo would write.
func demoReply(t *testing.T, a Adapter, out Example) string {
	t.Helper()
	demo := Example{"q": "?"}
	for k, v := range out {
		demo[k] = v
	}
	var req lm.Request
	if err := a.Format(roundTripSig, []Example{demo}, Inputs{"q": "?"}, &req); err != nil {
		t.Fatalf("Format: %v", err)
	}
	if len(req.Messages) != 4 || req.Messages[2].Role != lm.RoleAssistant {
		t.Fatalf("Format gave %d messages, want system, demo user, demo assistant, user", len(req.Messages))
	}
	return req.Messages[2].Content
}

func fuzzSeeds(f *testing.F) {
	f.Add("[[ ## reasoning ## ]]\nr\n\n[[ ## answer ## ]]\na\n\n[[ ## completed ## ]]", "because", "Paris", int64(3), true)
	f.Add("[[ ## n ## ]] 4\n[[ ## args ## ]]\n{'x': (1, 2.5e3,), \"y\": [None, True]}\n[[ ## tags ## ]]\n```json\n[\"a\"]\n```", "  padded  ", "", int64(-1), false)
	f.Add("```json\n{\"reasoning\": \"r\", \"answer\": 1, \"answer\": 2, \"n\": \"7\", \"x\": 1e400}\n```", "multi\nline", "«»", int64(math.MaxInt64), true)
	f.Add("<reasoning>r</reasoning><answer>a <b></answer><n>1</n><op>ADD</op><v>[1,{]</v>", "<tag>", "</answer>", int64(math.MinInt64), false)
	f.Add("{'reasoning': 'x', 'args': {'a': [[[[[[]]]]]]}, 'ok': 'True'}", "[[ ## answer ## ]]", "\x00\xff", int64(0), true)
}

func FuzzChatParse(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, text, v1, v2 string, n int64, ok bool) {
		a := ChatAdapter{}
		got, err := a.Parse(fuzzSig, text)
		checkParseResult(t, "ChatAdapter", text, got, err)

		// Round trip: values that cannot hold a section header parse back
		// as written, trimmed.
		if strings.Contains(v1, "[[ ##") || strings.Contains(v2, "[[ ##") {
			return
		}
		reply := demoReply(t, a, Example{"reasoning": v1, "answer": v2, "n": int(n), "ok": ok, "tags": []string{v1, v2}})
		vals, err := a.Parse(roundTripSig, reply)
		if err != nil {
			t.Fatalf("Parse(Format(demo)) error: %v\nreply: %q", err, reply)
		}
		want := map[string]any{"reasoning": strings.TrimSpace(v1), "answer": strings.TrimSpace(v2), "n": int(n), "ok": ok, "tags": []any{v1, v2}}
		if !utf8.ValidString(v1) || !utf8.ValidString(v2) {
			delete(want, "tags") // JSON replaces invalid UTF-8
			delete(vals, "tags")
		}
		if d := cmp.Diff(want, vals); d != "" {
			t.Fatalf("round trip mismatch (-want +got):\n%s\nreply: %q", d, reply)
		}
	})
}

func FuzzJSONParse(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, text, v1, v2 string, n int64, ok bool) {
		a := JSONAdapter{}
		got, err := a.Parse(fuzzSig, text)
		checkParseResult(t, "JSONAdapter", text, got, err)

		// Round trip: JSON escapes everything, so any valid UTF-8 value
		// comes back exactly.
		if !utf8.ValidString(v1) || !utf8.ValidString(v2) {
			return
		}
		reply := demoReply(t, a, Example{"reasoning": v1, "answer": v2, "n": int(n), "ok": ok, "tags": []string{v1, v2}})
		vals, err := a.Parse(roundTripSig, reply)
		if err != nil {
			t.Fatalf("Parse(Format(demo)) error: %v\nreply: %q", err, reply)
		}
		want := map[string]any{"reasoning": v1, "answer": v2, "n": int(n), "ok": ok, "tags": []any{v1, v2}}
		if d := cmp.Diff(want, vals); d != "" {
			t.Fatalf("round trip mismatch (-want +got):\n%s\nreply: %q", d, reply)
		}
	})
}

func FuzzXMLParse(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, text, v1, v2 string, n int64, ok bool) {
		a := XMLAdapter{}
		got, err := a.Parse(fuzzSig, text)
		checkParseResult(t, "XMLAdapter", text, got, err)

		// Round trip: DSPy escapes & and < in a str output, so any text XML
		// can carry comes back, line ends normalized and trimmed (list
		// items too, as DSPy reads them). ">" after "]]" cannot be text.
		if !xmlCarries(v1) || !xmlCarries(v2) {
			return
		}
		reply := demoReply(t, a, Example{"reasoning": v1, "answer": v2, "n": int(n), "ok": ok, "tags": []string{v1, v2}})
		vals, err := a.Parse(roundTripSig, reply)
		if err != nil {
			t.Fatalf("Parse(Format(demo)) error: %v\nreply: %q", err, reply)
		}
		w1, w2 := xmlRead(v1), xmlRead(v2)
		want := map[string]any{"reasoning": w1, "answer": w2, "n": int(n), "ok": ok, "tags": []any{w1, w2}}
		if d := cmp.Diff(want, vals); d != "" {
			t.Fatalf("round trip mismatch (-want +got):\n%s\nreply: %q", d, reply)
		}
	})
}

// xmlCarries reports whether s can be written as XML text: valid UTF-8 of
// characters XML allows, without "]]>".
func xmlCarries(s string) bool {
	if !utf8.ValidString(s) || strings.Contains(s, "]]>") {
		return false
	}
	for _, r := range s {
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0xFFFE || r == 0xFFFF {
			return false
		}
	}
	return true
}

// xmlRead is what XML makes of text s: line ends normalized, then trimmed.
func xmlRead(s string) string {
	return strings.TrimSpace(strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n"))
}
