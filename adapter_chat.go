package dspy

import (
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/godspy/dspy/internal/fieldstream"
	"github.com/godspy/dspy/lm"
)

// ChatLayout selects the byte-level layout of ChatAdapter's prompt; DSPy
// changed it between releases.
type ChatLayout int

const (
	// LayoutDefault is the layout of DSPy 2.6, which the recorded DSPy
	// exchanges in testdata pin: the system message's parts are joined by
	// single newlines, and the user message's reminder names the
	// `[[ ## field ## ]]` markers with type notes such as "(must be
	// formatted as a valid Python int)". Demo turns carry no reminder.
	LayoutDefault ChatLayout = iota
	// LayoutDSPy25 is the layout of DSPy 2.5: blank lines between every
	// part of the system message, a reminder with plain field names, and
	// the reminder repeated in every demo's user turn.
	LayoutDSPy25
	// LayoutDSPy3 is the layout of DSPy 3 (3.0 to 3.3.1): LayoutDefault,
	// except that every line of the field lists ends in ": " and the
	// description, even when there is none ("1. `question` (str): "), the
	// last line of each list being stripped. JSONAdapter and XMLAdapter
	// always use DSPy 3's field lines.
	LayoutDSPy3
)

// ChatAdapter is DSPy's default adapter. The prompt declares the fields,
// shows the structure with `[[ ## name ## ]]` markers and states the
// objective; the LM answers with one marked section per output field,
// ending with `[[ ## completed ## ]]`. The zero value is ready to use.
//
// Input values are written as DSPy writes them: strings as they are, other
// scalars as Python prints them (True, None, 2.0 for a float field), a list
// given for a str field as a numbered list of «items», and containers as
// JSON (Go maps with sorted keys).
//
// Parsed values of all built-in adapters have these Go types: str and
// Literal → string; int → int; float → float64; bool → bool; list[T] →
// []any and dict[K, V] → map[string]any with elements coerced to T or V;
// Any → whatever the JSON decoder yields (numbers as float64). List and dict
// text is read as JSON, or failing that as a Python literal (single quotes,
// True/False/None, tuples), which is parsed, never evaluated.
type ChatAdapter struct {
	// Layout selects the prompt layout; the zero value is DSPy 2.6's.
	Layout ChatLayout
}

var _ FallbackAdapter = ChatAdapter{}

// Fallback returns JSONAdapter{}: a reply that does not parse is retried
// once in JSON mode, as DSPy does.
func (ChatAdapter) Fallback() Adapter { return JSONAdapter{} }

// Format builds the system message, one user/assistant pair per demo, and
// the final user message with the inputs. Inputs missing from in are left
// out, as DSPy does; checking for them is the caller's job.
func (a ChatAdapter) Format(sig *Signature, demos []Example, in Inputs, req *lm.Request) error {
	if err := checkFormatArgs("ChatAdapter", sig, req); err != nil {
		return err
	}
	p := a.parts(sig)
	m := messages{adapter: "ChatAdapter", system: p.system, reminder: p.reminder, section: chatSection, assistant: chatAssistant}
	if a.Layout == LayoutDSPy25 {
		m.assistant = chatAssistant25
	}
	if a.Layout == LayoutDSPy25 {
		m.demoReminder, m.placeholders = p.reminder, true // current DSPy repeats no reminder in demos
	}
	return m.format(sig, demos, in, req)
}

// parts returns the signature-dependent prompt parts, cached.
func (a ChatAdapter) parts(sig *Signature) promptParts {
	kind := promptChat
	switch a.Layout {
	case LayoutDSPy25:
		kind = promptChat25
	case LayoutDSPy3:
		kind = promptChat3
	}
	return cachedPrompt(sig, kind, func(s *Signature) promptParts {
		var b strings.Builder
		a.writeReminder(&b, s)
		return promptParts{system: a.system(s), reminder: b.String()}
	})
}

// system builds the system message.
func (a ChatAdapter) system(sig *Signature) string {
	sep := "\n"
	if a.Layout == LayoutDSPy25 {
		sep = "\n\n"
	}
	var b strings.Builder
	b.Grow(systemSizeHint(sig))
	writeFieldDescriptions(&b, sig, sep, a.Layout == LayoutDSPy3)
	b.WriteString(sep)
	b.WriteString(structureIntro)
	b.WriteString("\n\n")
	for _, f := range sig.inputs {
		writeHeader(&b, f.Name)
		b.WriteString("\n{")
		b.WriteString(f.Name)
		b.WriteString("}\n\n")
	}
	for _, f := range sig.outputs {
		writeHeader(&b, f.Name)
		b.WriteByte('\n')
		writeTypeNote(&b, f)
		b.WriteString("\n\n")
	}
	b.WriteString("[[ ## completed ## ]]")
	b.WriteString(sep)
	writeObjective(&b, sig.Instructions())
	return b.String()
}

// systemSizeHint estimates the system message's length, so it is built with
// one allocation in the common case.
func systemSizeHint(sig *Signature) int {
	n := 420 + len(sig.instructions)
	for _, f := range sig.inputs {
		n += 40 + 3*len(f.Name) + len(f.Desc)
	}
	for _, f := range sig.outputs {
		n += 40 + 3*len(f.Name) + len(f.Desc)
		if f.Type.kind != KindStr {
			n += 120
		}
	}
	if sig.instructions == "" {
		n += 40 + 4*len(sig.inputs) + 4*len(sig.outputs)
	}
	return n
}

func writeHeader(b *strings.Builder, name string) {
	b.WriteString("[[ ## ")
	b.WriteString(name)
	b.WriteString(" ## ]]")
}

// chatSection writes a `[[ ## name ## ]]` section.
func chatSection(b *strings.Builder, f Field, v any) error {
	writeHeader(b, f.Name)
	b.WriteByte('\n')
	return writeValue(b, f, v)
}

// writeReminder writes the user message's closing instruction.
func (a ChatAdapter) writeReminder(b *strings.Builder, sig *Signature) {
	b.WriteString("Respond with the corresponding output fields, starting with the field ")
	for i, f := range sig.outputs {
		if i > 0 {
			b.WriteString(", then ")
		}
		b.WriteByte('`')
		if a.Layout == LayoutDSPy25 {
			b.WriteString(f.Name)
		} else {
			writeHeader(b, f.Name)
		}
		b.WriteByte('`')
		writeTypeInfo(b, f)
	}
	if a.Layout == LayoutDSPy25 {
		b.WriteString(", and then ending with the marker for `completed`.")
	} else {
		b.WriteString(", and then ending with the marker for `[[ ## completed ## ]]`.")
	}
}

// chatAssistant builds a demo's assistant turn in current DSPy's layout,
// chatAssistant25 in DSPy 2.5's (no newline after the completed marker).
// They are functions, not a method value: one bound to the adapter would
// be allocated on every Format.
func chatAssistant(sig *Signature, vals map[string]any, missing any) (string, error) {
	s, err := chatAssistant25(sig, vals, missing)
	if err != nil {
		return "", err
	}
	return s + "\n", nil
}

func chatAssistant25(sig *Signature, vals map[string]any, missing any) (string, error) {
	s, err := outputSections(sig, vals, missing, chatSection)
	if err != nil {
		return "", err
	}
	return s + "\n\n[[ ## completed ## ]]", nil
}

// Parse splits text into `[[ ## name ## ]]` sections and returns the output
// fields, coerced to their types. The rules, which the streaming parser
// follows too:
//
//   - the text is split on "\n"; a line whose trimmed form starts with
//     `[[ ## NAME ## ]]` (NAME: letters, digits, _) starts a section, and
//     the rest of that trimmed line, trimmed, is the section's first line;
//   - other lines belong to the current section; a section's value is its
//     lines joined by "\n" and trimmed;
//   - the first section of each output field wins; text before the first
//     header and sections of other names (such as `completed`) are ignored.
//
// A missing field or a value that does not fit the field's type is a
// *ParseError whose Raw holds the whole text.
func (ChatAdapter) Parse(sig *Signature, text string) (map[string]any, error) {
	if sig == nil {
		return nil, errors.New("dspy: ChatAdapter.Parse: nil signature")
	}
	outs := sig.outputs
	var stackVals [8]string
	var stackFound [8]bool
	vals, found := stackVals[:0], stackFound[:0]
	if len(outs) <= len(stackVals) {
		vals, found = stackVals[:len(outs)], stackFound[:len(outs)]
	} else {
		vals, found = make([]string, len(outs)), make([]bool, len(outs))
	}

	cur := -1         // index of the open output section, -1 for none
	var first string  // the open section's text from its header line
	contentStart := 0 // where the open section's following lines start
	closeSection := func(end int) {
		if cur < 0 || found[cur] {
			return
		}
		if first == "" {
			vals[cur] = strings.TrimSpace(text[contentStart:end])
		} else if body := strings.TrimRightFunc(text[contentStart:end], unicode.IsSpace); body == "" {
			vals[cur] = first
		} else {
			vals[cur] = first + "\n" + body
		}
		found[cur] = true
	}
	for lineStart := 0; lineStart <= len(text); {
		lineEnd := strings.IndexByte(text[lineStart:], '\n')
		next := len(text) + 1
		if lineEnd < 0 {
			lineEnd = len(text)
		} else {
			lineEnd += lineStart
			next = lineEnd + 1
		}
		if name, rest, ok := sectionHeader(text[lineStart:lineEnd]); ok {
			closeSection(lineStart)
			cur = -1
			for i, f := range outs {
				if f.Name == name && !found[i] {
					cur = i
					break
				}
			}
			first = rest
			contentStart = min(next, len(text))
		}
		lineStart = next
	}
	closeSection(len(text))

	for i, ok := range found {
		if !ok {
			return nil, missingFieldsError("ChatAdapter", outs, found, outs[i].Name, text)
		}
	}
	res := make(map[string]any, len(outs))
	for i, f := range outs {
		if f.Type.kind == KindStr {
			res[f.Name] = vals[i]
			continue
		}
		v, err := coerceText(f.Type, vals[i])
		if err != nil {
			return nil, &ParseError{Adapter: "ChatAdapter", Field: f.Name, Raw: text, Err: err}
		}
		res[f.Name] = v
	}
	return res, nil
}

// sectionHeader reports whether line, trimmed, starts with a
// `[[ ## NAME ## ]]` header, and returns NAME and the trimmed rest.
func sectionHeader(line string) (name, rest string, ok bool) {
	const open, close = "[[ ## ", " ## ]]"
	// Cheap rejection before trimming: a header line holds "[[ ## ".
	if len(line) < len(open)+1+len(close) || !strings.Contains(line, open) {
		return "", "", false
	}
	t := strings.TrimSpace(line)
	if !strings.HasPrefix(t, open) {
		return "", "", false
	}
	i := len(open)
	for i < len(t) {
		if c := t[i]; c < utf8.RuneSelf {
			if c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') {
				i++
				continue
			}
			break
		}
		r, size := utf8.DecodeRuneInString(t[i:])
		if !unicode.IsLetter(r) && !unicode.IsNumber(r) {
			break
		}
		i += size
	}
	if i == len(open) || !strings.HasPrefix(t[i:], close) {
		return "", "", false
	}
	return t[len(open):i], strings.TrimSpace(t[i+len(close):]), true
}

// missingFieldsError builds DSPy's message for output fields the reply
// lacks; field is the first missing one.
func missingFieldsError(adapter string, outs []Field, found []bool, field, text string) error {
	var b strings.Builder
	b.WriteString("Expected to find output fields in the LM response: [")
	for i, f := range outs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(f.Name)
	}
	b.WriteString("] Actual output fields parsed from the LM response: [")
	n := 0
	for i, f := range outs {
		if found[i] {
			if n > 0 {
				b.WriteString(", ")
			}
			b.WriteString(f.Name)
			n++
		}
	}
	b.WriteString("]")
	return &ParseError{Adapter: adapter, Field: field, Raw: text, Err: errors.New(b.String())}
}

// NewFieldParser returns a parser that streams sig's output fields from a
// reply in ChatAdapter's format, as ChatAdapter.Parse reads it: a value is
// the trimmed text of the field's first `[[ ## name ## ]]` section, and a
// header counts only at the start of a line.
func (ChatAdapter) NewFieldParser(sig *Signature) FieldParser {
	return newFieldParser(fieldstream.NewChat(streamedFields(sig)))
}
