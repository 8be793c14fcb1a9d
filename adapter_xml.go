package dspy

import (
	"errors"
	"strings"

	"github.com/godspy/dspy/internal/fieldstream"
	"github.com/godspy/dspy/lm"
)

// XMLAdapter wraps every field in XML-style tags, `<name>…</name>`, as DSPy's
// XMLAdapter does. The zero value is ready to use.
type XMLAdapter struct{}

var _ FallbackAdapter = XMLAdapter{}

// Fallback returns JSONAdapter{}: DSPy's XMLAdapter inherits ChatAdapter's
// retry in JSON mode.
func (XMLAdapter) Fallback() Adapter { return JSONAdapter{} }

// Format builds the system message, demo pairs and the final user message.
func (a XMLAdapter) Format(sig *Signature, demos []Example, in Inputs, req *lm.Request) error {
	if err := checkFormatArgs("XMLAdapter", sig, req); err != nil {
		return err
	}
	p := cachedPrompt(sig, promptXML, func(s *Signature) promptParts {
		return promptParts{system: a.system(s), reminder: a.reminder(s)}
	})
	m := messages{adapter: "XMLAdapter", system: p.system, reminder: p.reminder, section: xmlSection, assistant: xmlAssistant}
	return m.format(sig, demos, in, req)
}

func writeTag(b *strings.Builder, name string, closing bool) {
	b.WriteByte('<')
	if closing {
		b.WriteByte('/')
	}
	b.WriteString(name)
	b.WriteByte('>')
}

func (XMLAdapter) system(sig *Signature) string {
	var b strings.Builder
	b.Grow(systemSizeHint(sig))
	writeFieldDescriptions(&b, sig, "\n")
	b.WriteByte('\n')
	b.WriteString(structureIntro)
	for _, f := range sig.inputs {
		b.WriteString("\n\n")
		writeTag(&b, f.Name, false)
		b.WriteString("\n{")
		b.WriteString(f.Name)
		b.WriteString("}\n")
		writeTag(&b, f.Name, true)
	}
	for _, f := range sig.outputs {
		b.WriteString("\n\n")
		writeTag(&b, f.Name, false)
		b.WriteByte('\n')
		writeTypeNote(&b, f)
		b.WriteByte('\n')
		writeTag(&b, f.Name, true)
	}
	b.WriteByte('\n')
	writeObjective(&b, sig.Instructions())
	return b.String()
}

// reminder is the user message's closing instruction, "" without outputs.
func (XMLAdapter) reminder(sig *Signature) string {
	if len(sig.outputs) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("Respond with the corresponding output fields wrapped in XML tags ")
	for i, f := range sig.outputs {
		if i > 0 {
			b.WriteString(", then ")
		}
		b.WriteByte('`')
		writeTag(&b, f.Name, false)
		b.WriteByte('`')
	}
	b.WriteByte('.')
	return b.String()
}

// xmlSection writes a `<name>…</name>` section.
func xmlSection(b *strings.Builder, f Field, v any) error {
	writeTag(b, f.Name, false)
	b.WriteByte('\n')
	if err := writeValue(b, f, v); err != nil {
		return err
	}
	b.WriteByte('\n')
	writeTag(b, f.Name, true)
	return nil
}

// xmlAssistant builds a demo's assistant turn.
func xmlAssistant(sig *Signature, vals map[string]any) (string, error) {
	return outputSections(sig, vals, xmlSection)
}

// Parse extracts `<name>…</name>` values. The rules, which the streaming
// parser follows too: the text is scanned left to right; at `<NAME>`, where
// NAME is an output field not found yet, the value runs to the next
// `</NAME>` and is trimmed, and scanning resumes after that closing tag; with
// no closing tag the value is the trimmed rest of the text. Other text and
// tags are ignored. A missing field or a value that does not fit the field's
// type is a *ParseError whose Raw holds the whole text.
func (XMLAdapter) Parse(sig *Signature, text string) (map[string]any, error) {
	if sig == nil {
		return nil, errors.New("dspy: XMLAdapter.Parse: nil signature")
	}
	outs := sig.outputs
	vals := make([]string, len(outs))
	found := make([]bool, len(outs))
	for i := 0; i < len(text); {
		j := strings.IndexByte(text[i:], '<')
		if j < 0 {
			break
		}
		i += j + 1
		k := -1
		for n, f := range outs {
			if !found[n] && strings.HasPrefix(text[i:], f.Name) && strings.HasPrefix(text[i+len(f.Name):], ">") {
				k = n
				break
			}
		}
		if k < 0 {
			continue
		}
		name := outs[k].Name
		start := i + len(name) + 1
		end := strings.Index(text[start:], "</"+name+">")
		found[k] = true
		if end < 0 {
			vals[k] = strings.TrimSpace(text[start:])
			break
		}
		vals[k] = strings.TrimSpace(text[start : start+end])
		i = start + end + len(name) + 3
	}
	for i, ok := range found {
		if !ok {
			return nil, missingFieldsError("XMLAdapter", outs, found, outs[i].Name, text)
		}
	}
	res := make(map[string]any, len(outs))
	for i, f := range outs {
		v, err := coerceText(f.Type, vals[i])
		if err != nil {
			return nil, &ParseError{Adapter: "XMLAdapter", Field: f.Name, Raw: text, Err: err}
		}
		res[f.Name] = v
	}
	return res, nil
}

// NewFieldParser returns a parser that streams sig's output fields from a
// reply in XMLAdapter's format: the trimmed text between a field's first
// <name> and the next </name>, or the reply's end.
func (XMLAdapter) NewFieldParser(sig *Signature) FieldParser {
	return newFieldParser(fieldstream.NewXML(streamedFields(sig)))
}
