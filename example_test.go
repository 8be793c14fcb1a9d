package dspy_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/dspytest"
	"github.com/godspy/dspy/lm"
)

// The basic call: a signature, a module, an LM in the settings.
func ExamplePredict() {
	// An in-process LM stands in for a real one (dspy.NewLM("openai/gpt-4o-mini")).
	model := dspytest.Repeat(dspytest.ChatReply("answer", "Paris"))
	ctx := dspy.WithSettings(context.Background(), dspy.WithLM(model))

	predict := dspy.NewPredict("question -> answer")
	pred, err := predict.Call(ctx, dspy.Inputs{"question": "What is the capital of France?"})
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	fmt.Println(pred.Get("answer"))
	// Output: Paris
}

// Start several calls at once and await them in order: DSPy's
// asyncio.gather over acall.
func ExampleGather() {
	model := dspytest.NewScriptedLMFunc(func(req *lm.Request) (dspytest.Reply, error) {
		q := req.Messages[len(req.Messages)-1].Content
		answer := "Paris"
		switch {
		case strings.Contains(q, "2+2"):
			answer = "4"
		case strings.Contains(q, "Romeo"):
			answer = "William Shakespeare"
		}
		return dspytest.Reply{Text: dspytest.ChatReply("answer", answer)}, nil
	})
	ctx := dspy.WithSettings(context.Background(), dspy.WithLM(model))
	predict := dspy.NewPredict("question -> answer")

	questions := []string{"What is the capital of France?", "What is 2+2?", "Who wrote Romeo and Juliet?"}
	var futs []*dspy.Future[*dspy.Prediction]
	for _, q := range questions {
		futs = append(futs, predict.ACall(ctx, dspy.Inputs{"question": q}))
	}
	preds, err := dspy.Gather(ctx, futs...)
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	for i, p := range preds {
		fmt.Printf("%s -> %s\n", questions[i], p.Get("answer"))
	}
	// Output:
	// What is the capital of France? -> Paris
	// What is 2+2? -> 4
	// Who wrote Romeo and Juliet? -> William Shakespeare
}

// AsyncPipeline is a custom module: analyze, then summarize the analysis.
// Its Forward serves both blocking and asynchronous callers.
type AsyncPipeline struct {
	Analyze   *dspy.Predict
	Summarize *dspy.ChainOfThought
}

func NewAsyncPipeline() *AsyncPipeline {
	return &AsyncPipeline{
		Analyze:   dspy.NewPredict("text -> analysis"),
		Summarize: dspy.NewChainOfThought("analysis -> summary"),
	}
}

func (p *AsyncPipeline) Forward(ctx context.Context, in dspy.Inputs) (*dspy.Prediction, error) {
	analysis, err := p.Analyze.Call(ctx, dspy.Inputs{"text": in["text"]})
	if err != nil {
		return nil, err
	}
	return p.Summarize.Call(ctx, dspy.Inputs{"analysis": analysis.Get("analysis")})
}

// A custom module composes built-ins and is called like them.
func Example_customModule() {
	model := dspytest.NewScriptedLM(
		dspytest.ChatReply("analysis", "The text praises Go's concurrency model."),
		dspytest.ChatReply("reasoning", "It is positive about goroutines.", "summary", "Go makes concurrency easy."),
	)
	ctx := dspy.WithSettings(context.Background(), dspy.WithLM(model))

	pipeline := NewAsyncPipeline()
	pred, err := dspy.ACall(ctx, pipeline, dspy.Inputs{"text": "Goroutines and channels are a joy."}).Await(ctx)
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	fmt.Println(pred.Get("summary"))
	for _, np := range dspy.NamedPredictors(pipeline) {
		fmt.Println(np.Path)
	}
	// Output:
	// Go makes concurrency easy.
	// analyze
	// summarize.predict
}

// Batch runs many inputs with bounded concurrency; results come back in
// input order.
func ExampleBatch() {
	model := dspytest.NewScriptedLMFunc(func(req *lm.Request) (dspytest.Reply, error) {
		// The user message holds "[[ ## word ## ]]\nIII\n..."; count the I's.
		_, rest, _ := strings.Cut(req.Messages[len(req.Messages)-1].Content, "[[ ## word ## ]]\n")
		word, _, _ := strings.Cut(rest, "\n")
		return dspytest.Reply{Text: dspytest.ChatReply("count", fmt.Sprint(strings.Count(word, "I")))}, nil
	})
	ctx := dspy.WithSettings(context.Background(), dspy.WithLM(model))
	count := dspy.NewPredict("word -> count: int")

	words := []dspy.Inputs{{"word": "I"}, {"word": "II"}, {"word": "III"}}
	results, err := dspy.Batch(ctx, count, words, dspy.BatchOptions{Concurrency: 2})
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	for _, r := range results {
		n, _ := r.Prediction.Int("count")
		fmt.Println(n)
	}
	// Output:
	// 1
	// 2
	// 3
}
