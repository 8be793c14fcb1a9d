package anthropic_test

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
	"github.com/godspy/dspy/lm/anthropic"
)

// standardCapture is a real Anthropic stream (testdata/sse/ATTRIBUTION.md):
// "1\n2\n3\n4\n5" in three deltas, a ping, message_delta, message_stop.
const standardCapture = "anthropic_claude3-opus_count1to5.sse"

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
	c := anthropic.New("claude-3-opus-20240229", anthropic.WithBaseURL(srv.URL), anthropic.WithRetry(lm.NoRetry()))
	var chunks []lm.Chunk
	for ch, err := range c.Stream(t.Context(), &lm.Request{Messages: []lm.Message{{Role: lm.RoleUser, Content: "count 1 to 5"}}}) {
		if err != nil {
			return chunks, err
		}
		chunks = append(chunks, ch)
	}
	return chunks, nil
}

// The chunks the capture gives, written out.
func standardChunks() []lm.Chunk {
	id, model := "msg_01Ju7oPaDmjgrhWq8gNP4AUj", "claude-3-opus-20240229"
	return []lm.Chunk{
		{ID: id, Model: model, Text: "1"},
		{ID: id, Model: model, Text: "\n2\n3"},
		{ID: id, Model: model, Text: "\n4\n5"},
		{ID: id, Model: model, FinishReason: "stop", Usage: &lm.Usage{PromptTokens: 15, CompletionTokens: 13, TotalTokens: 28}},
	}
}

// A real stream reframed with a BOM, lone-CR, CRLF and LF line ends and
// empty-data events gives exactly the chunks of the original, however it
// is cut into reads.
func TestStreamStandardFramings(t *testing.T) {
	body := readCapture(t, standardCapture)
	want := standardChunks()
	got, err := streamChunks(t, ssetest.Server(t, [][]byte{body}))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("original capture: -want +got\n%s", diff)
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
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("-want +got\n%s", diff)
			}
		})
	}
}

// The standard discards an event not closed by a blank line. message_stop
// without one changes nothing (the stop reason came in message_delta); a
// message_delta without one is not delivered, so the stream is truncated.
func TestStreamFinalEventWithoutBlankLine(t *testing.T) {
	body := readCapture(t, standardCapture)
	want := standardChunks()
	t.Run("message_stop", func(t *testing.T) {
		cut := bytes.TrimSuffix(body, []byte("\n"))
		if !bytes.HasSuffix(cut, []byte("\"message_stop\"              }\n")) {
			t.Fatal("capture does not end with message_stop")
		}
		got, err := streamChunks(t, ssetest.Server(t, [][]byte{cut}))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("-want +got\n%s", diff)
		}
	})
	delta := bytes.Index(body, []byte("data: {\"type\":\"message_delta\""))
	end := delta + bytes.IndexByte(body[delta:], '\n')
	for _, tt := range []struct{ name, eol string }{{"LF", "\n"}, {"CRLF", "\r\n"}, {"CR", "\r"}} {
		t.Run("message_delta "+tt.name, func(t *testing.T) {
			cut := append(bytes.Clone(body[:end]), tt.eol...)
			got, err := streamChunks(t, ssetest.Server(t, [][]byte{cut}))
			var se *lm.StreamError
			if !errors.Is(err, io.ErrUnexpectedEOF) || !errors.As(err, &se) {
				t.Fatalf("err = %v, want a StreamError wrapping io.ErrUnexpectedEOF", err)
			}
			if txt := se.Partial.Text(); txt != "1\n2\n3\n4\n5" {
				t.Errorf("partial text %q", txt)
			}
			if diff := cmp.Diff(want[:3], got); diff != "" {
				t.Errorf("-want +got\n%s", diff)
			}
		})
	}
	if strings.Count(string(body), "event: message_delta") != 1 {
		t.Fatal("capture has more than one message_delta")
	}
}

// A byte order mark in front of a data line is skipped, not made part of
// the field name (which would lose the event): here, in a stream without
// event names, the first event is message_start with the ID, model and
// input tokens.
func TestStreamBOMBeforeData(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("\ufeff")
	for _, l := range strings.SplitAfter(string(readCapture(t, standardCapture)), "\n") {
		if !strings.HasPrefix(l, "event:") {
			b.WriteString(l)
		}
	}
	got, err := streamChunks(t, ssetest.Server(t, [][]byte{b.Bytes()}))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(standardChunks(), got); diff != "" {
		t.Errorf("-want +got\n%s", diff)
	}
}
