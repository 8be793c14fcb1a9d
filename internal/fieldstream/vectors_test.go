package fieldstream

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
)

// streamVectors is testdata/dspy/stream_chunks.json: chunk sequences from
// DSPy's streaming tests (see its schema.about).
type streamVectors struct {
	Vectors []struct {
		ID        string `json:"id"`
		Adapter   string `json:"adapter"`
		Listeners []struct {
			Field       string `json:"field"`
			PredictName string `json:"predict_name"`
			OutputType  string `json:"output_type"`
		} `json:"listeners"`
		Calls []struct {
			PredictName string `json:"predict_name"`
			Chunks      []struct {
				Content          *string `json:"content"`
				ReasoningContent *string `json:"reasoning_content"`
			} `json:"chunks"`
		} `json:"calls"`
		FieldValues []struct {
			Call        int    `json:"call"`
			PredictName string `json:"predict_name"`
			Field       string `json:"field"`
			Value       any    `json:"value"`
		} `json:"field_values"`
	} `json:"vectors"`
}

func loadVectors(t *testing.T) streamVectors {
	t.Helper()
	data, err := os.ReadFile("../../testdata/dspy/stream_chunks.json")
	if err != nil {
		t.Fatal(err)
	}
	var v streamVectors
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Vectors) == 0 {
		t.Fatal("no vectors")
	}
	return v
}

// TestStreamVectors feeds every call of every vector, chunk by chunk, to the
// parser of its adapter, listening to the fields its listeners name for that
// predictor, and checks each listened field's value and its one Last chunk.
// Non-string JSON values stream as JSON text, compared by what it decodes to;
// reasoning_content (the provider's native reasoning) bypasses the parser.
func TestStreamVectors(t *testing.T) {
	for _, v := range loadVectors(t).Vectors {
		t.Run(v.ID, func(t *testing.T) {
			checked := 0
			for n, call := range v.Calls {
				var fields []string
				native := false
				for _, l := range v.Listeners {
					if l.PredictName != call.PredictName {
						continue
					}
					if l.OutputType == "Reasoning" {
						native = true
						continue
					}
					fields = append(fields, l.Field)
				}
				var p parser
				switch v.Adapter {
				case "ChatAdapter":
					p = NewChat(fields)
				case "JSONAdapter":
					p = NewJSON(fields)
				case "XMLAdapter":
					p = NewXML(fields)
				default:
					t.Fatalf("unknown adapter %q", v.Adapter)
				}
				text := map[string]*strings.Builder{}
				lasts := map[string]int{}
				emit := func(c Chunk) {
					if lasts[c.Field] > 0 {
						t.Errorf("call %d: chunk %+v after the Last chunk", n, c)
					}
					if text[c.Field] == nil {
						text[c.Field] = &strings.Builder{}
					}
					text[c.Field].WriteString(c.Text)
					if c.Last {
						lasts[c.Field]++
					}
				}
				var reasoning strings.Builder
				for _, ch := range call.Chunks {
					if ch.ReasoningContent != nil {
						reasoning.WriteString(*ch.ReasoningContent)
					}
					if ch.Content != nil {
						p.Write(*ch.Content, emit)
					}
				}
				p.Close(emit)
				for _, fv := range v.FieldValues {
					if fv.Call != n {
						continue
					}
					checked++
					if native && fv.Field == "reasoning" {
						if got := reasoning.String(); got != fv.Value {
							t.Errorf("call %d: native reasoning = %q, want %q", n, got, fv.Value)
						}
						continue
					}
					if lasts[fv.Field] != 1 {
						t.Errorf("call %d: field %q has %d Last chunks, want 1", n, fv.Field, lasts[fv.Field])
					}
					var got string
					if text[fv.Field] != nil {
						got = text[fv.Field].String()
					}
					if s, ok := fv.Value.(string); ok {
						if got != s {
							t.Errorf("call %d: field %q streamed %q, want %q", n, fv.Field, got, s)
						}
						continue
					}
					var dec any
					if err := json.Unmarshal([]byte(got), &dec); err != nil || !reflect.DeepEqual(dec, fv.Value) {
						t.Errorf("call %d: field %q streamed %q (%v), want JSON text of %v", n, fv.Field, got, err, fv.Value)
					}
				}
			}
			if checked != len(v.FieldValues) {
				t.Errorf("checked %d field values of %d", checked, len(v.FieldValues))
			}
		})
	}
}
