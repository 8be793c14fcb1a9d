package dspy

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNoLM is returned when a module runs with no LM configured anywhere.
var ErrNoLM = errors.New("dspy: no LM configured: call dspy.Configure(dspy.WithLM(m)), use dspy.WithSettings(ctx, dspy.WithLM(m)), or give the module its own with dspy.WithLM")

// InputError reports inputs that do not match the signature: a missing
// field, a field the signature does not have, or a value of the wrong type.
// Its message names the field and, for a wrong type, the type wanted and
// what came, in JSON's terms (never a Go type name), so it can be shown to
// a client as it is.
type InputError struct {
	Signature *Signature
	Field     string
	// Missing is set when the field is an input that was not given.
	Missing bool
	// Want and Got are set when the value has the wrong type: the field's
	// type as DSPy writes it ("int", "list[str]") and a description of the
	// value given ("a string: \"ten\"", "an array", "null").
	Want, Got string
}

func (e *InputError) Error() string {
	switch {
	case e.Missing:
		return fmt.Sprintf("dspy: missing input field %q for signature %q", e.Field, e.Signature.String())
	case e.Want != "":
		return fmt.Sprintf("dspy: input field %q must be %s, got %s (signature %q)", e.Field, e.Want, e.Got, e.Signature.String())
	}
	var names []string
	for _, f := range e.Signature.inputs {
		names = append(names, f.Name)
	}
	return fmt.Sprintf("dspy: unknown input field %q for signature %q (inputs are: %s)", e.Field, e.Signature.String(), strings.Join(names, ", "))
}

// ParseError reports LM output that could not be parsed into the
// signature's fields. Raw is the LM's full text, so the caller can log or
// show it.
type ParseError struct {
	Adapter string // "ChatAdapter", "JSONAdapter", "XMLAdapter"
	Field   string // the field that failed, "" when the structure itself did
	Raw     string
	Err     error
}

func (e *ParseError) Error() string {
	raw := e.Raw
	if len(raw) > 200 {
		raw = raw[:200] + "…"
	}
	if e.Field != "" {
		return fmt.Sprintf("dspy: %s could not parse field %q: %v; LM response: %q", e.Adapter, e.Field, e.Err, raw)
	}
	return fmt.Sprintf("dspy: %s could not parse the LM response: %v; LM response: %q", e.Adapter, e.Err, raw)
}

func (e *ParseError) Unwrap() error { return e.Err }

// PanicError is a panic recovered on a goroutine that godspy started (a
// Future's, a Batch item's, a stream's run, a ReAct agent's parallel tool
// calls): the panic becomes this error, delivered where the result would
// have been (Future.Await and Gather, the item's BatchResult.Err, the
// stream's last element), so it never takes the process down from a
// goroutine the caller does not own. A panic is a bug, not a failure the
// program can recover from: ReAct does not turn it into an observation.
type PanicError struct {
	// Value is what was passed to panic.
	Value any
	// Stack is the panicking goroutine's stack trace (runtime/debug.Stack).
	Stack []byte
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("dspy: panic: %v", e.Value)
}

// Unwrap returns the panic value when it is an error (a runtime.Error, or a
// value passed to panic), so errors.Is and errors.As see it.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}
