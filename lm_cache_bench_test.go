package dspy

import (
	"context"
	"testing"

	"github.com/godspy/dspy/dspytest"
	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/lm/cache"
)

// BenchmarkPredictCache compares Predict.Call answered by a ScriptedLM
// with the same call answered by a memory cache hit in front of it (the
// shape of BenchmarkPredict: 2 inputs -> 2 outputs, ChatAdapter).
func BenchmarkPredictCache(b *testing.B) {
	scripted := dspytest.Repeat(dspytest.ChatReply("answer", "Paris is the capital of France.", "confidence", "0.93")).DontRecord()
	for _, tt := range []struct {
		name  string
		model lm.LM
	}{
		{"scripted", scripted},
		{"memory-hit", cache.Wrap(scripted, cache.NewMemory(1000, 0))},
	} {
		b.Run(tt.name, func(b *testing.B) {
			ctx := WithSettings(context.Background(), WithLM(tt.model))
			p := NewPredict("context, question -> answer, confidence: float")
			in := Inputs{"context": "France is a country in Europe.", "question": "What is the capital of France?"}
			if _, err := p.Call(ctx, in); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.Call(ctx, in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
