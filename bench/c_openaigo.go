//go:build !bench_only || bench_openaigo

package main

import (
	"context"
	"errors"
	"strings"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

func init() {
	register(contender{
		name: "openai-go",
		note: "github.com/openai/openai-go/v3 v3.98.0: Chat.Completions.New / NewStreaming, shared HTTP client, with the hand-written prompt and parse: raw chunks",
		setup: func(url string) (client, error) {
			c := openai.NewClient(option.WithBaseURL(url), option.WithAPIKey("sk-bench"), option.WithHTTPClient(sharedHTTPClient()))
			return &openaiGo{c: c}, nil
		},
	})
}

type openaiGo struct{ c openai.Client }

func (o *openaiGo) params(q string) openai.ChatCompletionNewParams {
	return openai.ChatCompletionNewParams{
		Model:    "bench-model",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage(chatSystem), openai.UserMessage(chatUser(q))},
	}
}

func (o *openaiGo) call(ctx context.Context, q string) (string, error) {
	resp, err := o.c.Chat.Completions.New(ctx, o.params(q))
	if err != nil {
		return "", err
	}
	if len(resp.Choices) == 0 {
		return "", errors.New("no choices")
	}
	return parseAnswer(resp.Choices[0].Message.Content)
}

func (o *openaiGo) stream(ctx context.Context, q string, chunk func(string)) (string, error) {
	s := o.c.Chat.Completions.NewStreaming(ctx, o.params(q))
	defer s.Close()
	var all strings.Builder
	for s.Next() {
		c := s.Current()
		if len(c.Choices) > 0 && c.Choices[0].Delta.Content != "" {
			all.WriteString(c.Choices[0].Delta.Content)
			chunk(c.Choices[0].Delta.Content)
		}
	}
	if err := s.Err(); err != nil {
		return "", err
	}
	return parseAnswer(all.String())
}
