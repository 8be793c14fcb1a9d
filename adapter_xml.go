package dspy

import (
	"errors"
	"fmt"
	"strings"

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
	if sig == nil {
		return errors.New("dspy: XMLAdapter.Format: nil signature")
	}
	if req == nil {
		return errors.New("dspy: XMLAdapter.Format: nil request")
	}
	p := cachedPrompt(sig, promptXML, func(s *Signature) promptParts {
		return promptParts{system: a.system(s), reminder: a.reminder(s)}
	})
	msgs := make([]lm.Message, 0, 2+2*len(demos))
	msgs = append(msgs, lm.Message{Role: lm.RoleSystem, Content: p.system})
	incomplete, complete := splitDemos(sig, demos)
	for i, group := range [][]Example{incomplete, complete} {
		partial := i == 0
		for _, d := range group {
			u, err := a.user(sig, d, partial, "")
			if err != nil {
				return fmt.Errorf("dspy: XMLAdapter: demo: %w", err)
			}
			as, err := a.assistant(sig, d)
			if err != nil {
				return fmt.Errorf("dspy: XMLAdapter: demo: %w", err)
			}
			msgs = append(msgs, lm.Message{Role: lm.RoleUser, Content: u}, lm.Message{Role: lm.RoleAssistant, Content: as})
		}
	}
	u, err := a.user(sig, in, false, p.reminder)
	if err != nil {
		return fmt.Errorf("dspy: XMLAdapter: %w", err)
	}
	msgs = append(msgs, lm.Message{Role: lm.RoleUser, Content: u})
	req.Messages = msgs
	return nil
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

// user builds a user turn: the incomplete-demo prefix, the input tags, and
// the reminder unless it is "".
func (XMLAdapter) user(sig *Signature, vals map[string]any, partial bool, reminder string) (string, error) {
	var b strings.Builder
	if partial {
		b.WriteString("This is an example of the task, though some input or output fields are not supplied.\n\n")
	}
	first := true
	for _, f := range sig.inputs {
		v, ok := vals[f.Name]
		if !ok {
			continue
		}
		if !first {
			b.WriteString("\n\n")
		}
		first = false
		writeTag(&b, f.Name, false)
		b.WriteByte('\n')
		if err := writeValue(&b, f, v); err != nil {
			return "", fmt.Errorf("input field %q: %w", f.Name, err)
		}
		b.WriteByte('\n')
		writeTag(&b, f.Name, true)
	}
	if reminder != "" {
		if !first {
			b.WriteString("\n\n")
		}
		b.WriteString(reminder)
	}
	return strings.TrimSpace(b.String()), nil
}

func (XMLAdapter) assistant(sig *Signature, vals map[string]any) (string, error) {
	var b strings.Builder
	for i, f := range sig.outputs {
		if i > 0 {
			b.WriteString("\n\n")
		}
		writeTag(&b, f.Name, false)
		b.WriteByte('\n')
		v, ok := vals[f.Name]
		if !ok {
			v = "Not supplied for this particular example. "
		}
		if err := writeValue(&b, f, v); err != nil {
			return "", fmt.Errorf("output field %q: %w", f.Name, err)
		}
		b.WriteByte('\n')
		writeTag(&b, f.Name, true)
	}
	return strings.TrimSpace(b.String()), nil
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
