package openai_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/godspy/dspy/internal/replay"
	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/lm/openai"
)

// TestBlockingContentParts: a real magistral reply whose message.content
// is a list of parts (see testdata/ATTRIBUTION.md).
func TestBlockingContentParts(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("testdata", "mistral_magistral-medium-2507_thinking-parts.json"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) }))
	defer srv.Close()
	resp, err := openai.New("m", openai.WithBaseURL(srv.URL)).Generate(t.Context(), userReq("What is 2 + 2?"))
	if err != nil {
		t.Fatal(err)
	}
	want := &lm.Response{ID: "a4e29c5b82f94d67b23e108a7c9df6e1", Model: "magistral-medium-2507", Choices: []lm.Choice{{
		Message:      lm.Message{Role: lm.RoleAssistant, Content: "2 + 2 = 4", Reasoning: "The user is asking for 2+2. This is basic arithmetic. 2+2=4."},
		FinishReason: "stop",
	}}, Usage: lm.Usage{PromptTokens: 10, CompletionTokens: 46, TotalTokens: 56}}
	if diff := cmp.Diff(want, resp); diff != "" {
		t.Errorf("-want +got\n%s", diff)
	}
}

// TestContentPartShapes covers the part types the chat-completions family
// documents, in a blocking reply and in a stream delta alike. The bodies
// are written here (the shapes, not captures).
func TestContentPartShapes(t *testing.T) {
	tests := []struct {
		name      string
		content   string
		text      string
		reasoning string
		refusal   string
	}{
		{"string", `"plain"`, "plain", "", ""},
		{"null", `null`, "", "", ""},
		{"text parts", `[{"type":"text","text":"a"},{"type":"text","text":"b"}]`, "ab", "", ""},
		{"output_text", `[{"type":"output_text","text":"out","annotations":[]}]`, "out", "", ""},
		{"thinking as a string", `[{"type":"thinking","thinking":"hmm"},{"type":"text","text":"x"}]`, "x", "hmm", ""},
		{"thinking as text parts", `[{"type":"thinking","thinking":[{"type":"text","text":"a"},{"type":"text","text":"b"}],"closed":true}]`, "", "ab", ""},
		{"reasoning part", `[{"type":"reasoning","text":"why"},{"type":"text","text":"so"}]`, "so", "why", ""},
		{"refusal part", `[{"type":"refusal","refusal":"no"}]`, "", "", "no"},
		{"bare strings and unknown parts", `["a",{"type":"image_url","image_url":{"url":"x"}},{"type":"reference","reference_ids":[1]},"b"]`, "ab", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check := func(t *testing.T, how string, resp *lm.Response, err error) {
				t.Helper()
				if tt.refusal != "" {
					var re *openai.RefusalError
					if !errors.As(err, &re) || re.Refusal != tt.refusal {
						t.Errorf("%s: err = %v, want refusal %q", how, err, tt.refusal)
					}
					return
				}
				if err != nil {
					t.Fatalf("%s: %v", how, err)
				}
				m := resp.Choices[0].Message
				if m.Content != tt.text || m.Reasoning != tt.reasoning {
					t.Errorf("%s: content %q reasoning %q, want %q %q", how, m.Content, m.Reasoning, tt.text, tt.reasoning)
				}
			}
			blocking := `{"id":"r","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":` + tt.content + `},"finish_reason":"stop"}]}`
			s := &replay.Script{Answers: []replay.Answer{replay.Status(200, nil, blocking)}}
			resp, err := openai.New("m", openai.WithHTTPClient(&http.Client{Transport: s})).Generate(t.Context(), userReq("x"))
			check(t, "Generate", resp, err)

			stream := `data: {"id":"r","model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}` + "\n\n" +
				`data: {"id":"r","model":"m","choices":[{"index":0,"delta":{"content":` + tt.content + `},"finish_reason":null}]}` + "\n\n" +
				`data: {"id":"r","model":"m","choices":[{"index":0,"delta":{"content":"."},"finish_reason":"stop"}]}` + "\n\ndata: [DONE]\n\n"
			srv := replay.PieceServer(t, []byte(stream), 1)
			resp, err = replay.Collect(t, openai.New("m", openai.WithBaseURL(srv.URL)).Stream(t.Context(), userReq("x")))
			if resp != nil {
				resp.Choices[0].Message.Content = strings.TrimSuffix(resp.Choices[0].Message.Content, ".")
			}
			check(t, "Stream", resp, err)
		})
	}
	// A content that is neither is malformed, not silently dropped.
	s := &replay.Script{Answers: []replay.Answer{replay.Status(200, http.Header{}, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":{\"x\":1}}}]}\n\n")}}
	_, err := lm.Collect(openai.New("m", openai.WithHTTPClient(&http.Client{Transport: s}), openai.WithRetry(lm.NoRetry())).Stream(t.Context(), userReq("x")))
	if !errors.Is(err, lm.ErrMalformed) {
		t.Errorf("object content: err = %v, want ErrMalformed", err)
	}
}
