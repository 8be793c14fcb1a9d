package dspy

import (
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"strings"

	"github.com/godspy/dspy/internal/fieldstream"
	"github.com/godspy/dspy/lm"
)

// JSONAdapter asks the LM for one JSON object holding the output fields, in
// signature order, and requests structured output: a strict JSON schema
// ("json_schema") when every output type can be expressed strictly, JSON
// mode ("json_object") when one is open-ended (dict or Any). The prompt is
// DSPy's JSONAdapter prompt. The zero value is ready to use.
type JSONAdapter struct{}

// jsonSchemaName is the schema name DSPy gives its structured-output model.
const jsonSchemaName = "DSPyProgramOutputs"

// Format builds the messages and sets req.ResponseFormat.
func (a JSONAdapter) Format(sig *Signature, demos []Example, in Inputs, req *lm.Request) error {
	if err := checkFormatArgs("JSONAdapter", sig, req); err != nil {
		return err
	}
	p := cachedPrompt(sig, promptJSON, func(s *Signature) promptParts {
		var b strings.Builder
		a.writeReminder(&b, s)
		return promptParts{system: a.system(s), reminder: b.String()}
	})
	// DSPy's JSONAdapter keeps ChatAdapter's user message.
	m := messages{adapter: "JSONAdapter", system: p.system, reminder: p.reminder, section: chatSection, assistant: jsonObjectText}
	if err := m.format(sig, demos, in, req); err != nil {
		return err
	}
	req.ResponseFormat = ResponseFormatFor(sig)
	return nil
}

// system builds DSPy JSONAdapter's system message.
func (JSONAdapter) system(sig *Signature) string {
	var b strings.Builder
	b.Grow(systemSizeHint(sig) + 100)
	writeFieldDescriptions(&b, sig, "\n", true)
	b.WriteByte('\n')
	b.WriteString(structureIntro)
	b.WriteString("\n\nInputs will have the following structure:\n\n")
	for i, f := range sig.inputs {
		if i > 0 {
			b.WriteString("\n\n")
		}
		writeHeader(&b, f.Name)
		b.WriteString("\n{")
		b.WriteString(f.Name)
		b.WriteByte('}')
	}
	b.WriteString("\n\nOutputs will be a JSON object with the following fields.\n\n{")
	for i, f := range sig.outputs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("\n  ")
		writePyQuote(&b, f.Name)
		b.WriteString(": ")
		writePyQuote(&b, typeNote(f))
	}
	b.WriteString("\n}\n")
	writeObjective(&b, sig.Instructions())
	return b.String()
}

func (JSONAdapter) writeReminder(b *strings.Builder, sig *Signature) {
	b.WriteString("Respond with a JSON object in the following order of fields: ")
	for i, f := range sig.outputs {
		if i > 0 {
			b.WriteString(", then ")
		}
		b.WriteByte('`')
		b.WriteString(f.Name)
		b.WriteByte('`')
		writeTypeInfo(b, f)
	}
	b.WriteByte('.')
}

// jsonObjectText writes a demo's outputs as json.dumps(indent=2) does, in
// signature order.
func jsonObjectText(sig *Signature, vals map[string]any, missing any) (string, error) {
	var b strings.Builder
	b.WriteByte('{')
	for i, f := range sig.outputs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("\n  ")
		writePyQuote(&b, f.Name)
		b.WriteString(": ")
		v, ok := vals[f.Name]
		if !ok {
			v = missing
		}
		if err := writeIndentedJSON(&b, v, "  "); err != nil {
			return "", fmt.Errorf("output field %q: %w", f.Name, err)
		}
	}
	b.WriteString("\n}")
	return b.String(), nil
}

// ResponseFormatFor returns the structured-output request for sig's outputs:
// a strict "json_schema" format (an object with every output required and
// no other properties, in signature order) when all output types can be
// expressed strictly, else "json_object".
func ResponseFormatFor(sig *Signature) *lm.ResponseFormat {
	props := []byte{'{'}
	required := make([]any, 0, len(sig.outputs))
	for i, f := range sig.outputs {
		s, ok := strictSchema(f.Type)
		if !ok {
			return &lm.ResponseFormat{Type: "json_object"}
		}
		if f.Desc != "" {
			s["description"] = f.Desc
		}
		k, _ := json.Marshal(f.Name)
		v, err := json.Marshal(s)
		if err != nil {
			return &lm.ResponseFormat{Type: "json_object"}
		}
		if i > 0 {
			props = append(props, ',')
		}
		props = append(append(append(props, k...), ':'), v...)
		required = append(required, f.Name)
	}
	props = append(props, '}')
	return &lm.ResponseFormat{
		Type: "json_schema",
		Name: jsonSchemaName,
		Schema: map[string]any{
			"type": "object",
			// Raw JSON keeps the properties in signature order; models
			// write fields in schema order, and reasoning must come first.
			"properties":           json.RawMessage(props),
			"required":             required,
			"additionalProperties": false,
		},
		Strict: true,
	}
}

// strictSchema is t's JSON schema for strict structured output, or false
// for open-ended types, which strict mode cannot express.
func strictSchema(t Type) (map[string]any, bool) {
	switch t.kind {
	case KindStr:
		return map[string]any{"type": "string"}, true
	case KindInt:
		return map[string]any{"type": "integer"}, true
	case KindFloat:
		return map[string]any{"type": "number"}, true
	case KindBool:
		return map[string]any{"type": "boolean"}, true
	case KindLiteral:
		vals := make([]any, len(t.values))
		for i, v := range t.values {
			vals[i] = v
		}
		return map[string]any{"type": "string", "enum": vals}, true
	case KindList:
		items, ok := strictSchema(t.elem())
		if !ok {
			return nil, false
		}
		return map[string]any{"type": "array", "items": items}, true
	}
	return nil, false
}

// Parse finds the JSON object in text (the whole text, a ``` or ```json
// fenced block, or the first object embedded in prose), decodes it and
// coerces each output field. For a key that appears twice, the first value
// wins. A missing field or a value that does not fit its type is a
// *ParseError whose Raw holds the whole text.
func (JSONAdapter) Parse(sig *Signature, text string) (map[string]any, error) {
	if sig == nil {
		return nil, errors.New("dspy: JSONAdapter.Parse: nil signature")
	}
	obj, ok := findJSONObject(text)
	if !ok {
		return nil, &ParseError{Adapter: "JSONAdapter", Raw: text, Err: errors.New("LM response cannot be serialized to a JSON object")}
	}
	outs := sig.outputs
	found := make([]bool, len(outs))
	for i, f := range outs {
		_, found[i] = obj.get(f.Name)
	}
	for i, ok := range found {
		if !ok {
			return nil, missingFieldsError("JSONAdapter", outs, found, outs[i].Name, text)
		}
	}
	res := make(map[string]any, len(outs))
	for _, f := range outs {
		m, _ := obj.get(f.Name)
		v, err := m.coerce(f.Type)
		if err != nil {
			return nil, &ParseError{Adapter: "JSONAdapter", Field: f.Name, Raw: text, Err: err}
		}
		res[f.Name] = v
	}
	return res, nil
}

// jsonMember is one top-level member of the reply object: its raw JSON text
// when it came from JSON, and its decoded value.
type jsonMember struct {
	key   string
	raw   string // "" when decoded from Python literal syntax
	value any
}

type jsonObject []jsonMember

func (o jsonObject) get(key string) (jsonMember, bool) {
	for _, m := range o {
		if m.key == key {
			return m, true
		}
	}
	return jsonMember{}, false
}

func (m jsonMember) coerce(t Type) (any, error) {
	if t.kind == KindStr {
		if s, ok := m.value.(string); ok {
			return s, nil
		}
		if m.raw != "" && m.value != nil {
			return strings.TrimSpace(m.raw), nil // as the LM wrote it
		}
	}
	return coerceTree(t, m.value)
}

// maxObjectStarts bounds how many '{' positions are tried in a reply, so a
// hostile reply cannot make parsing quadratic without limit.
const maxObjectStarts = 64

// findJSONObject locates and decodes the reply's object.
func findJSONObject(text string) (jsonObject, bool) {
	t := strings.TrimSpace(text)
	if o, ok := decodeObjectAt(t); ok {
		return o, true
	}
	// A fenced block: ```json\n{...}\n``` or ```\n{...}\n```.
	if i := strings.Index(t, "```"); i >= 0 {
		body := t[i+3:]
		if nl := strings.IndexByte(body, '\n'); nl >= 0 && !strings.ContainsAny(body[:nl], "{") {
			body = body[nl+1:]
		}
		if j := strings.Index(body, "```"); j >= 0 {
			body = body[:j]
		}
		if o, ok := decodeObjectAt(strings.TrimSpace(body)); ok {
			return o, true
		}
	}
	// Prose around the object: try each '{' in turn.
	for rest := range objectStarts(t) {
		if o, ok := decodeObjectAt(rest); ok {
			return o, true
		}
	}
	// Python dict syntax, as DSPy's repair step would accept.
	for rest := range objectStarts(t) {
		p := pyParser{src: rest}
		v, err := p.value(0)
		if err != nil {
			continue
		}
		if m, ok := v.(map[string]any); ok {
			o := make(jsonObject, 0, len(m))
			for k, val := range m {
				o = append(o, jsonMember{key: k, value: val})
			}
			return o, true
		}
	}
	return nil, false
}

// objectStarts yields t from each of its first maxObjectStarts '{' on.
func objectStarts(t string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for i, n := 0, 0; i < len(t) && n < maxObjectStarts; i, n = i+1, n+1 {
			j := strings.IndexByte(t[i:], '{')
			if j < 0 {
				return
			}
			i += j
			if !yield(t[i:]) {
				return
			}
		}
	}
}

// decodeObjectAt decodes the JSON object at the start of s (text may follow
// it), walking tokens so that a duplicated key keeps its first value.
func decodeObjectAt(s string) (jsonObject, bool) {
	if s == "" || s[0] != '{' {
		return nil, false
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil, false
	}
	var o jsonObject
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, false
		}
		key, ok := tok.(string)
		if !ok {
			return nil, false
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, false
		}
		if _, dup := o.get(key); dup {
			continue
		}
		var v any
		vd := json.NewDecoder(strings.NewReader(string(raw)))
		vd.UseNumber()
		if err := vd.Decode(&v); err != nil {
			return nil, false
		}
		o = append(o, jsonMember{key: key, raw: string(raw), value: v})
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, false
	}
	return o, true
}

// NewFieldParser returns a parser that streams sig's output fields from a
// reply in JSONAdapter's format. A string value streams its decoded text;
// any other value streams its JSON text, which decodes to the parsed value.
func (JSONAdapter) NewFieldParser(sig *Signature) FieldParser {
	return newFieldParser(fieldstream.NewJSON(streamedFields(sig)))
}
