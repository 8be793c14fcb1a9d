package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/godspy/dspy/dspytest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The example prints what the guide's Python version prints, offline.
func TestOutput(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), &out, offlineLM()); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != want {
		t.Errorf("output:\n%s\nwant:\n%s", got, want)
	}
}

const want = `Q: What is the capital of France?
A: Paris

Q: What is 2+2?
A: 4

Q: Who wrote Romeo and Juliet?
A: William Shakespeare
`

// The same program, unchanged, over HTTP: the test server answers each
// question by what it asks, as the offline LM does.
func TestOverHTTP(t *testing.T) {
	srv := dspytest.NewServer(dspytest.WithResponder(func(req *dspytest.ChatRequest) dspytest.Answer {
		last := req.Messages[len(req.Messages)-1].Content
		for q, a := range answers {
			if strings.Contains(last, q) {
				return dspytest.Answer{Text: dspytest.ChatReply("answer", a)}
			}
		}
		return dspytest.Answer{Text: dspytest.ChatReply("answer", "?")}
	}))
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
	if n := len(srv.Requests()); n != 3 {
		t.Errorf("server got %d requests, want 3", n)
	}
}
