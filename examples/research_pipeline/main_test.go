package main

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/dspytest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The example prints what the guide's Python version prints, offline.
func TestOutput(t *testing.T) {
	pace = 0
	var out bytes.Buffer
	if err := run(context.Background(), &out, offlineLM(), "What causes ocean tides?"); err != nil {
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

// A plan that is not a list of strings is an error naming the field, not a
// report written from no findings.
func TestPlanNotAList(t *testing.T) {
	p := NewResearchPipeline()
	p.Plan = dspy.NewPredict("topic -> queries") // a str, not a list[str]
	model := dspytest.Repeat(dspytest.ChatReply("queries", "moon gravity tides"))
	ctx := dspy.WithSettings(context.Background(), dspy.WithLM(model))
	_, err := p.Forward(ctx, dspy.Inputs{"topic": "What causes ocean tides?"})
	if err == nil || !strings.Contains(err.Error(), `field "queries"`) {
		t.Errorf("Forward = %v, want an error naming the field queries", err)
	}
	if n := len(model.Requests()); n != 1 {
		t.Errorf("LM got %d requests, want 1 (the plan, then nothing)", n)
	}
}
