//go:build !bench_only || bench_eino

package main

import (
	"context"
	"errors"
	"io"
	"strings"

	"github.com/cloudwego/eino-ext/components/model/openai"
	"github.com/cloudwego/eino/schema"
)

func init() {
	register(contender{
		name: "eino",
		note: "github.com/cloudwego/eino v0.7.36 + eino-ext/components/model/openai v0.1.7: ChatModel Generate / Stream, shared HTTP client, with the hand-written prompt and parse: raw chunks",
		setup: func(url string) (client, error) {
			m, err := openai.NewChatModel(context.Background(), &openai.ChatModelConfig{BaseURL: url, APIKey: "sk-bench", Model: "bench-model", HTTPClient: sharedHTTPClient()})
			if err != nil {
				return nil, err
			}
			return &eino{m: m}, nil
		},
	})
}

type eino struct{ m *openai.ChatModel }

func (e *eino) msgs(q string) []*schema.Message {
	return []*schema.Message{schema.SystemMessage(chatSystem), schema.UserMessage(chatUser(q))}
}

func (e *eino) call(ctx context.Context, q string) (string, error) {
	m, err := e.m.Generate(ctx, e.msgs(q))
	if err != nil {
		return "", err
	}
	return parseAnswer(m.Content)
}

func (e *eino) stream(ctx context.Context, q string, chunk func(string)) (string, error) {
	sr, err := e.m.Stream(ctx, e.msgs(q))
	if err != nil {
		return "", err
	}
	defer sr.Close()
	var all strings.Builder
	for {
		m, err := sr.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", err
		}
		if m.Content != "" {
			all.WriteString(m.Content)
			chunk(m.Content)
		}
	}
	return parseAnswer(all.String())
}
