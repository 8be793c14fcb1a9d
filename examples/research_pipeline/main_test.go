package main

import (
	"bytes"
	"context"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/godspy/dspy/examples/internal/demo"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The example prints what the guide's Python version prints, offline.
func TestOutput(t *testing.T) {
	demo.Offline(t)
	ctx := context.Background()
	var out bytes.Buffer
	if err := run(ctx, &out, io.Discard, "What causes ocean tides?"); err != nil {
		t.Fatal(err)
	}
	got := sortSearches(out.String()) // the searches run concurrently
	if got != want {
		t.Errorf("output:\n%s\nwant:\n%s", got, want)
	}
}

const want = `[Planning searches...]
[Searching: earth rotation tides]
[Searching: moon gravity tides]
[Searching: sun effect on tides]
[Writing the report...]
Tides are caused mainly by the Moon's gravity, which pulls the ocean into a bulge; the Sun adds a weaker pull. As Earth rotates, each coast passes through two bulges a day, so most places see two high tides daily.

Final report (40 words).
`

// sortSearches puts the concurrent "[Searching: ...]" lines in order.
func sortSearches(s string) string {
	lines := strings.Split(s, "\n")
	var searches []string
	for _, l := range lines {
		if strings.HasPrefix(l, "[Searching") {
			searches = append(searches, l)
		}
	}
	slices.Sort(searches)
	for i, l := range lines {
		if strings.HasPrefix(l, "[Searching") {
			lines[i], searches = searches[0], searches[1:]
		}
	}
	return strings.Join(lines, "\n")
}
