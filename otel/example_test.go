package otel_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"sort"
	"strings"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/dspytest"
	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/otel"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Trace a ChainOfThought call and print its spans with the stdout
// exporter. A real program would install the trace once, with
// dspy.Configure(dspy.WithTrace(otel.NewTrace())), and an OTLP exporter.
func Example() {
	// An OpenAI-compatible server on loopback stands in for the provider.
	srv := dspytest.NewServer(dspytest.WithAnswers(dspytest.Answer{
		Text:  dspytest.ChatReply("reasoning", "Paris is in France.", "answer", "Paris"),
		Usage: &lm.Usage{PromptTokens: 52, CompletionTokens: 11, TotalTokens: 63},
	}))
	defer srv.Close()
	model, err := dspy.NewLM("openai/gpt-4o-mini", dspy.WithBaseURL(srv.URL()), dspy.WithAPIKey("sk-example"))
	if err != nil {
		log.Fatal(err)
	}

	var out bytes.Buffer
	exporter, err := stdouttrace.New(stdouttrace.WithWriter(&out), stdouttrace.WithoutTimestamps())
	if err != nil {
		log.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exporter))

	ctx := dspy.WithSettings(context.Background(), dspy.WithLM(model),
		dspy.WithTrace(otel.NewTrace(otel.WithTracerProvider(tp))))
	cot := dspy.NewChainOfThought("question -> answer")
	if _, err := cot.Call(ctx, dspy.Inputs{"question": "What is the capital of France?"}); err != nil {
		log.Fatal(err)
	}
	if err := tp.Shutdown(context.Background()); err != nil {
		log.Fatal(err)
	}
	printTree(&out) // the exporter's JSON, as a tree of names and a few attributes

	// Output:
	// dspy.ChainOfThought
	//   dspy.Predict predict
	//     chat gpt-4o-mini gen_ai.provider.name=openai gen_ai.response.finish_reasons=["stop"] gen_ai.usage.input_tokens=52 gen_ai.usage.output_tokens=11
}

// printTree reads stdouttrace's output (one JSON span after another) and
// prints the spans as a tree, leaving out ids and timings.
func printTree(r io.Reader) {
	type span struct {
		Name        string
		SpanContext struct{ SpanID string }
		Parent      struct{ SpanID string }
		Attributes  []struct {
			Key   string
			Value struct{ Value any }
		}
	}
	var spans []span
	dec := json.NewDecoder(r)
	for dec.More() {
		var s span
		if err := dec.Decode(&s); err != nil {
			log.Fatal(err)
		}
		spans = append(spans, s)
	}
	show := map[string]bool{"gen_ai.provider.name": true, "gen_ai.usage.input_tokens": true, "gen_ai.usage.output_tokens": true, "gen_ai.response.finish_reasons": true}
	var walk func(parent string, depth int)
	walk = func(parent string, depth int) {
		for _, s := range spans {
			if s.Parent.SpanID != parent {
				continue
			}
			var shown []string
			for _, a := range s.Attributes {
				if show[a.Key] {
					v, _ := json.Marshal(a.Value.Value)
					shown = append(shown, a.Key+"="+strings.Trim(string(v), `"`))
				}
			}
			sort.Strings(shown)
			fmt.Println(strings.TrimRight(strings.Repeat("  ", depth)+s.Name+" "+strings.Join(shown, " "), " "))
			walk(s.SpanContext.SpanID, depth+1)
		}
	}
	walk("0000000000000000", 0)
}
