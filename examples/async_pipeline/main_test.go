package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/godspy/dspy/dspytest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The example prints what the guide's Python version prints, offline.
func TestOutput(t *testing.T) {
	pace = 0
	var out bytes.Buffer
	if err := run(context.Background(), &out, offlineLM()); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != want {
		t.Errorf("output:\n%s\nwant:\n%s", got, want)
	}
}

const want = `Summary: DSPy lets you program language models with composable modules instead of hand-written prompts.
`

// The same program, unchanged, over HTTP: the LM the environment names
// (openai/gpt-4o-mini) against an OpenAI-compatible test server that gives
// the same answers.
func TestOverHTTP(t *testing.T) {
	var answers []dspytest.Answer
	for _, text := range script {
		answers = append(answers, dspytest.Answer{Text: text})
	}
	srv := dspytest.NewServer(dspytest.WithAnswers(answers...))
	t.Cleanup(srv.Close)
	t.Setenv("DSPY_LM", "openai/gpt-4o-mini")
	t.Setenv("OPENAI_API_KEY", "sk-test")
	t.Setenv("OPENAI_BASE_URL", srv.URL())

	var log, out bytes.Buffer
	model, err := pickLM(&log, offlineLM())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := log.String(), "(using openai/gpt-4o-mini)\n"; got != want {
		t.Errorf("pickLM said %q, want %q", got, want)
	}
	if err := run(context.Background(), &out, model); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != want {
		t.Errorf("output over HTTP:\n%s\nwant:\n%s", got, want)
	}
	if n := len(srv.Requests()); n != len(script) {
		t.Errorf("server got %d requests, want %d", n, len(script))
	}
}
