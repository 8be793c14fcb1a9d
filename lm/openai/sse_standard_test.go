package openai_test

import (
	"bytes"
	"errors"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/godspy/dspy/internal/replay"
	"github.com/godspy/dspy/internal/sse/ssetest"
	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/lm/openai"
)

// standardCapture is a real OpenAI stream (testdata/sse/ATTRIBUTION.md):
// "1, 2, 3, 4, 5", a finish chunk, a usage chunk and [DONE].
const standardCapture = "openai_gpt35-turbo_count1to5_include-usage.sse"

func readCapture(t *testing.T, name string) []byte {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("..", "..", "testdata", "sse", name))
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// streamChunks collects what the client yields from srv, and the error.
func streamChunks(t *testing.T, srv *httptest.Server) ([]lm.Chunk, error) {
	t.Helper()
	c := openai.New("gpt-3.5-turbo", openai.WithBaseURL(srv.URL), openai.WithRetry(lm.NoRetry()))
	var chunks []lm.Chunk
	for ch, err := range c.Stream(t.Context(), &lm.Request{Messages: []lm.Message{{Role: lm.RoleUser, Content: "count 1 to 5"}}}) {
		if err != nil {
			return chunks, err
		}
		chunks = append(chunks, ch)
	}
	return chunks, nil
}

func chunkText(chunks []lm.Chunk) string {
	var b strings.Builder
	for _, c := range chunks {
		b.WriteString(c.Text)
	}
	return b.String()
}

// A real stream reframed with a BOM, lone-CR, CRLF and LF line ends and
// empty-data events gives exactly the chunks of the original, however it
// is cut into reads.
func TestStreamStandardFramings(t *testing.T) {
	body := readCapture(t, standardCapture)
	want, err := streamChunks(t, ssetest.Server(t, [][]byte{body}))
	if err != nil {
		t.Fatal(err)
	}
	if got := chunkText(want); got != "1, 2, 3, 4, 5" {
		t.Fatalf("original capture: text %q", got)
	}
	last := want[len(want)-1]
	if last.Usage == nil || *last.Usage != (lm.Usage{PromptTokens: 14, CompletionTokens: 13, TotalTokens: 27}) || want[len(want)-2].FinishReason != "stop" {
		t.Fatalf("original capture: last chunks %+v %+v", want[len(want)-2], last)
	}
	reframed := ssetest.Reframe(body)
	for _, s := range []struct {
		name string
		srv  *httptest.Server
	}{
		{"whole", ssetest.Server(t, [][]byte{reframed})},
		{"random pieces", replay.PieceServer(t, reframed, 3)},
		{"cut after every CR", ssetest.Server(t, ssetest.CutAfterCR(reframed))},
	} {
		t.Run(s.name, func(t *testing.T) {
			got, err := streamChunks(t, s.srv)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff("1, 2, 3, 4, 5", chunkText(got)); diff != "" {
				t.Errorf("text: -want +got\n%s", diff)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("-original +reframed\n%s", diff)
			}
		})
	}
}

// The standard discards an event not closed by a blank line. [DONE]
// without one changes nothing (the finish reason came before); a finish
// chunk without one is not delivered, so the stream is truncated.
func TestStreamFinalEventWithoutBlankLine(t *testing.T) {
	body := readCapture(t, standardCapture)
	want, err := streamChunks(t, ssetest.Server(t, [][]byte{body}))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("DONE", func(t *testing.T) {
		cut := bytes.TrimSuffix(body, []byte("\n"))
		if !bytes.HasSuffix(cut, []byte("data: [DONE]\n")) {
			t.Fatal("capture does not end with [DONE]")
		}
		got, err := streamChunks(t, ssetest.Server(t, [][]byte{cut}))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("-original +cut\n%s", diff)
		}
	})
	fin := bytes.Index(body, []byte(`"finish_reason":"stop"`))
	end := fin + bytes.IndexByte(body[fin:], '\n')
	for _, tt := range []struct{ name, eol string }{{"LF", "\n"}, {"CRLF", "\r\n"}, {"CR", "\r"}} {
		t.Run("finish chunk "+tt.name, func(t *testing.T) {
			cut := append(bytes.Clone(body[:end]), tt.eol...)
			got, err := streamChunks(t, ssetest.Server(t, [][]byte{cut}))
			var se *lm.StreamError
			if !errors.Is(err, io.ErrUnexpectedEOF) || !errors.As(err, &se) {
				t.Fatalf("err = %v, want a StreamError wrapping io.ErrUnexpectedEOF", err)
			}
			if txt := se.Partial.Text(); txt != "1, 2, 3, 4, 5" {
				t.Errorf("partial text %q, want \"1, 2, 3, 4, 5\"", txt)
			}
			// Every chunk but the finish and usage ones.
			if diff := cmp.Diff(want[:len(want)-2], got); diff != "" {
				t.Errorf("-want +got\n%s", diff)
			}
		})
	}
}

// A byte order mark in front of a data line is skipped, not made part of
// the field name (which would lose the event): here the first event
// carries the first token.
func TestStreamBOMBeforeData(t *testing.T) {
	body := readCapture(t, standardCapture)
	want, err := streamChunks(t, ssetest.Server(t, [][]byte{body}))
	if err != nil {
		t.Fatal(err)
	}
	first := bytes.Index(body, []byte("\n\n")) + 2 // drop the role chunk, which holds no text
	got, err := streamChunks(t, ssetest.Server(t, [][]byte{append([]byte("\ufeff"), body[first:]...)}))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("-want +got\n%s", diff)
	}
}
