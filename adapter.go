package dspy

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/godspy/dspy/internal/fieldstream"
	"github.com/godspy/dspy/lm"
)

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
// text for other values of the JSON adapter, the element's content as text
// for those of the XML adapter), exactly one chunk has Last set
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

// messages is what one adapter's Format shares with the others: a system
// message, then one user/assistant pair per demo (DSPy's order: incomplete
// demos first), then the user message with the inputs and the reminder.
// The adapters differ in how a field's section is written and how a demo's
// outputs become an assistant turn.
type messages struct {
	adapter  string // "ChatAdapter", for errors
	system   string
	reminder string // closes the final user message
	// demoReminder closes each demo's user message ("" for current DSPy).
	demoReminder string
	// placeholders writes a partial demo's absent inputs as DSPy 2.5 did
	// ("Not supplied for this particular example."); otherwise they are
	// left out.
	placeholders bool
	section      func(b *strings.Builder, f Field, v any) error
	// assistant writes a turn's outputs; a missing one is written as
	// missing (notSupplied in a demo, None in a history turn).
	assistant func(sig *Signature, vals map[string]any, missing any) (string, error)
}

// format builds req.Messages. A History input (the first input of that
// type) is written as DSPy's format_conversation_history does: one
// user/assistant pair per earlier turn, after the demos, formatted for the
// signature without the history field, which the current user message
// leaves out too.
func (m *messages) format(sig *Signature, demos []Example, in Inputs, req *lm.Request) error {
	msgs := make([]lm.Message, 0, 2+2*len(demos))
	msgs = append(msgs, lm.Message{Role: lm.RoleSystem, Content: m.system})
	incomplete, complete := splitDemos(sig, demos)
	for i, group := range [][]Example{incomplete, complete} {
		partial := i == 0
		for _, d := range group {
			u, err := m.user(sig, d, partial, m.demoReminder)
			if err != nil {
				return fmt.Errorf("dspy: %s: demo: %w", m.adapter, err)
			}
			as, err := m.assistant(sig, d, notSupplied)
			if err != nil {
				return fmt.Errorf("dspy: %s: demo: %w", m.adapter, err)
			}
			msgs = append(msgs, lm.Message{Role: lm.RoleUser, Content: u}, lm.Message{Role: lm.RoleAssistant, Content: as})
		}
	}
	cur := sig
	if k := historyField(sig); k >= 0 {
		cur = &Signature{instructions: sig.instructions, inputs: slices.Delete(slices.Clone(sig.inputs), k, k+1), outputs: sig.outputs}
		if v, ok := in[sig.inputs[k].Name]; ok {
			h, err := historyOf(v)
			if err != nil {
				return fmt.Errorf("dspy: %s: input field %q: %w", m.adapter, sig.inputs[k].Name, err)
			}
			for n, turn := range h.Messages {
				u, err := m.user(cur, turn, false, "")
				if err != nil {
					return fmt.Errorf("dspy: %s: history message %d: %w", m.adapter, n, err)
				}
				if u != "" {
					msgs = append(msgs, lm.Message{Role: lm.RoleUser, Content: u})
				}
				as, err := m.assistant(cur, turn, nil)
				if err != nil {
					return fmt.Errorf("dspy: %s: history message %d: %w", m.adapter, n, err)
				}
				msgs = append(msgs, lm.Message{Role: lm.RoleAssistant, Content: as})
			}
		}
	}
	u, err := m.user(cur, in, false, m.reminder)
	if err != nil {
		return fmt.Errorf("dspy: %s: %w", m.adapter, err)
	}
	if u != "" {
		msgs = append(msgs, lm.Message{Role: lm.RoleUser, Content: u})
	}
	req.Messages = msgs
	return nil
}

// historyField is the index of sig's first History input, or -1.
func historyField(sig *Signature) int {
	for i, f := range sig.inputs {
		if f.Type.kind == KindHistory {
			return i
		}
	}
	return -1
}

// checkFormatArgs is the nil check every adapter's Format starts with.
func checkFormatArgs(adapter string, sig *Signature, req *lm.Request) error {
	if sig == nil {
		return errors.New("dspy: " + adapter + ".Format: nil signature")
	}
	if req == nil {
		return errors.New("dspy: " + adapter + ".Format: nil request")
	}
	return nil
}

// user builds a user turn: the incomplete-demo prefix, a section per input
// present in vals, and the reminder unless it is "". DSPy strips the joined
// message.
func (m *messages) user(sig *Signature, vals map[string]any, partial bool, reminder string) (string, error) {
	var b strings.Builder
	n := len(reminder) + 4
	if partial {
		n += 90
	}
	for _, f := range sig.inputs {
		n += 16 + 2*len(f.Name)
		if s, ok := vals[f.Name].(string); ok {
			n += len(s)
		} else {
			n += 64
		}
	}
	b.Grow(n)
	if partial {
		b.WriteString("This is an example of the task, though some input or output fields are not supplied.\n\n")
	}
	first := true
	for _, f := range sig.inputs {
		v, ok := vals[f.Name]
		if !ok {
			if !(partial && m.placeholders) {
				continue
			}
			v = notSupplied
		}
		if !first {
			b.WriteString("\n\n")
		}
		first = false
		if err := m.section(&b, f, v); err != nil {
			return "", fmt.Errorf("input field %q: %w", f.Name, err)
		}
	}
	if reminder != "" {
		if !first {
			b.WriteString("\n\n")
		}
		b.WriteString(reminder)
	}
	return strings.TrimSpace(b.String()), nil
}

// notSupplied stands for a demo's missing value, as in DSPy.
const notSupplied = "Not supplied for this particular example. "

// outputSections writes a turn's outputs, one section each (missing for a
// missing one), joined by blank lines and trimmed.
func outputSections(sig *Signature, vals map[string]any, missing any, section func(*strings.Builder, Field, any) error) (string, error) {
	var b strings.Builder
	for i, f := range sig.outputs {
		if i > 0 {
			b.WriteString("\n\n")
		}
		v, ok := vals[f.Name]
		if !ok {
			v = missing
		}
		if err := section(&b, f, v); err != nil {
			return "", fmt.Errorf("output field %q: %w", f.Name, err)
		}
	}
	return strings.TrimSpace(b.String()), nil
}

// splitDemos sorts demos as DSPy does: complete ones (every field present),
// and incomplete ones with at least one input and one output, which go
// first. Others are dropped.
func splitDemos(sig *Signature, demos []Example) (incomplete, complete []Example) {
	for _, d := range demos {
		all := true
		has := func(fs []Field) bool {
			found := false
			for _, f := range fs {
				if _, ok := d[f.Name]; ok {
					found = true
				}
				if !present(d, f.Name) {
					all = false
				}
			}
			return found
		}
		anyIn, anyOut := has(sig.inputs), has(sig.outputs)
		switch {
		case all:
			complete = append(complete, d)
		case anyIn && anyOut:
			incomplete = append(incomplete, d)
		}
	}
	return incomplete, complete
}

func streamedFields(sig *Signature) []string {
	if sig == nil {
		return nil
	}
	names := make([]string, len(sig.outputs))
	for i, f := range sig.outputs {
		names[i] = f.Name
	}
	return names
}

// streamParser is what the parsers of package fieldstream have in common.
type streamParser interface {
	Write(text string, emit func(fieldstream.Chunk))
	Close(emit func(fieldstream.Chunk))
}

// fieldParser adapts a fieldstream parser to FieldParser. The converting
// callback is made once, not per Write: a closure handed through an
// interface call would be allocated on every call.
type fieldParser struct {
	p    streamParser
	emit func(FieldChunk)
	conv func(fieldstream.Chunk)
}

func newFieldParser(p streamParser) *fieldParser {
	f := &fieldParser{p: p}
	f.conv = func(c fieldstream.Chunk) { f.emit(FieldChunk(c)) }
	return f
}

func (f *fieldParser) Write(text string, emit func(FieldChunk)) {
	f.emit = emit
	f.p.Write(text, f.conv)
	f.emit = nil
}

func (f *fieldParser) Close(emit func(FieldChunk)) {
	f.emit = emit
	f.p.Close(f.conv)
	f.emit = nil
}

// The built-in adapters stream.
var (
	_ StreamingAdapter = ChatAdapter{}
	_ StreamingAdapter = JSONAdapter{}
	_ StreamingAdapter = XMLAdapter{}
)
