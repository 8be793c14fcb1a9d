package dspy

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/godspy/dspy/dspytest"
)

// BenchmarkPredict measures the framework's cost per call: Predict.Call on
// an in-process LM, 2 inputs -> 2 outputs, ChatAdapter format and parse.
func BenchmarkPredict(b *testing.B) {
	model := dspytest.Repeat(dspytest.ChatReply("answer", "Paris is the capital of France.", "confidence", "0.93")).DontRecord()
	ctx := WithSettings(context.Background(), WithLM(model))
	p := NewPredict("context, question -> answer, confidence: float")
	in := Inputs{"context": "France is a country in Europe.", "question": "What is the capital of France?"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Call(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGather1000 starts 1,000 ACalls on an LM with 10 ms latency and
// gathers them; the ideal wall time is one latency.
func BenchmarkGather1000(b *testing.B) {
	const latency = 10 * time.Millisecond
	model := dspytest.Repeat(dspytest.ChatReply("answer", "ok")).DontRecord()
	model.Latency = latency
	ctx := WithSettings(context.Background(), WithLM(model))
	p := NewPredict("question -> answer")
	ins := make([]Inputs, 1000)
	for i := range ins {
		ins[i] = Inputs{"question": fmt.Sprint("q", i)}
	}
	b.ReportAllocs()
	var total time.Duration
	for b.Loop() {
		start := time.Now()
		futs := make([]*Future[*Prediction], len(ins))
		for i, in := range ins {
			futs[i] = p.ACall(ctx, in)
		}
		if _, err := Gather(ctx, futs...); err != nil {
			b.Fatal(err)
		}
		total += time.Since(start)
	}
	b.ReportMetric(float64(total)/float64(b.N)/float64(latency), "x-ideal")
}
