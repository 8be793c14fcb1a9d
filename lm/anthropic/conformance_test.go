package anthropic_test

import (
	"flag"
	"path/filepath"
	"strings"
	"testing"

	"github.com/godspy/dspy/internal/replay"
	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/lm/anthropic"
)

var update = flag.Bool("update", false, "rewrite testdata/sse/anthropic_*.expected.json")

// TestConformance replays every real recorded Anthropic stream in
// testdata/sse (anthropic_*.sse, see ATTRIBUTION.md there), written in
// small random pieces, and compares the whole outcome (text, reasoning,
// tool calls, finish, usage, error) with NAME.expected.json: pings, split
// escapes and emoji, thinking with signatures, server tools, tool input
// JSON fragments.
func TestConformance(t *testing.T) {
	captures := replay.Captures(t, filepath.Join("..", "..", "testdata", "sse"), func(name string) bool {
		return strings.HasPrefix(name, "anthropic_")
	})
	replay.Conformance(t, captures, func(url string) lm.LM {
		return anthropic.New("m", anthropic.WithBaseURL(url), anthropic.WithRetry(lm.NoRetry()))
	}, *update, func(t *testing.T, name string, err error) {
		if err != nil {
			t.Errorf("err = %v", err)
		}
	})
}
