package replay

import (
	"errors"
	"io"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/godspy/dspy/lm"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestOutcomeAndGolden(t *testing.T) {
	partial := lm.Response{ID: "r", Model: "m", Choices: []lm.Choice{{Message: lm.Message{Content: "par", Reasoning: "why", ToolCalls: []lm.ToolCall{{ID: "c", Name: "f", Arguments: "{"}}}}}}
	err := &lm.StreamError{Partial: partial, Err: io.ErrUnexpectedEOF}
	got := Outcome(nil, err)
	want := Expected{ID: "r", Model: "m", Text: "par", Reasoning: "why", ToolCalls: []lm.ToolCall{{ID: "c", Name: "f", Arguments: "{"}}, Error: err.Error()}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Outcome -want +got\n%s", diff)
	}
	if got := Outcome(nil, errors.New("x")); got.Error != "x" || got.Text != "" {
		t.Errorf("Outcome without a response = %+v", got)
	}
	path := filepath.Join(t.TempDir(), "x.expected.json")
	Golden(t, path, got, true)
	Golden(t, path, got, false) // reads back what it wrote
}
