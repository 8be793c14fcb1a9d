package streaming_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"os"
	"sync"
	"testing"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/streaming"
	"github.com/google/go-cmp/cmp"
)

// The chunk sequences of Python DSPy's own streaming tests
// (testdata/dspy/stream_chunks.json), replayed through the whole stream
// path: predictors named as in the test, listeners with their reuse
// setting, an LM that streams exactly the recorded chunks.
type vectorFile struct {
	Vectors []struct {
		ID        string
		Adapter   string
		Listeners []struct {
			Field       string `json:"field"`
			PredictName string `json:"predict_name"`
			AllowReuse  bool   `json:"allow_reuse"`
			OutputType  string `json:"output_type"`
		}
		Calls []struct {
			PredictName string `json:"predict_name"`
			Chunks      []struct {
				Content          *string `json:"content"`
				ReasoningContent *string `json:"reasoning_content"`
			}
		}
		FieldValues []struct {
			Call        int    `json:"call"`
			PredictName string `json:"predict_name"`
			Field       string `json:"field"`
			Value       any    `json:"value"`
		} `json:"field_values"`
	}
}

// replayLM streams call i's recorded chunks on its i-th request.
type replayLM struct {
	mu    sync.Mutex
	calls [][]lm.Chunk
	next  int
}

func (r *replayLM) Generate(ctx context.Context, req *lm.Request) (*lm.Response, error) {
	return lm.Collect(r.Stream(ctx, req))
}

func (r *replayLM) Stream(ctx context.Context, req *lm.Request) iter.Seq2[lm.Chunk, error] {
	return func(yield func(lm.Chunk, error) bool) {
		r.mu.Lock()
		if r.next >= len(r.calls) {
			r.mu.Unlock()
			yield(lm.Chunk{}, errors.New("replayLM: no more calls"))
			return
		}
		chunks := r.calls[r.next]
		r.next++
		r.mu.Unlock()
		for _, c := range chunks {
			if !yield(c, nil) {
				return
			}
		}
	}
}

// sequence calls its predictors in the recorded order.
type sequence struct {
	names []string
	preds map[string]*dspy.Predict
	order []string
}

func (s *sequence) Forward(ctx context.Context, in dspy.Inputs) (*dspy.Prediction, error) {
	var last *dspy.Prediction
	for _, name := range s.order {
		p, err := s.preds[name].Call(ctx, in)
		var pe *dspy.ParseError
		if errors.As(err, &pe) {
			continue // the recorded reply may lack fields we did not declare
		}
		if err != nil {
			return nil, err
		}
		last = p
	}
	return last, nil
}

func (s *sequence) Submodules() []dspy.NamedModule {
	var out []dspy.NamedModule
	for _, n := range s.names {
		out = append(out, dspy.NamedModule{Name: n, Module: s.preds[n]})
	}
	return out
}

func TestDSPyStreamVectors(t *testing.T) {
	raw, err := os.ReadFile("../testdata/dspy/stream_chunks.json")
	if err != nil {
		t.Fatal(err)
	}
	var vf vectorFile
	if err := json.Unmarshal(raw, &vf); err != nil {
		t.Fatal(err)
	}
	for _, v := range vf.Vectors {
		t.Run(v.ID, func(t *testing.T) {
			var adapter dspy.Adapter
			switch v.Adapter {
			case "ChatAdapter":
				adapter = dspy.ChatAdapter{}
			case "JSONAdapter":
				adapter = dspy.JSONAdapter{}
			case "XMLAdapter":
				adapter = dspy.XMLAdapter{}
			default:
				t.Fatalf("adapter %q", v.Adapter)
			}
			// Each predictor declares the fields listened to on it, typed
			// after their recorded values; native reasoning is not a field.
			outputs := map[string][]dspy.Field{}
			for _, fv := range v.FieldValues {
				native := false
				for _, l := range v.Listeners {
					if l.Field == fv.Field && l.PredictName == fv.PredictName && l.OutputType == "Reasoning" {
						native = true
					}
				}
				if native || hasField(outputs[fv.PredictName], fv.Field) {
					continue
				}
				typ := dspy.Str()
				if _, ok := fv.Value.(map[string]any); ok {
					typ = dspy.DictOf(dspy.Str(), dspy.Any())
				}
				outputs[fv.PredictName] = append(outputs[fv.PredictName], dspy.Field{Name: fv.Field, Type: typ})
			}
			seq := &sequence{preds: map[string]*dspy.Predict{}}
			model := &replayLM{}
			for _, c := range v.Calls {
				if _, ok := seq.preds[c.PredictName]; !ok {
					outs := outputs[c.PredictName]
					if len(outs) == 0 {
						outs = []dspy.Field{{Name: "answer"}}
					}
					sig, err := dspy.NewSignature([]dspy.Field{{Name: "question"}}, outs)
					if err != nil {
						t.Fatal(err)
					}
					seq.preds[c.PredictName] = dspy.NewPredict(sig)
					seq.names = append(seq.names, c.PredictName)
				}
				seq.order = append(seq.order, c.PredictName)
				var chunks []lm.Chunk
				for _, ch := range c.Chunks {
					var lc lm.Chunk
					if ch.Content != nil {
						lc.Text = *ch.Content
					}
					if ch.ReasoningContent != nil {
						lc.Reasoning = *ch.ReasoningContent
					}
					chunks = append(chunks, lc)
				}
				model.calls = append(model.calls, chunks)
			}
			var listeners []streaming.Listener
			for _, l := range v.Listeners {
				opts := []streaming.ListenerOption{streaming.WithPredictName(l.PredictName)}
				if l.AllowReuse {
					opts = append(opts, streaming.WithAllowReuse())
				}
				listeners = append(listeners, streaming.NewListener(l.Field, opts...))
			}
			prog, err := streaming.Streamify(seq, streaming.WithListeners(listeners...))
			if err != nil {
				t.Fatal(err)
			}
			ctx := dspy.WithSettings(context.Background(), dspy.WithLM(model), dspy.WithAdapter(adapter))

			// Streamed occurrences, in order, per predictor and field.
			got := map[string][]string{}
			open := map[string]bool{}
			for ev, err := range prog.Stream(ctx, dspy.Inputs{"question": "why did a chicken cross the kitchen?"}) {
				if err != nil {
					t.Fatal(err)
				}
				sr, ok := ev.(*streaming.StreamResponse)
				if !ok {
					continue
				}
				key := sr.PredictName + "/" + sr.SignatureFieldName
				if !open[key] {
					got[key] = append(got[key], "")
					open[key] = true
				}
				got[key][len(got[key])-1] += sr.Chunk
				if sr.IsLastChunk {
					open[key] = false
				}
			}
			for key, o := range open {
				if o {
					t.Errorf("%s: an occurrence never got IsLastChunk", key)
				}
			}

			want := map[string][]string{}
			for _, l := range v.Listeners {
				key := l.PredictName + "/" + l.Field
				for _, fv := range v.FieldValues {
					if fv.PredictName != l.PredictName || fv.Field != l.Field {
						continue
					}
					if !l.AllowReuse && len(want[key]) == 1 {
						continue // without reuse only the first occurrence streams
					}
					want[key] = append(want[key], valueText(t, fv.Value))
				}
			}
			// Non-string JSON values stream as JSON text: compare decoded.
			norm := func(m map[string][]string) map[string][]any {
				out := map[string][]any{}
				for k, vs := range m {
					for _, s := range vs {
						var x any
						if v.Adapter == "JSONAdapter" && json.Unmarshal([]byte(s), &x) == nil {
							if _, isObj := x.(map[string]any); isObj {
								out[k] = append(out[k], x)
								continue
							}
						}
						out[k] = append(out[k], s)
					}
				}
				return out
			}
			if d := cmp.Diff(norm(want), norm(got)); d != "" {
				t.Errorf("streamed values (-want +got):\n%s", d)
			}
		})
	}
}

func hasField(fs []dspy.Field, name string) bool {
	for _, f := range fs {
		if f.Name == name {
			return true
		}
	}
	return false
}

func valueText(t *testing.T, v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprint(string(b))
}
