package dspy

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// Fragments of generated field values: every format's markers, JSON syntax,
// space of several kinds, multi-byte text.
var streamFragments = []string{
	"hello", "world", "42", " ", "  ", "\t", "\n", "\n\n", "\r\n", "\u00a0", "\u3000",
	"[[", "]]", "## x ##", "[[ ## other ## ]]", "[[ ## answer ## ]]", "[[ ##",
	"<b>", "</b>", "<", ">", "</reasoning>", "</answ", "<answer>",
	`"`, `\`, `\"`, "}", "{", ",", ":", "日本語", "中文", "😀", "👍🏽", "é",
}

func streamValue(r *rand.Rand) string {
	var b strings.Builder
	for range r.IntN(10) {
		b.WriteString(streamFragments[r.IntN(len(streamFragments))])
	}
	return b.String()
}

func oneOf(r *rand.Rand, s ...string) string { return s[r.IntN(len(s))] }

// streamReply writes a reply with every output field of sig (str fields,
// and for JSON an int and a list too), in the adapter's format.
func streamReply(r *rand.Rand, adapter string, sig *Signature) string {
	var b strings.Builder
	names := []string{}
	for _, f := range sig.outputs {
		names = append(names, f.Name)
	}
	r.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
	if r.IntN(3) == 0 {
		names = append(names, oneOf(r, "other", "answer"))
	}
	switch adapter {
	case "Chat":
		for _, n := range names {
			b.WriteString(oneOf(r, "", "\n", "  "))
			b.WriteString("[[ ## " + n + " ## ]]" + oneOf(r, "\n", "\n\n", " ", ""))
			b.WriteString(streamValue(r) + oneOf(r, "\n\n", "\n", " "))
		}
		b.WriteString(oneOf(r, "[[ ## completed ## ]]", "", "[[ ## compl"))
	case "XML":
		esc := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")
		for _, n := range names {
			v := esc.Replace(streamValue(r))
			switch r.IntN(4) {
			case 0:
				v += "<b>" + esc.Replace(streamValue(r)) + "</b>" + esc.Replace(streamValue(r))
			case 1:
				v = "<" + n + ">" + v + "</" + n + ">" + oneOf(r, "", " ", "&amp;")
			}
			b.WriteString("<" + n + ">" + v + "</" + n + ">")
			b.WriteString(oneOf(r, "\n", ""))
		}
	case "JSON":
		b.WriteString(oneOf(r, "", "```json\n", "Sure: "))
		b.WriteString("{")
		for k, n := range names {
			if k > 0 {
				b.WriteString(oneOf(r, ", ", ",\n"))
			}
			var v string
			switch n {
			case "n":
				v = oneOf(r, "42", "-7", " 3 ")
			case "items":
				v = oneOf(r, `["a", "b"]`, `[]`, `[ "}", "\"" ]`)
			default:
				data, _ := json.Marshal(streamValue(r))
				v = string(data)
			}
			fmt.Fprintf(&b, "%q: %s", n, v)
		}
		b.WriteString("}" + oneOf(r, "", "\n```", "\nNone"))
	}
	return b.String()
}

// TestFieldParserMatchesParse holds each built-in adapter's field parser to
// its Parse: for generated replies cut at every byte offset and at random,
// each output field's chunks concatenate to the parsed value (for a non-str
// JSON field: to JSON text of that value), with exactly one Last chunk, the
// final one.
func TestFieldParserMatchesParse(t *testing.T) {
	strSig := MustSignature("question -> reasoning, answer")
	jsonSig := MustSignature("question -> reasoning, answer, n: int, items: list[str]")
	cases := []struct {
		name    string
		adapter StreamingAdapter
		sig     *Signature
	}{
		{"Chat", ChatAdapter{}, strSig},
		{"JSON", JSONAdapter{}, jsonSig},
		{"XML", XMLAdapter{}, strSig},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := rand.New(rand.NewPCG(11, uint64(len(tc.name))))
			parsed := 0
			for range 150 {
				reply := streamReply(r, tc.name, tc.sig)
				want, err := tc.adapter.Parse(tc.sig, reply)
				if err != nil {
					continue
				}
				parsed++
				var cuttings [][]int
				for i := 0; i <= len(reply); i++ {
					cuttings = append(cuttings, []int{i})
				}
				for range 30 {
					c := make([]int, r.IntN(len(reply)+1))
					for i := range c {
						c[i] = r.IntN(len(reply) + 1)
					}
					slices.Sort(c)
					cuttings = append(cuttings, c)
				}
				for _, cuts := range cuttings {
					if err := checkFieldParser(tc.adapter.NewFieldParser(tc.sig), tc.sig, reply, cuts, want); err != nil {
						t.Fatalf("reply %q cut at %v: %v", reply, cuts, err)
					}
				}
			}
			if parsed < 50 {
				t.Errorf("only %d of 150 generated replies parsed", parsed)
			}
		})
	}
}

func checkFieldParser(p FieldParser, sig *Signature, reply string, cuts []int, want map[string]any) error {
	text := map[string]string{}
	lasts := map[string]int{}
	var err error
	emit := func(c FieldChunk) {
		if lasts[c.Field] > 0 && err == nil {
			err = fmt.Errorf("chunk %+v after the Last chunk", c)
		}
		text[c.Field] += c.Text
		if c.Last {
			lasts[c.Field]++
		}
	}
	prev := 0
	for _, c := range cuts {
		p.Write(reply[prev:c], emit)
		prev = c
	}
	p.Write(reply[prev:], emit)
	p.Close(emit)
	if err != nil {
		return err
	}
	for _, f := range sig.outputs {
		if lasts[f.Name] != 1 {
			return fmt.Errorf("field %q: %d Last chunks, want 1", f.Name, lasts[f.Name])
		}
		got := text[f.Name]
		if s, ok := want[f.Name].(string); ok && f.Type.kind == KindStr {
			if got != s {
				return fmt.Errorf("field %q streamed %q, Parse = %q", f.Name, got, s)
			}
			continue
		}
		var v any
		if err := json.Unmarshal([]byte(got), &v); err != nil {
			return fmt.Errorf("field %q streamed %q, not JSON: %v", f.Name, got, err)
		}
		a, _ := json.Marshal(v)
		b, _ := json.Marshal(want[f.Name])
		if string(a) != string(b) {
			return fmt.Errorf("field %q streamed %q, Parse = %#v", f.Name, got, want[f.Name])
		}
		if strings.TrimSpace(got) != got {
			return fmt.Errorf("field %q streamed untrimmed %q", f.Name, got)
		}
	}
	for f := range text {
		if _, ok := want[f]; !ok {
			return fmt.Errorf("field %q is not an output", f)
		}
	}
	return nil
}

// TestFieldParserAllocs: the adapter's wrapper adds no allocation per Write.
func TestFieldParserAllocs(t *testing.T) {
	sig := MustSignature("question -> answer")
	p := ChatAdapter{}.NewFieldParser(sig)
	emit := func(FieldChunk) {}
	p.Write("[[ ## answer ## ]]\n", emit)
	allocs := testing.AllocsPerRun(1000, func() { p.Write("word", emit) })
	if allocs != 0 {
		t.Errorf("Write allocates %v times per call, want 0", allocs)
	}
}

// BenchmarkFieldParserChat is the listener's view: ChatAdapter's parser
// through the FieldParser interface, a 64 KiB reply in 4-byte pieces.
func BenchmarkFieldParserChat(b *testing.B) {
	sig := MustSignature("question -> reasoning, answer")
	var body strings.Builder
	for body.Len() < 32<<10 {
		body.WriteString("The chicken crossed the road, to get [[x]] to the other side. 日本語 😀\n")
	}
	reply := "[[ ## reasoning ## ]]\n" + body.String() + "\n[[ ## answer ## ]]\n" + body.String() + "\n[[ ## completed ## ]]\n"
	emit := func(FieldChunk) {}
	b.SetBytes(int64(len(reply)))
	b.ReportAllocs()
	for b.Loop() {
		p := ChatAdapter{}.NewFieldParser(sig)
		for i := 0; i < len(reply); i += 4 {
			p.Write(reply[i:min(i+4, len(reply))], emit)
		}
		p.Close(emit)
	}
}
