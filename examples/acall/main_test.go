package main

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/godspy/dspy/dspytest"
	"github.com/godspy/dspy/examples/internal/demo"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The example prints what the guide's Python version prints, offline.
func TestOutput(t *testing.T) {
	demo.Offline(t)
	ctx := context.Background()
	var out bytes.Buffer
	if err := run(ctx, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	if got != want {
		t.Errorf("output:\n%s\nwant:\n%s", got, want)
	}
}

const want = `Prediction(
    answer='To get to the other side of the dinner table!'
)
`

// The same program, unchanged, over HTTP: dspy.NewLM("openai/...") against
// an OpenAI-compatible test server that gives the same answers.
func TestOverHTTP(t *testing.T) {
	var answers []dspytest.Answer
	for _, text := range script {
		answers = append(answers, dspytest.Answer{Text: text})
	}
	srv := demo.ServeOpenAI(t, dspytest.WithAnswers(answers...))
	var out bytes.Buffer
	if err := run(context.Background(), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != want {
		t.Errorf("output over HTTP:\n%s\nwant:\n%s", got, want)
	}
	if n := len(srv.Requests()); n != len(script) {
		t.Errorf("server got %d requests, want %d", n, len(script))
	}
}
