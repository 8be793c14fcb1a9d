package dspy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"weak"
)

// This file holds the prompt pieces the three built-in adapters share: field
// lists, type notes, the objective, and value formatting that mirrors DSPy's
// format_field_value (Python str() for scalars, json.dumps for containers).

// structureIntro opens DSPy's structure block.
const structureIntro = "All interactions will be structured in the following way, with the appropriate values filled in."

// objectivePrefix opens DSPy's task description; the trailing space is DSPy's.
const objectivePrefix = "In adhering to this structure, your objective is: "

// writeFieldList writes DSPy 2.x's numbered field list: "1. `question` (str)"
// with ": desc" when the field has a description, one field per line.
func writeFieldList(b *strings.Builder, fs []Field) { writeFields(b, fs, false) }

// writeFields writes the numbered field list; colon selects DSPy 3's
// layout, where every field is followed by ": " and its (possibly empty)
// description, and the joined list is stripped, so the last field of an
// undescribed list ends in ":".
func writeFields(b *strings.Builder, fs []Field, colon bool) {
	for i, f := range fs {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(strconv.Itoa(i + 1))
		b.WriteString(". `")
		b.WriteString(f.Name)
		b.WriteString("` (")
		writeTypeName(b, f.Type)
		b.WriteByte(')')
		desc := f.Desc
		if i == len(fs)-1 {
			desc = strings.TrimRightFunc(desc, unicode.IsSpace)
		}
		switch {
		case desc != "":
			b.WriteString(": ")
			b.WriteString(desc)
		case colon && i < len(fs)-1:
			b.WriteString(": ")
		case colon:
			b.WriteByte(':')
		}
	}
}

// writeTypeName writes t as DSPy prints annotations; str, the common case,
// skips Type.String's allocation.
func writeTypeName(b *strings.Builder, t Type) {
	if t.kind == KindStr {
		b.WriteString("str")
		return
	}
	b.WriteString(t.String())
}

// writeFieldDescriptions writes "Your input fields are:\n..." and the output
// list; sep separates the two lists ("\n" now, "\n\n" in DSPy 2.5), and
// colon selects DSPy 3's field lines (see writeFields).
func writeFieldDescriptions(b *strings.Builder, sig *Signature, sep string, colon bool) {
	b.WriteString("Your input fields are:\n")
	writeFields(b, sig.inputs, colon)
	b.WriteString(sep)
	b.WriteString("Your output fields are:\n")
	writeFields(b, sig.outputs, colon)
}

// writeTypeNote writes the placeholder "{name}" of an output field in the
// structure block, followed by DSPy's note on the expected value format for
// non-str types (translate_field_type).
func writeTypeNote(b *strings.Builder, f Field) {
	b.WriteByte('{')
	b.WriteString(f.Name)
	b.WriteByte('}')
	if f.Type.kind == KindStr {
		return
	}
	b.WriteString("        # note: the value you produce ")
	switch f.Type.kind {
	case KindBool:
		b.WriteString("must be True or False")
	case KindInt:
		b.WriteString("must be a single int value")
	case KindFloat:
		b.WriteString("must be a single float value")
	case KindLiteral:
		b.WriteString("must exactly match (no extra characters) one of: ")
		for i, v := range f.Type.values {
			if i > 0 {
				b.WriteString("; ")
			}
			b.WriteString(v)
		}
	default:
		b.WriteString("must adhere to the JSON schema: ")
		writeSchemaText(b, f.Type)
	}
}

// typeNote returns writeTypeNote's text.
func typeNote(f Field) string {
	var b strings.Builder
	writeTypeNote(&b, f)
	return b.String()
}

// writeSchemaText writes the JSON schema pydantic derives for t, with the
// "type" key first and the rest sorted (as DSPy reorders it), in Python's
// json.dumps style (", " and ": " separators).
func writeSchemaText(b *strings.Builder, t Type) {
	switch t.kind {
	case KindStr:
		b.WriteString(`{"type": "string"}`)
	case KindInt:
		b.WriteString(`{"type": "integer"}`)
	case KindFloat:
		b.WriteString(`{"type": "number"}`)
	case KindBool:
		b.WriteString(`{"type": "boolean"}`)
	case KindList:
		b.WriteString(`{"type": "array", "items": `)
		writeSchemaText(b, t.elem())
		b.WriteByte('}')
	case KindDict:
		b.WriteString(`{"type": "object", "additionalProperties": `)
		if e := t.elem(); e.kind == KindAny {
			b.WriteString("true")
		} else {
			writeSchemaText(b, e)
		}
		b.WriteByte('}')
	case KindLiteral:
		if len(t.values) == 1 {
			b.WriteString(`{"type": "string", "const": `)
			b.WriteString(pyQuote(t.values[0]))
			b.WriteByte('}')
			return
		}
		b.WriteString(`{"type": "string", "enum": [`)
		for i, v := range t.values {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(pyQuote(v))
		}
		b.WriteString("]}")
	default: // Any
		b.WriteString("{}")
	}
}

// writeTypeInfo writes the reminder's " (must be formatted as a valid Python
// T)" for non-str fields.
func writeTypeInfo(b *strings.Builder, f Field) {
	if f.Type.kind == KindStr {
		return
	}
	b.WriteString(" (must be formatted as a valid Python ")
	b.WriteString(f.Type.String())
	b.WriteByte(')')
}

// writeObjective writes DSPy's task description: the prefix, then each line
// of the dedented instructions on its own line indented by eight spaces.
func writeObjective(b *strings.Builder, instructions string) {
	b.WriteString(objectivePrefix)
	// Fast path: one line with no indentation to remove.
	if !strings.ContainsAny(instructions, "\r\n") && (instructions == "" || (instructions[0] != ' ' && instructions[0] != '\t')) {
		if instructions != "" {
			b.WriteString("\n        ")
			b.WriteString(instructions)
		}
		return
	}
	for _, line := range dedentLines(instructions) {
		b.WriteString("\n        ")
		b.WriteString(line)
	}
}

// dedentLines splits s into lines as Python's str.splitlines does for \n, \r
// and \r\n, after textwrap.dedent: whitespace-only lines become empty and the
// margin common to the other lines is removed.
func dedentLines(s string) []string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	s = strings.TrimSuffix(s, "\n") // splitlines drops the empty last line
	if s == "" {
		return nil
	}
	lines := strings.Split(s, "\n")
	margin, first := "", true
	for i, l := range lines {
		rest := strings.TrimLeft(l, " \t")
		if rest == "" {
			lines[i] = ""
			continue
		}
		ws := l[:len(l)-len(rest)]
		if first {
			margin, first = ws, false
			continue
		}
		for !strings.HasPrefix(ws, margin) {
			margin = margin[:len(margin)-1]
		}
	}
	if margin != "" {
		for i, l := range lines {
			lines[i] = strings.TrimPrefix(l, margin)
		}
	}
	return lines
}

// writeValue writes a field value as DSPy's format_field_value does: strings
// as they are, a list given for a str field as a numbered list of «blobs»,
// other scalars as Python's str() prints them, and containers as
// json.dumps(ensure_ascii=False) text. Go maps are written with sorted keys.
func writeValue(b *strings.Builder, f Field, v any) error {
	switch x := v.(type) {
	case string:
		b.WriteString(x)
		return nil
	case nil:
		b.WriteString("None")
		return nil
	case bool:
		if x {
			b.WriteString("True")
		} else {
			b.WriteString("False")
		}
		return nil
	case int:
		var buf [24]byte
		b.Write(strconv.AppendInt(buf[:0], int64(x), 10))
		return nil
	case int64:
		var buf [24]byte
		b.Write(strconv.AppendInt(buf[:0], x, 10))
		return nil
	case float64:
		writeFloat(b, x, f.Type.kind == KindFloat)
		return nil
	case float32:
		writeFloat(b, float64(x), f.Type.kind == KindFloat)
		return nil
	case json.Number:
		b.WriteString(string(x))
		return nil
	case []string:
		if f.Type.kind == KindStr {
			items := make([]any, len(x))
			for i, s := range x {
				items[i] = s
			}
			return writeNumberedList(b, items)
		}
	case []any:
		if f.Type.kind == KindStr {
			return writeNumberedList(b, x)
		}
	}
	return writeJSONish(b, v)
}

// writeFloat writes a float as Python's str() would when the field is a
// float ("2.0"), else as JSON does ("2"), since Go decodes JSON integers
// into float64.
func writeFloat(b *strings.Builder, x float64, pythonStyle bool) {
	if math.IsNaN(x) {
		b.WriteString("nan")
		return
	}
	if math.IsInf(x, 0) {
		if x > 0 {
			b.WriteString("inf")
		} else {
			b.WriteString("-inf")
		}
		return
	}
	var buf [32]byte
	if !pythonStyle {
		b.Write(strconv.AppendFloat(buf[:0], x, 'g', -1, 64))
		return
	}
	b.WriteString(pyFloat(x))
}

// pyFloat is Python's repr of a finite float: shortest digits, a ".0" on
// integral values, and exponent notation outside [1e-4, 1e16).
func pyFloat(x float64) string {
	if x == 0 {
		if math.Signbit(x) {
			return "-0.0"
		}
		return "0.0"
	}
	abs := math.Abs(x)
	if abs >= 1e16 || abs < 1e-4 {
		s := strconv.FormatFloat(x, 'e', -1, 64)
		// Go writes "1e+16" and "1.5e-05"; Python writes "1e+16" and "1.5e-05".
		return s
	}
	s := strconv.FormatFloat(x, 'f', -1, 64)
	if !strings.ContainsRune(s, '.') {
		s += ".0"
	}
	return s
}

// writeNumberedList writes DSPy's rendering of a list given for a str field.
func writeNumberedList(b *strings.Builder, items []any) error {
	if len(items) == 0 {
		b.WriteString("N/A")
		return nil
	}
	for i, it := range items {
		var s string
		if str, ok := it.(string); ok {
			s = str
		} else {
			var ib strings.Builder
			if err := writeValue(&ib, Field{}, it); err != nil {
				return err
			}
			s = ib.String()
		}
		if len(items) > 1 {
			if i > 0 {
				b.WriteByte('\n')
			}
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(i + 1))
			b.WriteString("] ")
		}
		writeBlob(b, s)
	}
	return nil
}

// writeBlob writes «s», or a «««…»»» block indented by four spaces when s
// spans lines or holds a guillemet.
func writeBlob(b *strings.Builder, s string) {
	if !strings.ContainsAny(s, "\n«»") {
		b.WriteString("«")
		b.WriteString(s)
		b.WriteString("»")
		return
	}
	b.WriteString("«««\n    ")
	b.WriteString(strings.ReplaceAll(s, "\n", "\n    "))
	b.WriteString("\n»»»")
}

// writeJSONish writes v through encoding/json: a JSON string is written
// unquoted (Python's str() of a string), a number or literal as is, and an
// object or array in Python's json.dumps layout.
func writeJSONish(b *strings.Builder, v any) error {
	raw, err := marshalNoHTML(v)
	if err != nil {
		return fmt.Errorf("dspy: cannot format value of type %T: %w", v, err)
	}
	switch {
	case len(raw) > 0 && raw[0] == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return fmt.Errorf("dspy: cannot format value of type %T: %w", v, err)
		}
		b.WriteString(s)
	case string(raw) == "null":
		b.WriteString("None")
	case string(raw) == "true":
		b.WriteString("True")
	case string(raw) == "false":
		b.WriteString("False")
	case len(raw) > 0 && (raw[0] == '{' || raw[0] == '['):
		writeRespaced(b, raw)
	default:
		b.Write(raw)
	}
	return nil
}

// marshalNoHTML is json.Marshal without escaping <, > and &, which Python's
// json.dumps leaves alone.
func marshalNoHTML(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// writeRespaced rewrites compact JSON in Python's default json.dumps layout:
// ", " between items, ": " after keys, and U+2028/U+2029 unescaped (Go
// escapes them, Python with ensure_ascii=False does not).
func writeRespaced(b *strings.Builder, compact []byte) {
	inStr := false
	for i := 0; i < len(compact); i++ {
		c := compact[i]
		if inStr {
			switch {
			case c == '\\' && i+1 < len(compact):
				if compact[i+1] == 'u' && i+5 < len(compact) && (string(compact[i+2:i+6]) == "2028" || string(compact[i+2:i+6]) == "2029") {
					if compact[i+5] == '8' {
						b.WriteRune('\u2028')
					} else {
						b.WriteRune('\u2029')
					}
					i += 5
					continue
				}
				b.WriteByte(c)
				b.WriteByte(compact[i+1])
				i++
				continue
			case c == '"':
				inStr = false
			}
			b.WriteByte(c)
			continue
		}
		b.WriteByte(c)
		switch c {
		case '"':
			inStr = true
		case ',', ':':
			b.WriteByte(' ')
		}
	}
}

// pyQuote quotes s as a JSON string the way Python's json.dumps does with
// ensure_ascii=False: only quotes, backslashes and control characters are
// escaped.
func pyQuote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	writePyQuote(&b, s)
	return b.String()
}

func writePyQuote(b *strings.Builder, s string) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b.WriteString(s[start:i])
		switch c {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			b.WriteString(`\u00`)
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
		}
		start = i + 1
	}
	b.WriteString(s[start:])
	b.WriteByte('"')
}

// writeIndentedJSON writes v as Python's json.dumps(v, indent=2,
// ensure_ascii=False) would; indent is the prefix of every line after the
// first (for values nested in an object written by hand).
func writeIndentedJSON(b *strings.Builder, v any, indent string) error {
	switch x := v.(type) {
	case string:
		writePyQuote(b, x)
		return nil
	case nil:
		b.WriteString("null")
		return nil
	}
	raw, err := marshalNoHTML(v)
	if err != nil {
		return fmt.Errorf("dspy: cannot format value of type %T: %w", v, err)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, raw, indent, "  "); err != nil {
		return fmt.Errorf("dspy: cannot format value of type %T: %w", v, err)
	}
	writeUnescapedSeparators(b, out.Bytes())
	return nil
}

// writeUnescapedSeparators copies JSON text, turning Go's \u2028 and \u2029
// escapes back into the characters.
func writeUnescapedSeparators(b *strings.Builder, js []byte) {
	if !bytes.Contains(js, []byte(`\u202`)) {
		b.Write(js)
		return
	}
	s := string(js)
	s = strings.ReplaceAll(s, `\u2028`, "\u2028")
	s = strings.ReplaceAll(s, `\u2029`, "\u2029")
	b.WriteString(s)
}

// present reports whether v counts as supplied in a demo (DSPy treats None
// as missing).
func present(m map[string]any, name string) bool {
	v, ok := m[name]
	if !ok || v == nil {
		return false
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Interface:
		return !rv.IsNil()
	}
	return true
}

// promptKind names a prompt layout whose per-signature parts are cached.
type promptKind uint8

const (
	promptChat promptKind = iota
	promptChat25
	promptChat3
	promptJSON
	promptXML
)

// promptParts are the parts of a prompt that depend only on the signature.
type promptParts struct {
	system   string
	reminder string // the user message's closing instruction
}

// promptKey identifies a signature without keeping it alive: the entry is
// removed by a cleanup when the signature is collected.
type promptKey struct {
	sig  weak.Pointer[Signature]
	kind promptKind
}

// promptEntry remembers which field slices and instructions the parts were
// built from, so a signature whose fields were replaced (despite the
// documented immutability) is rebuilt rather than served stale.
type promptEntry struct {
	instructions string
	inputs       []Field
	outputs      []Field
	parts        promptParts
}

func (e *promptEntry) matches(sig *Signature) bool {
	return e.instructions == sig.instructions && sameFields(e.inputs, sig.inputs) && sameFields(e.outputs, sig.outputs)
}

func sameFields(a, b []Field) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// promptCache maps promptKey to *promptEntry. Building a system message
// costs about a microsecond; a lookup costs tens of nanoseconds, which
// matters for the per-call budget of Predict.
var promptCache sync.Map

// cachedPrompt returns the parts for sig, building them once per signature
// and layout.
func cachedPrompt(sig *Signature, kind promptKind, build func(*Signature) promptParts) promptParts {
	key := promptKey{sig: weak.Make(sig), kind: kind}
	if v, ok := promptCache.Load(key); ok {
		if e := v.(*promptEntry); e.matches(sig) {
			return e.parts
		}
	}
	e := &promptEntry{instructions: sig.instructions, inputs: sig.inputs, outputs: sig.outputs, parts: build(sig)}
	if _, loaded := promptCache.Swap(key, e); !loaded {
		runtime.AddCleanup(sig, func(k promptKey) { promptCache.Delete(k) }, key)
	}
	return e.parts
}
