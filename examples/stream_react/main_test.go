package main

import (
	"bytes"
	"context"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Thoughts stream at every iteration, the answer from the extract step, and
// the default status messages come for fetch_weather but not for finish.
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

const want = `I should look up the current weather in Paris.  <- react.next_thought
[Calling tool fetch_weather...]
[Tool calling finished! Querying the LLM with tool calling results...]
I have the weather; I can answer now.  <- react.next_thought
It is sunny in Paris, 22°C: a good day for a walk.  <- extract.predict.answer
Answer: It is sunny in Paris, 22°C: a good day for a walk. (2 steps)
`
