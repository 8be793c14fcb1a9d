package main

import (
	"bytes"
	"context"
	"testing"

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

const want = `To get to the other side of the recipe!
[predict1.answer done]
The answer is a pun on the classic joke, and it is funny.
[predict2.judgement done]
Final output: Prediction(
    judgement='The answer is a pun on the classic joke, and it is funny.'
)
`
