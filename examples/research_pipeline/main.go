// Command research_pipeline is the Go twin of the guide's "putting it all
// together": an asynchronous research pipeline that plans search queries,
// runs the searches concurrently, and synthesizes a report that streams
// token by token, with status messages while it works.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/dspytest"
	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/streaming"
)

func main() {
	topic := "What causes ocean tides?"
	if len(os.Args) > 1 {
		topic = strings.Join(os.Args[1:], " ")
	}
	model, err := pickLM(os.Stderr, offlineLM())
	if err == nil {
		err = run(context.Background(), os.Stdout, model, topic)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

// ResearchPipeline plans queries, searches them all at once, then writes.
type ResearchPipeline struct {
	Plan       *dspy.Predict
	Synthesize *dspy.ChainOfThought
	search     *dspy.Tool
}

type searchArgs struct {
	Query string `json:"query" desc:"what to look up"`
}

// corpus stands in for a search API, so the example runs offline.
var corpus = map[string]string{
	"moon":  "The Moon's gravity pulls the ocean toward it, raising a bulge on the near side.",
	"sun":   "The Sun's gravity also raises tides, about half as strongly as the Moon's.",
	"earth": "Earth's rotation carries each coast through two bulges a day: two high tides.",
}

func searchWeb(ctx context.Context, a searchArgs) (string, error) {
	select { // a network call would honour ctx the same way
	case <-time.After(40 * time.Millisecond):
	case <-ctx.Done():
		return "", ctx.Err()
	}
	var hits []string
	for k, v := range corpus {
		if strings.Contains(strings.ToLower(a.Query), k) {
			hits = append(hits, v)
		}
	}
	if len(hits) == 0 {
		return "No results.", nil
	}
	return strings.Join(hits, " "), nil
}

func NewResearchPipeline() *ResearchPipeline {
	return &ResearchPipeline{
		Plan:       dspy.NewPredict("topic -> queries: list[str]"),
		Synthesize: dspy.NewChainOfThought("topic, findings: list[str] -> report"),
		search:     dspy.NewTool("search_web", "Search the web.", searchWeb),
	}
}

func (p *ResearchPipeline) Forward(ctx context.Context, in dspy.Inputs) (*dspy.Prediction, error) {
	plan, err := p.Plan.Call(ctx, dspy.Inputs{"topic": in["topic"]})
	if err != nil {
		return nil, err
	}
	queries, err := plan.Strings("queries")
	if err != nil {
		return nil, err
	}
	var futs []*dspy.Future[any]
	for _, q := range queries {
		futs = append(futs, p.search.ACall(ctx, map[string]any{"query": q}))
	}
	results, err := dspy.Gather(ctx, futs...) // the searches run concurrently
	if err != nil {
		return nil, err
	}
	findings := make([]string, len(results))
	for i, r := range results {
		findings[i] = fmt.Sprint(r)
	}
	return p.Synthesize.Call(ctx, dspy.Inputs{"topic": in["topic"], "findings": findings})
}

// Status says what the pipeline is doing.
type Status struct{ streaming.DefaultStatus }

func (Status) ModuleStart(i dspy.ModuleStartInfo) string {
	switch i.Module.(type) {
	case *dspy.ChainOfThought:
		return "Writing the report..."
	case *ResearchPipeline:
		return "Planning searches..."
	}
	return ""
}

func (Status) ToolStart(i dspy.ToolStartInfo) string {
	return fmt.Sprintf("Searching: %v", i.Args["query"])
}

func (Status) ToolEnd(dspy.ToolEndInfo) string { return "" }

func run(ctx context.Context, out io.Writer, model lm.LM, topic string) error {
	ctx = dspy.WithSettings(ctx, dspy.WithLM(model))

	program, err := streaming.Streamify(NewResearchPipeline(),
		streaming.WithListeners(streaming.NewListener("report", streaming.WithPredictName("synthesize"))),
		streaming.WithStatus(Status{}))
	if err != nil {
		return err
	}
	for ev, err := range program.Stream(ctx, dspy.Inputs{"topic": topic}) {
		if err != nil {
			return err
		}
		switch e := ev.(type) {
		case *streaming.StatusMessage:
			fmt.Fprintf(out, "[%s]\n", e.Message)
		case *streaming.StreamResponse:
			fmt.Fprint(out, e.Chunk)
			if e.IsLastChunk {
				fmt.Fprintln(out)
			}
		case *streaming.Final:
			fmt.Fprintf(out, "\nFinal report (%d words).\n", len(strings.Fields(e.Prediction.String("report"))))
		}
	}
	return nil
}

// script is what the offline LM answers, in turn.
var script = []string{
	dspytest.ChatReply("queries", `["moon gravity tides", "sun effect on tides", "earth rotation tides"]`),
	dspytest.ChatReply(
		"reasoning", "The findings agree: gravity from the Moon and the Sun, with Earth's rotation, makes the tides.",
		"report", "Tides are caused mainly by the Moon's gravity, which pulls the ocean into a bulge; the Sun adds a weaker pull. As Earth rotates, each coast passes through two bulges a day, so most places see two high tides daily."),
}

// pace is the offline LM's delay between streamed chunks; tests set it to 0.
var pace = 12 * time.Millisecond

// offlineLM answers with script, streamed four bytes at a time at a human
// pace, so the example runs without a model.
func offlineLM() *dspytest.ScriptedLM {
	m := dspytest.Repeat(script...)
	m.ChunkSize = 4
	m.ChunkDelay = pace
	m.Latency = 10 * pace
	return m
}

// pickLM returns the LM the environment names (DSPY_LM, or a provider's API
// key such as OPENAI_API_KEY), else offline.
func pickLM(log io.Writer, offline lm.LM) (lm.LM, error) {
	model, err := dspy.LMFromEnv()
	if errors.Is(err, dspy.ErrNoLMInEnv) {
		fmt.Fprintln(log, "(offline demo LM: set OPENAI_API_KEY, or DSPY_LM=ollama_chat/llama3.2, to use a real model)")
		return offline, nil
	}
	if err != nil {
		return nil, err
	}
	name, _ := dspy.LMNameFromEnv()
	fmt.Fprintf(log, "(using %s)\n", name)
	return model, nil
}
