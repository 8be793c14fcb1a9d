package dspy

import "github.com/godspy/dspy/lm"

// Adapter turns a signature, demos and inputs into an LM request, and the LM's
// reply back into output values. ChatAdapter is the default.
//
// Implementations must be safe for concurrent use; the built-in ones are
// stateless values.
type Adapter interface {
	// Format builds the request messages and may set request options such
	// as ResponseFormat. req arrives with the caller's options filled in.
	Format(sig *Signature, demos []Example, in Inputs, req *lm.Request) error
	// Parse extracts the output fields from the LM's text, coerced to the
	// field types. Failure is a *ParseError.
	Parse(sig *Signature, text string) (map[string]any, error)
}

// StreamingAdapter is an Adapter that can also parse a reply while it
// streams, so listeners receive field values token by token. An adapter
// without this method cannot be used with field listeners.
type StreamingAdapter interface {
	Adapter
	// NewFieldParser returns a fresh parser for one LM reply of sig.
	NewFieldParser(sig *Signature) FieldParser
}

// FieldParser splits a streamed reply into per-field text. It is used by one
// goroutine for one reply.
//
// The guarantee a parser gives, for every way the reply is cut into pieces:
// for each output-field occurrence, the Text of its FieldChunks concatenates
// to exactly the value Parse returns for that field (for strings; the JSON
// text for other values of the JSON adapter), exactly one chunk has Last set
// and it is the final one, and no marker text (headers, tags, JSON syntax)
// appears in any chunk. Text is held back only while it could still be the
// start of an end marker (or trailing whitespace that Parse trims).
type FieldParser interface {
	// Write consumes the next piece of reply text and calls emit for every
	// field chunk that became certain.
	Write(text string, emit func(FieldChunk))
	// Close ends the reply: it flushes held text and marks the last chunk of
	// an open field, even when its end marker never came.
	Close(emit func(FieldChunk))
}

// FieldChunk is a piece of one output field's value.
type FieldChunk struct {
	Field string
	Text  string
	// Last marks the final chunk of this occurrence of the field.
	Last bool
}

// FallbackAdapter is implemented by adapters that, when a reply does not
// parse, want the call retried once with another adapter (ChatAdapter falls
// back to JSONAdapter, as in DSPy).
type FallbackAdapter interface {
	Fallback() Adapter
}
