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

const want = `Without a path: streaming: field is not unique in the program: Signature field answer is not unique in the program, cannot automatically determine which predictor to use for streaming. Please specify the predictor to listen to (one of: draft, refine.predict)
predictor: draft
predictor: refine.predict
To get to the other side of the dinner table!
[from refine.predict]
Prediction(
    reasoning='The draft is plain; a pun is better.',
    answer='To get to the other side of the dinner table!'
)
`
