package dspy

import (
	"context"

	"github.com/godspy/dspy/lm"
)

// StreamSink receives the LM output of a program run while it is being
// streamed. Package streaming installs one in the context (WithStreamSink);
// Predict consults it before each LM call. Users of package streaming never
// implement it.
type StreamSink interface {
	// Open is called before an LM call of predictor p. It returns nil when
	// nothing listens to p; Predict then calls the LM without streaming.
	// Otherwise Predict streams the reply and hands every chunk to the
	// returned ChunkSink. call identifies this Predict call: two concurrent
	// calls of one predictor get different IDs.
	Open(ctx context.Context, p *Predict, call CallInfo, sig *Signature, a Adapter) (ChunkSink, error)
}

// ChunkSink receives one LM reply's chunks, in order, from one goroutine.
type ChunkSink interface {
	// Chunk handles the next chunk. A non-nil error (the consumer has gone)
	// stops the LM stream; the Predict call then fails with that error.
	Chunk(c lm.Chunk) error
	// Close is called once when the reply has ended, with the error that
	// ended it, if any.
	Close(err error)
}

// WithStreamSink returns a context in which Predict calls report their LM
// output to s. Package streaming uses it.
func WithStreamSink(ctx context.Context, s StreamSink) context.Context {
	return WithSettings(ctx, optionFunc(func(o *overlay) { o.stream = s }))
}
