//go:build !bench_only || bench_dspygo

package main

import (
	"context"
	"fmt"

	"github.com/XiaoConstantine/dspy-go/pkg/core"
	"github.com/XiaoConstantine/dspy-go/pkg/llms"
	"github.com/XiaoConstantine/dspy-go/pkg/modules"
)

func init() {
	register(contender{
		name: "dspy-go",
		note: "github.com/XiaoConstantine/dspy-go v0.86.1: modules.NewPredict(core.NewSignature(question -> answer)).Process (WithStreamHandler to stream: raw chunks, no field listener); llms.NewOpenAILLM with WithOpenAIBaseURL. Its WithHTTPClient option is stored but never used, so it runs on its own transport (at most 100 connections per host)",
		setup: func(url string) (client, error) {
			llm, err := llms.NewOpenAILLM("bench-model", llms.WithOpenAIBaseURL(url[:len(url)-len("/v1")]), llms.WithAPIKey("sk-bench"))
			if err != nil {
				return nil, err
			}
			// core.ShorthandNotation leaves the fields without the prefix
			// its parser needs, so the signature is built as its README does.
			sig := core.NewSignature(
				[]core.InputField{{Field: core.NewField("question")}},
				[]core.OutputField{{Field: core.NewField("answer")}},
			)
			p := modules.NewPredict(sig)
			p.SetLLM(llm)
			return &dspyGo{p: p}, nil
		},
	})
}

type dspyGo struct{ p *modules.Predict }

func answerOf(out map[string]any) (string, error) {
	s, ok := out["answer"].(string)
	if !ok {
		return "", fmt.Errorf("no answer in %v", out)
	}
	return s, nil
}

func (d *dspyGo) call(ctx context.Context, q string) (string, error) {
	out, err := d.p.Process(ctx, map[string]any{"question": q})
	if err != nil {
		return "", err
	}
	return answerOf(out)
}

func (d *dspyGo) stream(ctx context.Context, q string, chunk func(string)) (string, error) {
	out, err := d.p.Process(ctx, map[string]any{"question": q}, core.WithStreamHandler(func(c core.StreamChunk) error {
		if c.Content != "" {
			chunk(c.Content)
		}
		return nil
	}))
	if err != nil {
		return "", err
	}
	return answerOf(out)
}
