package fieldstream

import (
	"strings"
	"testing"
)

// TestLatency checks what has streamed after each piece: text is held back
// only while it may still be marker text or trailing space.
func TestLatency(t *testing.T) {
	type step struct{ in, want string }
	tests := []struct {
		name  string
		p     parser
		steps []step
		final string
	}{
		{"chat", NewChat([]string{"answer"}), []step{
			{"[[ ## answer ## ]]", ""},
			{"\n", ""},
			{"Hello wor", "Hello wor"},
			{"ld  ", "Hello world"},
			{"\n", "Hello world"},
			{"[[ ## ", "Hello world"},
			{"xy", "Hello world"},
			{" z", "Hello world  \n[[ ## xy z"},
			{" [[ ## b ## ]] c", "Hello world  \n[[ ## xy z [[ ## b ## ]] c"},
			{"\n\n  [[ ## completed ## ]]\nmore", "Hello world  \n[[ ## xy z [[ ## b ## ]] c"},
		}, "Hello world  \n[[ ## xy z [[ ## b ## ]] c"},
		{"chat header rest", NewChat([]string{"answer"}), []step{
			{"[[ ## answer ## ]]  one ", "one"},
			{" \ntwo\u3000", "one\ntwo"},
			{"\u3000", "one\ntwo"},
			{"x", "one\ntwo\u3000\u3000x"},
		}, "one\ntwo\u3000\u3000x"},
		{"chat cut rune", NewChat([]string{"answer"}), []step{
			// A cut rune that cannot be a space streams at once.
			{"[[ ## answer ## ]]\n日本\xe8", "日本\xe8"},
			{"\xaa\x9e", "日本語"},
			{"\xe3\x80", "日本語"}, // may be U+3000
			{"\x80", "日本語"},
			{"\xe3", "日本語"},
			{"\x81", "日本語\u3000\xe3\x81"}, // not U+3000 any more
			{"\x82", "日本語\u3000あ"},
		}, "日本語\u3000あ"},
		{"xml", NewXML([]string{"answer"}), []step{
			// A reference is held until its ';', a child's start tag until
			// its content begins; text after a child is escaped again.
			{"<answ", ""},
			{"er> Hi &am", "Hi"},
			{"p; <b", "Hi &"},
			{" x='1'>", "Hi &"},
			{"y", `Hi & <b x="1">y`},
			{"</b> &lt", `Hi & <b x="1">y</b>`},
			{";/", `Hi & <b x="1">y</b> &lt;/`},
			{" </answer>tail", `Hi & <b x="1">y</b> &lt;/`},
		}, `Hi & <b x="1">y</b> &lt;/`},
		{"json", NewJSON([]string{"answer", "n"}), []step{
			{"```json\n{\"ans", ""},
			{"wer\": \"Hi ", "Hi "},
			{`\u00`, "Hi "},
			{`e9 \`, "Hi é "},
			{`"\ud83d`, `Hi é "`},
			{`\ude0`, `Hi é "`},
			{`0}"`, `Hi é "😀}`},
			{`, "n": 4`, `Hi é "😀}4`},
			{`2 }`, `Hi é "😀}42`},
		}, `Hi é "😀}42`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got strings.Builder
			emit := func(c Chunk) { got.WriteString(c.Text) }
			for _, s := range tt.steps {
				tt.p.Write(s.in, emit)
				if got.String() != s.want {
					t.Fatalf("after %q: streamed %q, want %q", s.in, got.String(), s.want)
				}
			}
			tt.p.Close(emit)
			if got.String() != tt.final {
				t.Errorf("after Close: streamed %q, want %q", got.String(), tt.final)
			}
		})
	}
}

// TestEmptyAndMissing: an empty value is one empty Last chunk; a field whose
// end never comes gets its Last chunk from Close; a field that never starts
// streams nothing; only the first occurrence streams.
func TestEmptyAndMissing(t *testing.T) {
	tests := []struct {
		name  string
		p     parser
		reply string
		want  []Chunk
	}{
		{"chat empty", NewChat([]string{"a", "b"}), "[[ ## a ## ]]\n\n[[ ## b ## ]]\nB\n[[ ## a ## ]]\nagain",
			[]Chunk{{"a", "", true}, {"b", "B", true}}},
		{"chat no end", NewChat([]string{"a"}), "[[ ## a ## ]]\nA ", []Chunk{{"a", "A", false}, {"a", "", true}}},
		{"xml empty", NewXML([]string{"a", "b"}), "<a> </a><b>B", []Chunk{{"a", "", true}, {"b", "B", false}, {"b", "", true}}},
		{"json empty", NewJSON([]string{"a", "b", "c"}), `{"a": "", "b": [], "a": "x"}`,
			[]Chunk{{"a", "", true}, {"b", "[]", true}}},
		{"json cut", NewJSON([]string{"a"}), `{"a": "x`, []Chunk{{"a", "x", false}, {"a", "", true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []Chunk
			emit := func(c Chunk) { got = append(got, c) }
			tt.p.Write(tt.reply, emit)
			tt.p.Close(emit)
			tt.p.Write("more", emit) // after Close: ignored
			tt.p.Close(emit)
			if !equalChunks(got, tt.want) {
				t.Errorf("chunks = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func equalChunks(a, b []Chunk) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
