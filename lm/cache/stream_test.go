package cache_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/dspytest"
	"github.com/godspy/dspy/lm/cache"
	"github.com/godspy/dspy/streaming"
)

// streamSummary is what a UI sees of a run: per field the concatenated
// chunks and the number of IsLastChunk marks, the order fields started in,
// and the final prediction.
type streamSummary struct {
	Text   map[string]string
	Last   map[string]int
	Order  []string
	Final  map[string]any
	Finals int
}

func summarize(t *testing.T, prog *streaming.Program, in dspy.Inputs) streamSummary {
	t.Helper()
	s := streamSummary{Text: map[string]string{}, Last: map[string]int{}}
	for ev, err := range prog.Stream(t.Context(), in) {
		if err != nil {
			t.Fatal(err)
		}
		switch e := ev.(type) {
		case *streaming.StreamResponse:
			if _, seen := s.Text[e.SignatureFieldName]; !seen {
				s.Order = append(s.Order, e.SignatureFieldName)
			}
			s.Text[e.SignatureFieldName] += e.Chunk
			if e.IsLastChunk {
				s.Last[e.SignatureFieldName]++
			}
		case *streaming.Final:
			s.Finals++
			s.Final = map[string]any{"reasoning": e.Prediction.Get("reasoning"), "answer": e.Prediction.Get("answer")}
		}
	}
	return s
}

// TestStreamingReplayMatchesMiss: a cached reply replays through the
// listeners, so a consumer sees the same events as on the original miss.
func TestStreamingReplayMatchesMiss(t *testing.T) {
	for _, replay := range []struct {
		name string
		opts []cache.Option
	}{
		{"replay", nil},
		{"tiny chunks", []cache.Option{cache.WithReplayChunkSize(1)}},
		{"without replay", []cache.Option{cache.WithoutReplay()}},
	} {
		t.Run(replay.name, func(t *testing.T) {
			reply := dspytest.ChatReply("reasoning", "The moon pulls [[ the ]] oceans; «tides» follow.", "answer", "Gravity — of the moon and sun.")
			inner := dspytest.NewScriptedLM(reply)
			inner.ChunkSize = 5
			model := cache.Wrap(inner, cache.NewMemory(10, 0), replay.opts...)
			prog, err := streaming.Streamify(dspy.NewChainOfThought("question -> answer", dspy.WithLM(model)),
				streaming.WithListeners(streaming.NewListener("reasoning"), streaming.NewListener("answer")))
			if err != nil {
				t.Fatal(err)
			}
			in := dspy.Inputs{"question": "What causes tides?"}
			miss := summarize(t, prog, in)
			hit := summarize(t, prog, in)
			if inner.Remaining() != 0 || len(inner.Requests()) != 1 {
				t.Fatalf("inner LM called %d times, want 1 (second run must hit)", len(inner.Requests()))
			}
			if d := cmp.Diff(miss, hit); d != "" {
				t.Errorf("hit events differ from miss events (-miss +hit):\n%s", d)
			}
			want := streamSummary{
				Text:   map[string]string{"reasoning": "The moon pulls [[ the ]] oceans; «tides» follow.", "answer": "Gravity — of the moon and sun."},
				Last:   map[string]int{"reasoning": 1, "answer": 1},
				Order:  []string{"reasoning", "answer"},
				Final:  map[string]any{"reasoning": "The moon pulls [[ the ]] oceans; «tides» follow.", "answer": "Gravity — of the moon and sun."},
				Finals: 1,
			}
			if d := cmp.Diff(want, miss); d != "" {
				t.Errorf("miss events (-want +got):\n%s", d)
			}
		})
	}
}
