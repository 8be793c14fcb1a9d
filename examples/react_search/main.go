// Command react_search is the Go twin of the DSPy guide's ReAct agent with
// an async search tool. The search tool takes ctx and waits on a simulated
// network round trip, so cancelling the agent stops a search in flight.
// The index is in memory and the LM's side is scripted, so the example runs
// offline.
// With OPENAI_API_KEY (or DSPY_LM=provider/model) set, the agent runs on
// a real model instead.
//
//	go run ./examples/react_search
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
)

func main() {
	model, err := pickLM(os.Stderr, offlineLM())
	if err == nil {
		err = run(context.Background(), os.Stdout, model)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

// corpus is the search engine's index.
var corpus = []string{
	"Pride and Prejudice is an 1813 novel of manners by Jane Austen.",
	"Jane Austen (1775–1817) was an English novelist known for six major novels.",
	"Sense and Sensibility, published in 1811, was Jane Austen's first novel.",
	"The Eiffel Tower was completed in 1889 for the Exposition Universelle.",
}

type searchArgs struct {
	Query string `json:"query" desc:"keywords to search for"`
	K     int    `json:"k,omitempty" desc:"how many results (default 2)"`
}

// searchWeb is an async tool: it honours ctx while it waits.
func searchWeb(latency time.Duration) func(context.Context, searchArgs) ([]string, error) {
	return func(ctx context.Context, a searchArgs) ([]string, error) {
		t := time.NewTimer(latency)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		k := a.K
		if k <= 0 {
			k = 2
		}
		var hits []string
		words := strings.Fields(strings.ToLower(a.Query))
		for _, doc := range corpus {
			d := strings.ToLower(doc)
			for _, w := range words {
				if len(w) > 3 && strings.Contains(d, w) {
					hits = append(hits, doc)
					break
				}
			}
			if len(hits) == k {
				break
			}
		}
		return hits, nil
	}
}

func run(ctx context.Context, w io.Writer, model lm.LM) error {
	ctx = dspy.WithSettings(ctx, dspy.WithLM(model))
	search := dspy.NewTool("search_web", "Search the web for information.", searchWeb(50*time.Millisecond))
	agent := dspy.NewReAct("question -> answer", []*dspy.Tool{search}, dspy.WithMaxIters(5))

	pred, err := agent.ACall(ctx, dspy.Inputs{"question": "Who wrote Pride and Prejudice, and in what year was it published?"}).Await(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(w, pred.String("answer"))
	return nil
}

// offlineLM plays the LM's side of the agent's conversation, so the
// example runs without a model.
func offlineLM() *dspytest.ScriptedLM {
	return dspytest.NewScriptedLM(
		dspytest.ChatReply("next_thought", "I should search for the novel.",
			"next_tool_name", "search_web", "next_tool_args", `{"query": "Pride and Prejudice novel"}`),
		dspytest.ChatReply("next_thought", "The first result names the author and the year.",
			"next_tool_name", "finish", "next_tool_args", "{}"),
		dspytest.ChatReply("reasoning", "The search result says Pride and Prejudice is an 1813 novel by Jane Austen.",
			"answer", "Jane Austen wrote Pride and Prejudice; it was published in 1813."),
	)
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
