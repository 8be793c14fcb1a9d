package fieldstream

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
)

// parser is what the three field parsers have in common.
type parser interface {
	Write(text string, emit func(Chunk))
	Close(emit func(Chunk))
}

// feed writes reply to p cut at the given offsets (ascending) and closes it.
func feed(p parser, reply string, cuts []int) []Chunk {
	var got []Chunk
	emit := func(c Chunk) { got = append(got, c) }
	prev := 0
	for _, c := range cuts {
		p.Write(reply[prev:c], emit)
		prev = c
	}
	p.Write(reply[prev:], emit)
	p.Close(emit)
	return got
}

// checkChunks verifies the listener contract for one run: the fields that
// streamed are the fields of want, each field's chunks concatenate to its
// value, exactly one chunk per field is Last and it is that field's final
// chunk, and no chunk contains a marker the value does not contain.
func checkChunks(chunks []Chunk, want map[string]string, markers []string) error {
	text := map[string]*strings.Builder{}
	lasts := map[string]int{}
	var order []string
	for n, c := range chunks {
		b := text[c.Field]
		if b == nil {
			b = &strings.Builder{}
			text[c.Field] = b
			order = append(order, c.Field)
		}
		if lasts[c.Field] > 0 {
			return fmt.Errorf("chunk %d of %q comes after its Last chunk", n, c.Field)
		}
		b.WriteString(c.Text)
		if c.Last {
			lasts[c.Field]++
		}
	}
	for _, f := range order {
		v, ok := want[f]
		if !ok {
			return fmt.Errorf("field %q streamed (%q) but is not in the parsed reply", f, text[f].String())
		}
		if got := text[f].String(); got != v {
			return fmt.Errorf("field %q streamed %q, parsed value is %q", f, got, v)
		}
		if lasts[f] != 1 {
			return fmt.Errorf("field %q has %d Last chunks, want 1", f, lasts[f])
		}
	}
	for f, v := range want {
		if text[f] == nil {
			return fmt.Errorf("field %q (value %q) did not stream", f, v)
		}
	}
	for _, c := range chunks {
		for _, m := range markers {
			if strings.Contains(c.Text, m) && !strings.Contains(want[c.Field], m) {
				return fmt.Errorf("chunk %q of %q contains marker %q", c.Text, c.Field, m)
			}
		}
	}
	return nil
}

// everyOffset returns the cuts into two pieces at every byte offset.
func everyOffset(n int) [][]int {
	out := make([][]int, 0, n+1)
	for i := 0; i <= n; i++ {
		out = append(out, []int{i})
	}
	return out
}

// randomCuts cuts n bytes at random offsets, small pieces as well as large.
func randomCuts(r *rand.Rand, n int) []int {
	var k int
	switch r.IntN(3) {
	case 0:
		k = r.IntN(4) + 1
	case 1:
		k = r.IntN(n/4 + 1)
	default:
		k = r.IntN(n + 1)
	}
	cuts := make([]int, k)
	for i := range cuts {
		cuts[i] = r.IntN(n + 1)
	}
	slices.Sort(cuts)
	return cuts
}

// fuzzCuts turns fuzzer bytes into cut offsets for a reply of n bytes.
func fuzzCuts(b []byte, n int) []int {
	cuts := make([]int, 0, len(b))
	pos := 0
	for _, c := range b {
		pos += int(c) % 17
		if pos > n {
			break
		}
		cuts = append(cuts, pos)
	}
	return cuts
}

// Fragments values are made of: the markers of every format, JSON syntax,
// space of every kind, multi-byte text.
var fragments = []string{
	"hello", "world", "To get to the other side", "42", "x",
	" ", "  ", "\t", "\n", "\n\n", "\r\n", "\u00a0", "\u3000", "\u2028", "\u0085",
	"[[", "]]", "[", "]", "## x ##", "[[ ## other ## ]]", "[[ ## answer ## ]]", "[[ ## completed ## ]]", "[[ ##", "## ]]",
	"<b>", "</b>", "<", ">", "</answer>", "<answer>", "</reasoning>", "</answ", "<reas", "</",
	`"`, `\`, `\"`, "}", "{", "},", `"answer":`, ":", ",", "\\u00e9",
	"日本語", "中文テキスト", "😀", "👍🏽", "é", "ß", "\u200b", "`", "```", "None",
}

// genText returns a random value of up to max fragments.
func genText(r *rand.Rand, max int) string {
	n := r.IntN(max + 1)
	var b strings.Builder
	for range n {
		b.WriteString(fragments[r.IntN(len(fragments))])
	}
	return b.String()
}

// pick returns one of the strings at random.
func pick(r *rand.Rand, s ...string) string { return s[r.IntN(len(s))] }
