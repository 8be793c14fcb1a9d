package replay

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/godspy/dspy/lm"
)

// Expected is everything a provider must make of a recorded stream: the
// whole text, reasoning and tool calls, the finish reason and usage, and
// the text of the error it ends with, if any. It is stored as
// NAME.expected.json beside NAME.sse.
type Expected struct {
	ID        string        `json:"id"`
	Model     string        `json:"model"`
	Finish    string        `json:"finish"`
	Usage     lm.Usage      `json:"usage"`
	Text      string        `json:"text"`
	Reasoning string        `json:"reasoning"`
	ToolCalls []lm.ToolCall `json:"tool_calls,omitempty"`
	Error     string        `json:"error,omitempty"`
}

// Outcome is the Expected of a stream that returned resp and err; after an
// *lm.StreamError the response is its Partial.
func Outcome(resp *lm.Response, err error) Expected {
	var e Expected
	if err != nil {
		e.Error = err.Error()
		var se *lm.StreamError
		if errors.As(err, &se) {
			resp = &se.Partial
		}
	}
	if resp == nil || len(resp.Choices) == 0 {
		return e
	}
	m := resp.Choices[0].Message
	e.ID, e.Model, e.Finish, e.Usage = resp.ID, resp.Model, resp.Choices[0].FinishReason, resp.Usage
	e.Text, e.Reasoning, e.ToolCalls = m.Content, m.Reasoning, m.ToolCalls
	return e
}

// Golden compares got with the expected values stored at path; with update
// it writes got there instead, for a person to review against the capture.
func Golden(t testing.TB, path string, got Expected, update bool) {
	t.Helper()
	if update {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(got); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the test with -update to write it, then review it)", err)
	}
	var want Expected
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&want); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s: -want +got\n%s", filepath.Base(path), diff)
	}
}

// Captures lists the recorded streams of dir (NAME.sse) that match keeps.
func Captures(t testing.TB, dir string, keep func(name string) bool) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.sse"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no captures in %s: %v", dir, err)
	}
	var out []string
	for _, f := range files {
		if keep(filepath.Base(f)) {
			out = append(out, f)
		}
	}
	return out
}

// Conformance replays each capture through the client newLM makes for a
// server's URL, written in small random pieces with three seeds, and
// compares the outcome with NAME.expected.json (see Golden). check, if
// not nil, is called with each capture's name and error for typed checks.
func Conformance(t *testing.T, captures []string, newLM func(url string) lm.LM, update bool, check func(t *testing.T, name string, err error)) {
	for _, path := range captures {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			golden := strings.TrimSuffix(path, ".sse") + ".expected.json"
			for seed := range uint64(3) {
				srv := PieceServer(t, body, seed)
				resp, err := Collect(t, newLM(srv.URL).Stream(t.Context(), &lm.Request{Messages: []lm.Message{{Role: lm.RoleUser, Content: "hi"}}}))
				if check != nil {
					check(t, name, err)
				}
				Golden(t, golden, Outcome(resp, err), update && seed == 0)
			}
		})
	}
}
