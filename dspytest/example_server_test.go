package dspytest_test

import (
	"context"
	"fmt"

	"github.com/godspy/dspy/dspytest"
	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/lm/openai"
)

// A Server stands in for an OpenAI-compatible API: point a client at URL().
func ExampleNewServer() {
	srv := dspytest.NewServer(dspytest.WithAnswers(dspytest.Answer{Text: "Paris is the capital."}))
	defer srv.Close()

	client := openai.New("gpt-4o-mini", openai.WithBaseURL(srv.URL()))
	req := &lm.Request{Messages: []lm.Message{{Role: lm.RoleUser, Content: "Capital of France?"}}}
	var pieces []string
	for chunk, err := range client.Stream(context.Background(), req) {
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		if chunk.Text != "" {
			pieces = append(pieces, chunk.Text)
		}
		if chunk.FinishReason != "" {
			fmt.Printf("%q finish=%s\n", pieces, chunk.FinishReason)
		}
	}
	fmt.Println(srv.Requests()[0].Body.Messages[0].Content)
	// Output:
	// ["Paris" " is" " the" " capital."] finish=stop
	// Capital of France?
}

// Faults are queued like answers: here a 429 the client retries past.
func ExampleFault() {
	srv := dspytest.NewServer(dspytest.WithAnswers(
		dspytest.Answer{Fault: dspytest.FaultRateLimit},
		dspytest.Answer{Text: "ok"},
	))
	defer srv.Close()

	client := openai.New("m", openai.WithBaseURL(srv.URL()))
	resp, err := client.Generate(context.Background(), &lm.Request{Messages: []lm.Message{{Role: lm.RoleUser, Content: "hi"}}})
	fmt.Println(resp.Text(), err, len(srv.Requests()))
	// Output: ok <nil> 2
}
