package main

import (
	"bytes"
	"context"
	"io"
	"testing"

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

const want = `To get to the other side of the dinner table!
Prediction(
    answer='To get to the other side of the dinner table!'
)
`
