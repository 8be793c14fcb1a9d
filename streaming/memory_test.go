package streaming

import (
	"context"
	"testing"

	"github.com/godspy/dspy"
)

// A run starts without an events channel: an inline run (a Predict) hands
// its events to yield and never uses one, and 10,000 streams waiting on
// their provider would each hold 64 empty slots (about 1 KB). Stream
// makes it only for a program on a goroutine of its own; the tests of
// such programs check that path.
func TestRunHoldsNoChannelUntilNeeded(t *testing.T) {
	p := MustStreamify(dspy.NewPredict("question -> answer"), WithListeners(NewListener("answer")))
	r := p.newRun(context.Background(), false)
	if r.events != nil {
		t.Errorf("newRun made an events channel of %d slots; an inline run needs none", cap(r.events))
	}
}
