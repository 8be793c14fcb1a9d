//go:build !bench_only || bench_langchaingo

package main

import (
	"context"
	"errors"

	"github.com/tmc/langchaingo/llms"
	"github.com/tmc/langchaingo/llms/openai"
)

func init() {
	register(contender{
		name: "langchaingo",
		note: "github.com/tmc/langchaingo v0.1.14: llms/openai GenerateContent (WithStreamingFunc to stream), shared HTTP client, with the hand-written prompt and parse: raw chunks",
		setup: func(url string) (client, error) {
			m, err := openai.New(openai.WithBaseURL(url), openai.WithToken("sk-bench"), openai.WithModel("bench-model"), openai.WithHTTPClient(sharedHTTPClient()))
			if err != nil {
				return nil, err
			}
			return &langchain{m: m}, nil
		},
	})
}

type langchain struct{ m *openai.LLM }

func (l *langchain) msgs(q string) []llms.MessageContent {
	return []llms.MessageContent{
		llms.TextParts(llms.ChatMessageTypeSystem, chatSystem),
		llms.TextParts(llms.ChatMessageTypeHuman, chatUser(q)),
	}
}

func (l *langchain) call(ctx context.Context, q string) (string, error) {
	resp, err := l.m.GenerateContent(ctx, l.msgs(q))
	if err != nil {
		return "", err
	}
	if len(resp.Choices) == 0 {
		return "", errors.New("no choices")
	}
	return parseAnswer(resp.Choices[0].Content)
}

func (l *langchain) stream(ctx context.Context, q string, chunk func(string)) (string, error) {
	resp, err := l.m.GenerateContent(ctx, l.msgs(q), llms.WithStreamingFunc(func(_ context.Context, b []byte) error {
		chunk(string(b))
		return nil
	}))
	if err != nil {
		return "", err
	}
	if len(resp.Choices) == 0 {
		return "", errors.New("no choices")
	}
	return parseAnswer(resp.Choices[0].Content)
}
