package dspytest

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const dspySystem = "Your input fields are:\n1. `question` (str): the question\nYour output fields are:\n1. `reasoning` (str): step by step\n2. `answer` (int): the number\n3. `tags` (list[str])\n4. `mood` (Literal['happy', 'sad'])\nAll interactions will be structured in the following way, with the appropriate values filled in.\n\n[[ ## question ## ]]\n{question}\n"

func TestFieldResponder(t *testing.T) {
	msgs := func(system string) []ChatMessage {
		return []ChatMessage{{Role: "system", Content: system}, {Role: "user", Content: "q"}}
	}
	tests := []struct {
		name string
		req  ChatRequest
		want string
	}{
		{"chat", ChatRequest{Messages: msgs(dspySystem)},
			"[[ ## reasoning ## ]]\nFake reasoning from dspytest.\n\n[[ ## answer ## ]]\n42\n\n[[ ## tags ## ]]\n[\"tags item\"]\n\n[[ ## mood ## ]]\nhappy\n\n[[ ## completed ## ]]"},
		{"json", ChatRequest{Messages: msgs(dspySystem), ResponseFormat: json.RawMessage(`{"type":"json_object"}`)},
			`{"reasoning": "Fake reasoning from dspytest.", "answer": 42, "tags": ["tags item"], "mood": "happy"}`},
		{"xml", ChatRequest{Messages: msgs(strings.Replace(dspySystem, "All interactions", "Answer with XML tags. All interactions", 1))},
			"<reasoning>Fake reasoning from dspytest.</reasoning>\n<answer>42</answer>\n<tags>[\"tags item\"]</tags>\n<mood>happy</mood>"},
		{"no fields", ChatRequest{Messages: msgs("You are helpful.")}, "Hello from dspytest."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, FieldResponder(&tt.req).Text); diff != "" {
				t.Errorf("-want +got\n%s", diff)
			}
		})
	}
}

func TestPieces(t *testing.T) {
	tests := []struct {
		opt  ServerOption
		in   string
		want []string
	}{
		{WithChunkWords(1), "one two  three", []string{"one", " two", "  three"}},
		{WithChunkWords(2), "a b c d e", []string{"a b", " c d", " e"}},
		{WithChunkBytes(4), "héllo wörld", []string{"hél", "lo w", "örl", "d"}},
	}
	for _, tt := range tests {
		s := &Server{}
		tt.opt.applyServer(&s.cfg)
		got := s.pieces(tt.in)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%q: -want +got\n%s", tt.in, diff)
		}
		if strings.Join(got, "") != tt.in {
			t.Errorf("pieces do not join back to %q", tt.in)
		}
	}
}

// TestWireShape checks the stream is OpenAI's exact chunk JSON.
func TestWireShape(t *testing.T) {
	srv := NewServer(WithAnswers(Answer{Text: "Hi there"}))
	defer srv.Close()
	resp, err := http.Post(srv.URL()+"/chat/completions", "application/json",
		strings.NewReader(`{"model":"m1","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":[{"type":"text","text":"hello"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("content type %q", ct)
	}
	var lines []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if l := sc.Text(); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) != 6 || lines[5] != "data: [DONE]" {
		t.Fatalf("lines: %q", lines)
	}
	var first, usage map[string]any
	json.Unmarshal([]byte(strings.TrimPrefix(lines[0], "data: ")), &first)
	json.Unmarshal([]byte(strings.TrimPrefix(lines[4], "data: ")), &usage)
	if first["object"] != "chat.completion.chunk" || first["model"] != "m1" || first["id"] == "" || first["created"] == nil {
		t.Errorf("first chunk %v", first)
	}
	delta := first["choices"].([]any)[0].(map[string]any)["delta"].(map[string]any)
	if diff := cmp.Diff(map[string]any{"role": "assistant", "content": ""}, delta); diff != "" {
		t.Errorf("role delta: %s", diff)
	}
	if _, ok := first["usage"]; !ok || first["usage"] != nil {
		t.Errorf("usage:null missing on content chunk: %v", first)
	}
	if c := usage["choices"].([]any); len(c) != 0 || usage["usage"] == nil {
		t.Errorf("usage chunk %v", usage)
	}
	if !strings.Contains(lines[3], `"finish_reason":"stop"`) || !strings.Contains(lines[2], `"content":" there"`) {
		t.Errorf("chunks %q", lines[1:4])
	}
	rec := srv.Requests()[0]
	if rec.Body.Messages[0].Content != "hello" || rec.Path != "/v1/chat/completions" {
		t.Errorf("recorded %+v", rec.Body)
	}
}

func TestModels(t *testing.T) {
	srv := NewServer()
	defer srv.Close()
	resp, err := http.Get(srv.URL() + "/models")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `"object":"list"`) {
		t.Errorf("models: %s", b)
	}
}

func TestRequiredKey(t *testing.T) {
	srv := NewServer(WithRequiredAPIKey("k"))
	defer srv.Close()
	resp, err := http.Post(srv.URL()+"/chat/completions", "application/json", strings.NewReader(`{"messages":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("status %d", resp.StatusCode)
	}
}
