//go:build !bench_only || bench_godspy || bench_godspyotel

package main

import (
	"context"
	"errors"
	"strings"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/lm/openai"
	"github.com/godspy/dspy/streaming"
)

func init() {
	register(contender{
		name:        "godspy",
		note:        "dspy.NewPredict(\"question -> answer\", dspy.WithLM(model)).Call; streaming.Streamify with NewListener(\"answer\"); openai.New with its default HTTP client",
		fieldStream: true,
		setup: func(url string) (client, error) {
			model := openai.New("bench-model", openai.WithBaseURL(url), openai.WithAPIKey("sk-bench"))
			// The module's own LM: the usual setup for a service with one
			// model, and no per-call settings context to build.
			p := dspy.NewPredict("question -> answer", dspy.WithLM(model))
			prog, err := streaming.Streamify(p, streaming.WithListeners(streaming.NewListener("answer")))
			if err != nil {
				return nil, err
			}
			return &godspy{predict: p, prog: prog}, nil
		},
	})
	register(contender{
		name:        "godspy-events",
		note:        "godspy as above, streamified WithTraceEvents: LMStart and LMEnd events around the call (the consumer skips them), tool-call deltas watched per chunk",
		fieldStream: true,
		setup: func(url string) (client, error) {
			model := openai.New("bench-model", openai.WithBaseURL(url), openai.WithAPIKey("sk-bench"))
			p := dspy.NewPredict("question -> answer", dspy.WithLM(model))
			prog, err := streaming.Streamify(p, streaming.WithListeners(streaming.NewListener("answer")), streaming.WithTraceEvents())
			if err != nil {
				return nil, err
			}
			return &godspy{predict: p, prog: prog}, nil
		},
	})
	register(contender{
		name: "godspy-lm",
		note: "godspy's LM layer alone (lm/openai Client.Generate / Client.Stream) with the hand-written prompt and parse: raw chunks",
		setup: func(url string) (client, error) {
			return &godspyLM{model: openai.New("bench-model", openai.WithBaseURL(url), openai.WithAPIKey("sk-bench"))}, nil
		},
	})
}

type godspy struct {
	predict *dspy.Predict
	prog    *streaming.Program
}

func (g *godspy) call(ctx context.Context, q string) (string, error) {
	pred, err := g.predict.Call(ctx, dspy.Inputs{"question": q})
	if err != nil {
		return "", err
	}
	s, _ := pred.Get("answer").(string)
	return s, nil
}

func (g *godspy) stream(ctx context.Context, q string, chunk func(string)) (string, error) {
	var final *dspy.Prediction
	for ev, err := range g.prog.Stream(ctx, dspy.Inputs{"question": q}) {
		if err != nil {
			return "", err
		}
		switch e := ev.(type) {
		case *streaming.StreamResponse:
			chunk(e.Chunk)
		case *streaming.Final:
			final = e.Prediction
		}
	}
	if final == nil {
		return "", errors.New("no final prediction")
	}
	s, _ := final.Get("answer").(string)
	return s, nil
}

type godspyLM struct{ model *openai.Client }

func (g *godspyLM) req(q string) *lm.Request {
	return &lm.Request{Messages: []lm.Message{{Role: lm.RoleSystem, Content: chatSystem}, {Role: lm.RoleUser, Content: chatUser(q)}}}
}

func (g *godspyLM) call(ctx context.Context, q string) (string, error) {
	resp, err := g.model.Generate(ctx, g.req(q))
	if err != nil {
		return "", err
	}
	return parseAnswer(resp.Text())
}

func (g *godspyLM) stream(ctx context.Context, q string, chunk func(string)) (string, error) {
	var all strings.Builder
	for c, err := range g.model.Stream(ctx, g.req(q)) {
		if err != nil {
			return "", err
		}
		if c.Text != "" {
			all.WriteString(c.Text)
			chunk(c.Text)
		}
	}
	return parseAnswer(all.String())
}
