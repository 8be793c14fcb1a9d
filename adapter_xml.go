package dspy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"

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

// nestedXML reports whether an output of type t is written and read as
// nested XML elements, as DSPy 3 does for list and dict annotations.
func nestedXML(t Type) bool { return t.kind == KindList || t.kind == KindDict }

// writeXMLSchema writes DSPy's nested structure of t: <tag><item>…</item></tag>
// for a list, <tag>...</tag> for anything else.
func writeXMLSchema(b *strings.Builder, tag string, t Type) {
	writeTag(b, tag, false)
	if t.kind == KindList {
		writeXMLSchema(b, "item", t.elem())
	} else {
		b.WriteString("...")
	}
	writeTag(b, tag, true)
}

func (XMLAdapter) system(sig *Signature) string {
	var b strings.Builder
	b.Grow(systemSizeHint(sig))
	writeFieldDescriptions(&b, sig, "\n", true)
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
		if nestedXML(f.Type) {
			writeXMLSchema(&b, f.Name, f.Type)
			continue
		}
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

// reminder is the user message's closing instruction, with the nested
// structure of list and dict outputs.
func (XMLAdapter) reminder(sig *Signature) string {
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
	first := true
	for _, f := range sig.outputs {
		if !nestedXML(f.Type) {
			continue
		}
		if first {
			b.WriteString(" Use this nested XML structure: ")
			first = false
		} else {
			b.WriteByte(' ')
		}
		writeXMLSchema(&b, f.Name, f.Type)
	}
	return b.String()
}

// xmlSection writes an input's `<name>…</name>` section.
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

// xmlOutputSection writes an output's section as DSPy 3 does: a list or
// dict value as nested elements, a str value with & and < escaped.
func xmlOutputSection(b *strings.Builder, f Field, v any) error {
	if nestedXML(f.Type) {
		if ok, err := writeNestedXML(b, f, v); ok || err != nil {
			return err
		}
	}
	if f.Type.kind != KindStr {
		return xmlSection(b, f, v)
	}
	var t strings.Builder
	if err := writeValue(&t, f, v); err != nil {
		return err
	}
	writeTag(b, f.Name, false)
	b.WriteByte('\n')
	b.WriteString(xmlTextEscaper.Replace(t.String()))
	b.WriteByte('\n')
	writeTag(b, f.Name, true)
	return nil
}

// xmlTextEscaper is DSPy's escaping of a str output (> stays as it is).
var xmlTextEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;")

// writeNestedXML writes a value that is a JSON array or object as DSPy's
// _value_to_xml does; ok is false for other values, which are written as
// text.
func writeNestedXML(b *strings.Builder, f Field, v any) (ok bool, err error) {
	if v == nil {
		return false, nil
	}
	if _, isStr := v.(string); isStr {
		return false, nil
	}
	raw, err := marshalNoHTML(v)
	if err != nil {
		return false, fmt.Errorf("dspy: cannot format value of type %T: %w", v, err)
	}
	if len(raw) == 0 || (raw[0] != '[' && raw[0] != '{') {
		return false, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	return true, xmlFromJSON(b, dec, f.Name, nil, f.Type)
}

// xmlFromJSON writes the next JSON value of dec as the element tag: a list
// as <item> children (<tag /> when empty), an object as one child per key
// (<entry key="…"> for a key that is no identifier), null as <tag />, and a
// scalar as Python's str() prints it, escaped. t types the value, for
// writing floats as Python does.
func xmlFromJSON(b *strings.Builder, dec *json.Decoder, tag string, key *string, t Type) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	open := func() {
		b.WriteByte('<')
		b.WriteString(tag)
		if key != nil {
			b.WriteString(" key=")
			b.WriteString(pyQuoteAttr(*key))
		}
	}
	switch x := tok.(type) {
	case json.Delim:
		var inner strings.Builder
		for dec.More() {
			if x == '[' {
				if err := xmlFromJSON(&inner, dec, "item", nil, t.elem()); err != nil {
					return err
				}
				continue
			}
			kt, err := dec.Token()
			if err != nil {
				return err
			}
			k, _ := kt.(string)
			if pyIdentifier(k) {
				err = xmlFromJSON(&inner, dec, k, nil, t.elem())
			} else {
				err = xmlFromJSON(&inner, dec, "entry", &k, t.elem())
			}
			if err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			return err
		}
		open()
		if x == '[' && inner.Len() == 0 {
			b.WriteString(" />")
			return nil
		}
		b.WriteByte('>')
		b.WriteString(inner.String())
	case nil:
		open()
		b.WriteString(" />")
		return nil
	default:
		open()
		b.WriteByte('>')
		var s string
		switch y := x.(type) {
		case string:
			s = y
		case bool:
			s = "False"
			if y {
				s = "True"
			}
		case json.Number:
			s = string(y)
			if t.kind == KindFloat {
				if fv, err := y.Float64(); err == nil {
					var fb strings.Builder
					writeFloat(&fb, fv, true)
					s = fb.String()
				}
			}
		}
		b.WriteString(xmlTextEscaper.Replace(s))
	}
	writeTag(b, tag, true)
	return nil
}

// pyIdentifier is DSPy's test for a dict key usable as a tag: the key with
// '-' and '.' after its first character read as '_' is a Python identifier.
func pyIdentifier(k string) bool {
	for i, r := range k {
		switch {
		case r == '_' || unicode.IsLetter(r):
		case i > 0 && (r == '-' || r == '.' || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Mc, r) || unicode.Is(unicode.Pc, r)):
		default:
			return false
		}
	}
	return k != ""
}

// pyQuoteAttr is Python's xml.sax.saxutils.quoteattr.
func pyQuoteAttr(s string) string {
	s = strings.NewReplacer("&", "&amp;", ">", "&gt;", "<", "&lt;", "\n", "&#10;", "\r", "&#13;", "\t", "&#9;").Replace(s)
	if strings.Contains(s, `"`) {
		if strings.Contains(s, "'") {
			return `"` + strings.ReplaceAll(s, `"`, "&quot;") + `"`
		}
		return "'" + s + "'"
	}
	return `"` + s + `"`
}

// xmlAssistant builds a demo's assistant turn.
func xmlAssistant(sig *Signature, vals map[string]any, missing any) (string, error) {
	return outputSections(sig, vals, missing, xmlOutputSection)
}

// Parse reads text as DSPy 3's XMLAdapter does: as the content of a root
// element, with a real XML parser, so references are decoded, CDATA is text
// and a nested element of a field's own name does not end it. A reply that
// is not well-formed XML is a *ParseError ("Failed to parse XML"). Each
// output is read from the first top-level element of its name (DSPy makes a
// list of repeated ones; godspy keeps the first, as its other adapters do):
// a str or Literal from its text, trimmed, with child elements written back
// into it (see package fieldstream); int, float and bool from its text; a
// list or dict from its child elements (<item> for list items, one element
// per key, <entry key="…"> for other keys) or, as DSPy still accepts, from
// JSON text. A missing field or a value that does not fit the field's type
// is a *ParseError whose Raw holds the whole text.
func (XMLAdapter) Parse(sig *Signature, text string) (map[string]any, error) {
	if sig == nil {
		return nil, errors.New("dspy: XMLAdapter.Parse: nil signature")
	}
	outs := sig.outputs
	names := streamedFields(sig)
	fields, err := fieldstream.ParseXML(text, names)
	if err != nil {
		return nil, &ParseError{Adapter: "XMLAdapter", Raw: text, Err: fmt.Errorf("%s: %w", "Failed to parse XML", err)} // DSPy's words
	}
	found := make([]bool, len(outs))
	for i := range outs {
		found[i] = fields[i].Found
	}
	for i, ok := range found {
		if !ok {
			return nil, missingFieldsError("XMLAdapter", outs, found, outs[i].Name, text)
		}
	}
	res := make(map[string]any, len(outs))
	for i, f := range outs {
		v, err := xmlFieldValue(f.Type, fields[i])
		if err != nil {
			return nil, &ParseError{Adapter: "XMLAdapter", Field: f.Name, Raw: text, Err: err}
		}
		res[f.Name] = v
	}
	return res, nil
}

// xmlFieldValue reads one field as DSPy's _elements_to_value and
// parse_value do for the field's type.
func xmlFieldValue(t Type, f fieldstream.XMLField) (any, error) {
	hasChildren := len(f.Elem.Children) > 0
	switch t.kind {
	case KindStr, KindLiteral:
		return coerceText(t, f.Value)
	case KindInt, KindFloat, KindBool:
		if hasChildren {
			return nil, fmt.Errorf("%s is not a valid %s: it has child elements", quoteShort(f.Value), t)
		}
		return coerceText(t, f.Value)
	}
	v := xmlElementsValue([]*fieldstream.Element{f.Elem}, t)
	if s, ok := v.(string); ok {
		return coerceText(t, s)
	}
	return coerceTree(t, v)
}

// xmlElementsValue is DSPy's _elements_to_value for godspy's types:
// elements are the elements read for one value (several for repeated
// keys), t its type.
func xmlElementsValue(els []*fieldstream.Element, t Type) any {
	el := els[0]
	if t.kind == KindList {
		if len(els) == 1 && len(el.Children) == 0 {
			if s := strings.TrimSpace(el.Text); s == "" {
				return []any{}
			} else if strings.HasPrefix(s, "[") {
				return s // JSON text, read by coerceText
			}
		}
		if len(els) == 1 {
			if items := groupChildren(el)["item"]; len(items) > 0 {
				els = items
			}
		}
		out := make([]any, len(els))
		for i, e := range els {
			out[i] = xmlElementsValue([]*fieldstream.Element{e}, t.elem())
		}
		return out
	}
	if (t.kind == KindStr || t.kind == KindLiteral) && len(el.Children) > 0 {
		var b strings.Builder
		b.WriteString(el.Text)
		for _, c := range el.Children {
			writeElement(&b, c)
		}
		return b.String()
	}
	if len(el.Children) == 0 {
		s := strings.TrimSpace(el.Text)
		if t.kind == KindDict && s == "" {
			return map[string]any{}
		}
		if len(els) == 1 {
			return s
		}
		out := make([]any, len(els))
		for i, e := range els {
			out[i] = strings.TrimSpace(e.Text)
		}
		return out
	}
	groups := groupChildren(el)
	out := make(map[string]any, len(groups))
	for k, g := range groups {
		ct := Any()
		if t.kind == KindDict {
			ct = t.elem()
		}
		out[k] = xmlElementsValue(g, ct)
	}
	return out
}

// groupChildren is DSPy's _group_children: children by tag, an <entry> by
// its key attribute.
func groupChildren(el *fieldstream.Element) map[string][]*fieldstream.Element {
	g := map[string][]*fieldstream.Element{}
	for _, c := range el.Children {
		k := c.Name
		if k == "entry" {
			for _, a := range c.Attrs {
				if a.Name == "key" {
					k = a.Value
				}
			}
		}
		g[k] = append(g[k], c)
	}
	return g
}

// writeElement writes e back as ElementTree's tostring does, tail included.
func writeElement(b *strings.Builder, e *fieldstream.Element) {
	b.WriteByte('<')
	b.WriteString(e.Name)
	for _, a := range e.Attrs {
		b.WriteString(" " + a.Name + `="`)
		b.WriteString(xmlAttrEscaper.Replace(a.Value))
		b.WriteByte('"')
	}
	if e.Text == "" && len(e.Children) == 0 {
		b.WriteString(" />")
	} else {
		b.WriteByte('>')
		b.WriteString(xmlCdataEscaper.Replace(e.Text))
		for _, c := range e.Children {
			writeElement(b, c)
		}
		writeTag(b, e.Name, true)
	}
	b.WriteString(xmlCdataEscaper.Replace(e.Tail))
}

var (
	xmlCdataEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")
	xmlAttrEscaper  = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "\r", "&#13;", "\n", "&#10;", "\t", "&#09;")
)

// NewFieldParser returns a parser that streams sig's output fields from a
// reply in XMLAdapter's format, as Parse reads them; for a field of any
// type the chunks are its element's content as text (for a str field, its
// value).
func (XMLAdapter) NewFieldParser(sig *Signature) FieldParser {
	return newFieldParser(fieldstream.NewXML(streamedFields(sig)))
}
