package openai

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/godspy/dspy/internal/sse"
)

// checkFast checks fastChunk against encoding/json on one chunk: when the
// fast path takes data, decodeJSON must give the same chunk, with no
// refusal, no error, and no other state change. It reports whether the
// fast path took it.
func checkFast(t *testing.T, data []byte) bool {
	t.Helper()
	got, ok := fastChunk(data)
	if !ok {
		return false
	}
	c := New("m")
	st := &streamState{sawHead: true, id: "id0", model: "m0"}
	want, err := c.decodeJSON(data, st, nil)
	if err != nil {
		t.Errorf("fastChunk took %q, which encoding/json rejects: %v", data, err)
		return true
	}
	got.ID, got.Model = st.id, st.model
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("fastChunk(%q) (-json +fast):\n%s", data, diff)
	}
	if len(st.refusal) > 0 || st.nextCall != 0 {
		t.Errorf("fastChunk took %q, which has a refusal or tool calls", data)
	}
	return true
}

// captureChunks returns the data of every event of the provider captures
// (testdata/sse, OpenAI-wire ones).
func captureChunks(t testing.TB) [][]byte {
	files, err := filepath.Glob(filepath.Join("..", "..", "testdata", "sse", "*.sse"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no captures: %v", err)
	}
	var out [][]byte
	for _, f := range files {
		if strings.HasPrefix(filepath.Base(f), "anthropic_") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		d := sse.NewDecoder(bytes.NewReader(b), 0)
		for d.Next() {
			if data := d.Data(); len(data) > 0 && !sse.IsDone(data) {
				out = append(out, bytes.Clone(data))
			}
		}
	}
	return out
}

// TestFastChunkCaptures: on every chunk of the provider captures the fast
// path decodes exactly as encoding/json, and it takes the common ones.
func TestFastChunkCaptures(t *testing.T) {
	chunks := captureChunks(t)
	took := 0
	for _, data := range chunks {
		if checkFast(t, data) {
			took++
		}
	}
	t.Logf("fast path took %d of %d capture chunks", took, len(chunks))
	if took < len(chunks)/3 {
		t.Errorf("fast path took %d of %d capture chunks; it should take the common content chunk", took, len(chunks))
	}
}

func TestFastChunk(t *testing.T) {
	const head = `{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":`
	for _, tt := range []struct {
		name, data              string
		text, reasoning, finish string
		ok                      bool
	}{
		{"content", head + `{"content":"hi"},"finish_reason":null}]}`, "hi", "", "", true},
		{"spaces", " {\n\"choices\" : [ { \"delta\" : { \"content\" : \"hi\" } , \"index\" : 0 } ] } \r\n", "hi", "", "", true},
		{"escapes", head + `{"content":"a\n\"b\\\/\t"},"finish_reason":null}]}`, "a\n\"b\\/\t", "", "", true},
		{"utf-8", head + `{"content":"日本 😀"},"logprobs":null,"finish_reason":null}]}`, "日本 😀", "", "", true},
		{"finish", head + `{},"finish_reason":"stop"}],"usage":null}`, "", "", "stop", true},
		{"role and null content", head + `{"role":"assistant","content":null,"refusal":null}}]}`, "", "", "", true},
		{"openai shape", `{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1755600000,"model":"gpt-4o-mini","service_tier":"default","system_fingerprint":"fp_5","choices":[{"index":0,"delta":{"content":" fox"},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"aB3dE"}`, " fox", "", "", true},

		{"unicode escape", head + `{"content":"\u00e9"}}]}`, "", "", "", false},
		{"bad escape", head + `{"content":"\x"}}]}`, "", "", "", false},
		{"control byte", head + "{\"content\":\"a\tb\"}}]}", "", "", "", false},
		{"invalid utf-8", head + "{\"content\":\"\xff\"}}]}", "", "", "", false},
		{"reasoning_content", head + `{"content":null,"reasoning_content":"r"}}]}`, "", "r", "", true},
		{"reasoning", head + `{"reasoning":"r"},"finish_reason":null}]}`, "", "r", "", true},
		{"reasoning_content wins", head + `{"reasoning":"a","reasoning_content":"b"}}]}`, "", "b", "", true},
		{"empty reasoning_content", head + `{"reasoning_content":"","reasoning":"a"}}]}`, "", "a", "", true},
		{"duplicate reasoning", head + `{"reasoning":"a","reasoning":"b"}}]}`, "", "", "", false},
		{"tool calls", head + `{"tool_calls":[]}}]}`, "", "", "", false},
		{"refusal", head + `{"refusal":"no"}}]}`, "", "", "", false},
		{"usage", head + `{"content":"x"}}],"usage":{"prompt_tokens":1}}`, "", "", "", false},
		{"error", `{"error":{"message":"x"}}`, "", "", "", false},
		{"two choices", head + `{"content":"x"}},{"index":1,"delta":{"content":"y"}}]}`, "", "", "", false},
		{"index 1", `{"choices":[{"index":1,"delta":{"content":"y"}}]}`, "", "", "", false},
		{"index 01", `{"choices":[{"index":01,"delta":{"content":"y"}}]}`, "", "", "", false},
		{"index 0.0", `{"choices":[{"index":0.0,"delta":{"content":"y"}}]}`, "", "", "", false},
		{"no choices", `{"id":"c","choices":[]}`, "", "", "", false},
		{"no choices key", `{"id":"c"}`, "", "", "", false},
		{"duplicate content", head + `{"content":"a","content":"b"}}]}`, "", "", "", false},
		{"duplicate choices", `{"choices":[{"delta":{"content":"a"}}],"choices":[{"delta":{"content":"b"}}]}`, "", "", "", false},
		{"key case", head + `{"Content":"a"}}]}`, "", "", "", false},
		{"escaped key", head + `{"con\u0074ent":"a"}}]}`, "", "", "", false},
		{"content number", head + `{"content":1}}]}`, "", "", "", false},
		{"trailing", head + `{"content":"a"}}]}x`, "", "", "", false},
		{"truncated", head + `{"content":"a"}}]`, "", "", "", false},
		{"unterminated string", head + `{"content":"a`, "", "", "", false},
		{"trailing escape", head + `{"content":"a\`, "", "", "", false},
		{"created negative", `{"created":-1,"choices":[{"delta":{"content":"a"}}]}`, "", "", "", false},
		{"created leading zero", `{"created":01,"choices":[{"delta":{"content":"a"}}]}`, "", "", "", false},
		{"missing comma", `{"id":"c" "choices":[{"delta":{"content":"a"}}]}`, "", "", "", false},
		{"leading comma", `{,"choices":[{"delta":{"content":"a"}}]}`, "", "", "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ch, ok := fastChunk([]byte(tt.data))
			if ok != tt.ok || ok && (ch.Text != tt.text || ch.Reasoning != tt.reasoning || ch.FinishReason != tt.finish) {
				t.Errorf("fastChunk = %q, %q, %q, %v; want %q, %q, %q, %v", ch.Text, ch.Reasoning, ch.FinishReason, ok, tt.text, tt.reasoning, tt.finish, tt.ok)
			}
			checkFast(t, []byte(tt.data))
		})
	}
}

// FuzzFastChunk: whatever the fast path takes, encoding/json decodes the
// same way.
func FuzzFastChunk(f *testing.F) {
	for _, data := range captureChunks(f) {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkFast(t, data) })
}
