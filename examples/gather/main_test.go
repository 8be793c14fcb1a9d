package main

import (
	"bytes"
	"context"
	"io"
	"strings"
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
	srv := demo.ServeOpenAI(t, dspytest.WithResponder(func(req *dspytest.ChatRequest) dspytest.Answer {
		last := req.Messages[len(req.Messages)-1].Content
		for q, a := range answers {
			if strings.Contains(last, q) {
				return dspytest.Answer{Text: dspytest.ChatReply("answer", a)}
			}
		}
		return dspytest.Answer{Text: dspytest.ChatReply("answer", "?")}
	}))
	var out bytes.Buffer
	if err := run(context.Background(), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != want {
		t.Errorf("output over HTTP:\n%s\nwant:\n%s", got, want)
	}
	if n := len(srv.Requests()); n != 3 {
		t.Errorf("server got %d requests, want 3", n)
	}
}
