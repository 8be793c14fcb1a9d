//go:build !race

// The race detector adds allocations of its own, so these budgets are
// checked only without it (.ci/run's second pass).

package dspy

import "testing"

// TestFieldParserAllocBudgets holds each built-in adapter's field parser to
// its allocation budget per chunk, inside a streamed field: what a listener
// pays for every LM chunk. Budgets measured 2026-12-02 with go1.26 (issue
// 21), as AllocsPerRun of one Write after the field opened: plain text is
// passed on as a substring of the chunk; decoded escapes or entities cost
// their new string.
func TestFieldParserAllocBudgets(t *testing.T) {
	sig := MustSignature("question -> answer, score: int")
	for _, tt := range []struct {
		name    string
		adapter StreamingAdapter
		open    string // reply text that opens the answer field
		chunk   string // each measured chunk
		budget  float64
	}{
		{"chat", ChatAdapter{}, "[[ ## answer ## ]]\nThe", " word", 0},
		{"json", JSONAdapter{}, `{"answer": "The`, " word", 0},
		{"json escapes", JSONAdapter{}, `{"answer": "The`, ` a\"b\n`, 1},
		{"xml", XMLAdapter{}, "<answer>The", " word", 0},
		{"xml entity", XMLAdapter{}, "<answer>The", " a&amp;b", 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.adapter.NewFieldParser(sig)
			emitted := 0
			emit := func(fc FieldChunk) {
				if fc.Field == "answer" && fc.Text != "" {
					emitted++
				}
			}
			p.Write(tt.open, emit)
			p.Write(tt.chunk, emit)
			emitted = 0
			got := testing.AllocsPerRun(1000, func() { p.Write(tt.chunk, emit) })
			if emitted == 0 {
				t.Fatalf("no answer text emitted while measuring: the measurement is not of a streamed field")
			}
			if got > tt.budget {
				t.Errorf("Write allocates %v times per chunk, budget %v", got, tt.budget)
			}
			t.Logf("%v allocations per chunk (budget %v), %d chunks emitted", got, tt.budget, emitted)
		})
	}
}
