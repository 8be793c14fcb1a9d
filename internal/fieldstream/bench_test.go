package fieldstream

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
)

// benchText returns about n bytes of reply prose: words, punctuation,
// newlines, brackets and quotes now and then, some CJK and emoji.
func benchText(n int) string {
	words := []string{"the", "chicken", "crossed", "road", "to", "get", "other", "side", "because",
		"a", "model", "streams", "tokens", "one", "by", "every", "field", "value", "answer", "is"}
	rare := []string{"[[x]]", "arr[0]", `"quoted"`, "{k: v}", "<b>bold</b>", "日本語", "😀", "\n\n", "\n", "—", "é"}
	r := rand.New(rand.NewPCG(9, 9))
	var b strings.Builder
	for b.Len() < n {
		if r.IntN(12) == 0 {
			b.WriteString(rare[r.IntN(len(rare))])
		} else {
			b.WriteString(words[r.IntN(len(words))])
		}
		b.WriteString(pick(r, " ", " ", " ", " ", ", ", ". "))
	}
	return strings.TrimSpace(b.String()[:n])
}

func benchReplies() map[string]string {
	half := benchText(32 << 10)
	enc := func(s string) string {
		var buf bytes.Buffer
		e := json.NewEncoder(&buf)
		e.SetEscapeHTML(false)
		_ = e.Encode(s)
		return strings.TrimSpace(buf.String())
	}
	return map[string]string{
		"Chat": "[[ ## reasoning ## ]]\n" + half + "\n\n[[ ## answer ## ]]\n" + half + "\n\n[[ ## completed ## ]]\n",
		"JSON": `{"reasoning": ` + enc(half) + `, "answer": ` + enc(half) + "}\n",
		"XML":  "<reasoning>\n" + half + "\n</reasoning>\n<answer>\n" + half + "\n</answer>\n",
	}
}

// benchListener feeds a 64 KiB reply to a fresh parser in 4-byte pieces, as
// a listener sees a provider's stream, and reports the chunks emitted and
// the allocations per emitted chunk.
func benchListener(b *testing.B, name string, mk func([]string) parser) {
	reply := benchReplies()[name]
	fields := []string{"reasoning", "answer"}
	chunks := 0
	emit := func(c Chunk) { chunks++ }
	b.SetBytes(int64(len(reply)))
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for b.Loop() {
		p := mk(fields)
		for i := 0; i < len(reply); i += 4 {
			p.Write(reply[i:min(i+4, len(reply))], emit)
		}
		p.Close(emit)
	}
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(chunks)/float64(b.N), "chunks/op")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(chunks), "allocs/chunk")
}

func BenchmarkListenerChat(b *testing.B) { benchListener(b, "Chat", mkChat) }
func BenchmarkListenerJSON(b *testing.B) { benchListener(b, "JSON", mkJSON) }
func BenchmarkListenerXML(b *testing.B)  { benchListener(b, "XML", mkXML) }

// TestBenchReplies makes sure the benchmark replies parse as intended.
func TestBenchReplies(t *testing.T) {
	fields := []string{"reasoning", "answer"}
	half := benchText(32 << 10)
	for name, reply := range benchReplies() {
		var want map[string]string
		switch name {
		case "Chat":
			want = refChat(reply, fields)
		case "XML":
			var err error
			if want, err = refXML(reply, fields); err != nil {
				t.Fatal(err)
			}
		case "JSON":
			var err error
			if want, err = refJSON(reply, fields); err != nil {
				t.Fatal(err)
			}
		}
		if want["answer"] != half || want["reasoning"] != half {
			t.Errorf("%s: reference values differ from the text", name)
		}
		got := feed(mkChatOr(name), reply, nil)
		if err := checkChunks(got, want, nil); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func mkChatOr(name string) parser {
	fields := []string{"reasoning", "answer"}
	switch name {
	case "JSON":
		return NewJSON(fields)
	case "XML":
		return NewXML(fields)
	}
	return NewChat(fields)
}
