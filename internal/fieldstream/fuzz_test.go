package fieldstream

import (
	"math/rand/v2"
	"testing"
)

// The fuzz targets feed arbitrary text, cut where the fuzzer says, and hold
// each parser to its reference: no panic, the streamed text of every field
// equal to the parsed value, one Last chunk per field, and nothing streamed
// after it. For JSON the value check applies when the reply parses.

var fuzzFields = []string{"answer", "reasoning", "a"}

func addSeeds(f *testing.F, gen func(*rand.Rand) string, extra ...string) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 16 {
		s := gen(r)
		f.Add(s, []byte{byte(r.IntN(256)), byte(r.IntN(256)), 3, 1, 7})
	}
	for _, s := range extra {
		f.Add(s, []byte{1, 2, 3, 5, 8, 13})
	}
}

func FuzzChatFieldParser(f *testing.F) {
	addSeeds(f, genChat,
		"[[ ## answer ## ]]\nHi\n\n[[ ## completed ## ]]",
		" [[ ## a ## ]] x \n\u3000[[ ## answer ## ]]\xe3\x80",
		"[[ ## answer ## ]]\nA [[ ## reasoning ## ]] [[\n[[ ## ans")
	f.Fuzz(func(t *testing.T, reply string, cutBytes []byte) {
		got := feed(NewChat(fuzzFields), reply, fuzzCuts(cutBytes, len(reply)))
		if err := checkChunks(got, refChat(reply, fuzzFields), nil); err != nil {
			t.Fatalf("reply %q: %v\nchunks: %+v", reply, err, got)
		}
	})
}

func FuzzXMLFieldParser(f *testing.F) {
	addSeeds(f, genXML,
		"<answer> Hi <b>x</b> </answer>",
		"<a><answer></a>x</answer><answer>y",
		"<<answer>\u00a0</answ</answer",
		"<answer>a &amp;&amp; b</answer>",
		"<answer>The tag <answer>inner</answer> ends &#x1F600;</answer>",
		"<answer><![CDATA[x]]]]>&#13;\r\n<b\tz='1\n2'/></answer>")
	f.Fuzz(func(t *testing.T, reply string, cutBytes []byte) {
		p := NewXML(fuzzFields)
		got := feed(p, reply, fuzzCuts(cutBytes, len(reply)))
		want, err := refXML(reply, fuzzFields)
		if err := checkStream(p, got, want, err, nil); err != nil {
			t.Fatalf("reply %q: %v\nchunks: %+v", reply, err, got)
		}
	})
}

func FuzzJSONFieldParser(f *testing.F) {
	addSeeds(f, genJSON,
		`{"answer": "He said \"hi\" \ud83d\ude00", "a": [1, {"x": "}"}]}`,
		"```json\n{\"reasoning\": \"\\u00e9\xff\", \"answer\": null}\n```",
		`Use {x}: {"a": "\ud800\ud800\udc00", "a": 1}`)
	f.Fuzz(func(t *testing.T, reply string, cutBytes []byte) {
		got := feed(NewJSON(fuzzFields), reply, fuzzCuts(cutBytes, len(reply)))
		want, err := refJSON(reply, fuzzFields)
		if err != nil {
			// Not valid JSON: only the shape of the stream is checked.
			want = map[string]string{}
			for _, c := range got {
				want[c.Field] += c.Text
			}
		}
		if err := checkChunks(got, want, nil); err != nil {
			t.Fatalf("reply %q: %v\nchunks: %+v", reply, err, got)
		}
	})
}
