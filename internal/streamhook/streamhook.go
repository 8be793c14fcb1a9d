// Package streamhook carries a running stream from package streaming to the
// predictors of package dspy, through the context. It is plumbing between
// those two packages, not an API: users stream with package streaming.
//
// The types are generic so that this package, which package dspy imports,
// need not import dspy: dspy instantiates them with its own types
// (P = *dspy.Predict, S = *dspy.Signature, A = dspy.Adapter) and package
// streaming implements Sink for that instantiation.
package streamhook

import (
	"context"

	"github.com/godspy/dspy/lm"
)

// Sink receives the LM output of a program run while it is being streamed.
type Sink[P, S, A any] interface {
	// Open is called before an LM call of predictor p. It returns nil when
	// nothing listens to p; the predictor then calls the LM without
	// streaming. Otherwise the predictor streams the reply and hands every
	// chunk to the returned Chunks. callID identifies this call of p: two
	// concurrent calls of one predictor get different ids.
	Open(ctx context.Context, p P, callID uint64, sig S, a A) (Chunks, error)
}

// Chunks receives one LM reply's chunks, in order, from one goroutine.
type Chunks interface {
	// Chunk handles the next chunk. A non-nil error (the consumer has gone)
	// stops the LM stream; the predictor's call then fails with that error.
	Chunk(c lm.Chunk) error
	// Close is called once when the reply has ended, with the error that
	// ended it, if any.
	Close(err error)
}

type key struct{}

// With returns a context in which predictors report their LM output to s.
func With[P, S, A any](ctx context.Context, s Sink[P, S, A]) context.Context {
	return context.WithValue(ctx, key{}, s)
}

// From returns the sink installed in ctx, or nil.
func From[P, S, A any](ctx context.Context) Sink[P, S, A] {
	s, _ := ctx.Value(key{}).(Sink[P, S, A])
	return s
}
