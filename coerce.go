package dspy

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Value coercion shared by the built-in adapters. Parsed values take these Go
// types: str and Literal → string, int → int, float → float64, bool → bool,
// list[T] → []any, dict[K, V] → map[string]any (elements coerced to T or V),
// Any → what the JSON decoder gives (numbers as float64, except an integer
// float64 cannot hold exactly — beyond ±2^53 — which is an int64, or a
// uint64 beyond int64: an id of 2^53+1 keeps its value, as Python's int
// does).

// coerceText converts the text of one field (Chat and XML adapters) to t.
func coerceText(t Type, s string) (any, error) {
	switch t.kind {
	case KindStr:
		return s, nil
	case KindInt:
		return parseIntText(s)
	case KindFloat:
		return parseFloatText(s)
	case KindBool:
		return parseBoolText(s)
	case KindLiteral:
		return matchLiteral(t, s)
	case KindList, KindDict:
		v, err := decodeLoose(s)
		if err != nil {
			return nil, fmt.Errorf("%s is not a valid %s: %w", quoteShort(s), t, err)
		}
		return coerceTree(t, v)
	}
	// Any: structured text if it decodes, else the text itself.
	if v, err := decodeLoose(s); err == nil {
		return coerceTree(t, v)
	}
	return s, nil
}

// coerceTree converts a decoded value (json.Number for numbers, string,
// bool, nil, []any, map[string]any) to t.
func coerceTree(t Type, v any) (any, error) {
	switch t.kind {
	case KindStr:
		switch x := v.(type) {
		case string:
			return x, nil
		case nil:
			return nil, errors.New("null is not a valid str")
		}
		return compactText(v), nil
	case KindInt:
		switch x := v.(type) {
		case json.Number:
			return parseIntText(string(x))
		case string:
			return parseIntText(x)
		}
		return nil, fmt.Errorf("%s is not a valid int", compactText(v))
	case KindFloat:
		switch x := v.(type) {
		case json.Number:
			return parseFloatText(string(x))
		case string:
			return parseFloatText(x)
		}
		return nil, fmt.Errorf("%s is not a valid float", compactText(v))
	case KindBool:
		switch x := v.(type) {
		case bool:
			return x, nil
		case string:
			return parseBoolText(x)
		}
		return nil, fmt.Errorf("%s is not a valid bool", compactText(v))
	case KindLiteral:
		switch x := v.(type) {
		case string:
			return matchLiteral(t, x)
		case json.Number:
			return matchLiteral(t, string(x))
		case bool:
			if x {
				return matchLiteral(t, "True")
			}
			return matchLiteral(t, "False")
		case nil:
			return matchLiteral(t, "None")
		}
		return nil, fmt.Errorf("%s is not one of %s", compactText(v), t)
	case KindList:
		if s, ok := v.(string); ok {
			return coerceText(t, s)
		}
		items, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("%s is not a valid %s", compactText(v), t)
		}
		out := make([]any, len(items))
		for i, it := range items {
			c, err := coerceTree(t.elem(), it)
			if err != nil {
				return nil, fmt.Errorf("item %d: %w", i, err)
			}
			out[i] = c
		}
		return out, nil
	case KindDict:
		if s, ok := v.(string); ok {
			return coerceText(t, s)
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s is not a valid %s", compactText(v), t)
		}
		out := make(map[string]any, len(m))
		for k, it := range m {
			c, err := coerceTree(t.elem(), it)
			if err != nil {
				return nil, fmt.Errorf("key %q: %w", k, err)
			}
			out[k] = c
		}
		return out, nil
	}
	return plainTree(v), nil
}

// plainTree replaces json.Number with plainNumber's value, in place.
func plainTree(v any) any {
	switch x := v.(type) {
	case json.Number:
		return plainNumber(x)
	case []any:
		for i, it := range x {
			x[i] = plainTree(it)
		}
	case map[string]any:
		for k, it := range x {
			x[k] = plainTree(it)
		}
	}
	return v
}

// plainNumber is a decoded JSON number as a Go value: float64, as
// encoding/json decodes numbers into an interface, unless it is an integer
// beyond ±2^53, which float64 would round: then int64, or uint64 above
// int64's range. A number float64 cannot hold at all stays its text.
func plainNumber(n json.Number) any {
	s := string(n)
	if !strings.ContainsAny(s, ".eE") {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			if i >= -maxExactInt && i <= maxExactInt {
				return float64(i)
			}
			return i
		}
		if u, err := strconv.ParseUint(s, 10, 64); err == nil {
			return u
		}
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return f
	}
	return s
}

// maxExactInt is the largest integer below which every integer is a
// float64.
const maxExactInt = 1 << 53

// compactText is the compact JSON text of a decoded value.
func compactText(v any) string {
	if n, ok := v.(json.Number); ok {
		return string(n)
	}
	raw, err := marshalNoHTML(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(raw)
}

// quoteShort quotes s for an error message, shortened when long.
func quoteShort(s string) string {
	if len(s) > 80 {
		cut := 80
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return strconv.Quote(s)
}

// unquoteText strips whitespace and one pair of matching quotes.
func unquoteText(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 1 && s[0] == s[len(s)-1] && (s[0] == '"' || s[0] == '\'') {
		s = strings.TrimSpace(s[1 : len(s)-1])
	}
	return s
}

func parseIntText(s string) (any, error) {
	t := unquoteText(s)
	if n, err := strconv.Atoi(t); err == nil {
		return n, nil
	}
	// An integral float ("4.0", "1e3") is an int, as pydantic's lax mode has it.
	if f, err := strconv.ParseFloat(t, 64); err == nil && !strings.ContainsAny(t, "xXpP_") &&
		f == math.Trunc(f) && math.Abs(f) <= 1<<53 {
		return int(f), nil
	}
	return nil, fmt.Errorf("%s is not a valid int", quoteShort(s))
}

func parseFloatText(s string) (any, error) {
	t := unquoteText(s)
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || strings.ContainsAny(t, "xXpP_") {
		return nil, fmt.Errorf("%s is not a valid float", quoteShort(s))
	}
	return f, nil
}

func parseBoolText(s string) (any, error) {
	t := unquoteText(s)
	switch {
	case strings.EqualFold(t, "true"):
		return true, nil
	case strings.EqualFold(t, "false"):
		return false, nil
	}
	return nil, fmt.Errorf("%s is not a valid bool (want True or False)", quoteShort(s))
}

// matchLiteral finds s among t's values: exactly; then without surrounding
// whitespace, quotes and a "Literal[…]" wrapper (DSPy's parse_value); then
// ignoring case.
func matchLiteral(t Type, s string) (any, error) {
	for _, v := range t.values {
		if v == s {
			return v, nil
		}
	}
	u := strings.TrimSpace(s)
	for _, p := range []string{"Literal[", "str["} {
		if strings.HasPrefix(u, p) && strings.HasSuffix(u, "]") {
			u = u[len(p) : len(u)-1]
			break
		}
	}
	u = unquoteText(u)
	for _, v := range t.values {
		if v == u {
			return v, nil
		}
	}
	for _, v := range t.values {
		if strings.EqualFold(v, u) {
			return v, nil
		}
	}
	return nil, fmt.Errorf("%s is not one of %s", quoteShort(s), t)
}

// decodeLoose decodes structured text: JSON first, then Python literal
// syntax (single quotes, True/False/None, tuples, trailing commas), after
// removing a Markdown code fence. It never evaluates anything.
func decodeLoose(s string) (any, error) {
	s = stripFence(strings.TrimSpace(s))
	if json.Valid([]byte(s)) {
		dec := json.NewDecoder(strings.NewReader(s))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err == nil {
			return v, nil
		}
	}
	p := pyParser{src: s}
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.pos != len(p.src) {
		return nil, fmt.Errorf("unexpected %s at offset %d", quoteShort(p.src[p.pos:]), p.pos)
	}
	return v, nil
}

// stripFence returns the body of a ```lang … ``` block that is the whole of
// s, or s.
func stripFence(s string) string {
	if !strings.HasPrefix(s, "```") || !strings.HasSuffix(s, "```") || len(s) < 6 {
		return s
	}
	body := s[3 : len(s)-3]
	if nl := strings.IndexByte(body, '\n'); nl >= 0 && !strings.ContainsAny(body[:nl], "{[\"'") {
		body = body[nl+1:] // drop the language tag line
	}
	return strings.TrimSpace(body)
}

// maxLiteralDepth bounds nesting so hostile input cannot exhaust the stack.
const maxLiteralDepth = 256

// pyParser reads Python literal syntax into the same shapes as the JSON
// decoder with UseNumber. Duplicate dict keys keep their first value.
type pyParser struct {
	src string
	pos int
}

func (p *pyParser) errorf(format string, args ...any) error {
	return fmt.Errorf("offset %d: %s", p.pos, fmt.Sprintf(format, args...))
}

func (p *pyParser) space() {
	for p.pos < len(p.src) {
		switch p.src[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *pyParser) value(depth int) (any, error) {
	if depth > maxLiteralDepth {
		return nil, p.errorf("nested too deeply")
	}
	p.space()
	if p.pos >= len(p.src) {
		return nil, p.errorf("unexpected end of text")
	}
	switch c := p.src[p.pos]; {
	case c == '{':
		return p.dict(depth)
	case c == '[':
		return p.list(depth, ']')
	case c == '(':
		return p.list(depth, ')')
	case c == '"' || c == '\'':
		return p.str()
	case c == '-' || c == '+' || c == '.' || (c >= '0' && c <= '9'):
		return p.number()
	}
	for _, w := range []struct {
		word string
		v    any
	}{{"True", true}, {"False", false}, {"None", nil}, {"true", true}, {"false", false}, {"null", nil}} {
		if strings.HasPrefix(p.src[p.pos:], w.word) && !identAt(p.src, p.pos+len(w.word)) {
			p.pos += len(w.word)
			return w.v, nil
		}
	}
	return nil, p.errorf("unexpected %s", quoteShort(p.src[p.pos:]))
}

// identAt reports whether an identifier character follows a keyword.
func identAt(s string, i int) bool {
	if i >= len(s) {
		return false
	}
	c := s[i]
	return c == '_' || c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

func (p *pyParser) list(depth int, end byte) (any, error) {
	p.pos++ // [ or (
	out := []any{}
	for {
		p.space()
		if p.pos < len(p.src) && p.src[p.pos] == end {
			p.pos++
			return out, nil
		}
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		p.space()
		if p.pos >= len(p.src) {
			return nil, p.errorf("unterminated list")
		}
		switch p.src[p.pos] {
		case ',':
			p.pos++
		case end:
		default:
			return nil, p.errorf("expected ',' or %q in list", end)
		}
	}
}

func (p *pyParser) dict(depth int) (any, error) {
	p.pos++ // {
	out := map[string]any{}
	for {
		p.space()
		if p.pos < len(p.src) && p.src[p.pos] == '}' {
			p.pos++
			return out, nil
		}
		k, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		var key string
		switch x := k.(type) {
		case string:
			key = x
		case json.Number:
			key = string(x)
		case bool:
			key = strconv.FormatBool(x)
		case nil:
			key = "null"
		default:
			return nil, p.errorf("dict key must be a string or a number")
		}
		p.space()
		if p.pos >= len(p.src) || p.src[p.pos] != ':' {
			return nil, p.errorf("expected ':' after dict key")
		}
		p.pos++
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		if _, dup := out[key]; !dup {
			out[key] = v
		}
		p.space()
		if p.pos >= len(p.src) {
			return nil, p.errorf("unterminated dict")
		}
		switch p.src[p.pos] {
		case ',':
			p.pos++
		case '}':
		default:
			return nil, p.errorf("expected ',' or '}' in dict")
		}
	}
}

func (p *pyParser) number() (any, error) {
	start := p.pos
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		if (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-' {
			p.pos++
			continue
		}
		break
	}
	text := p.src[start:p.pos]
	text = strings.TrimPrefix(text, "+")
	f, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsInf(f, 0) {
		p.pos = start
		return nil, p.errorf("bad number %s", quoteShort(text))
	}
	// Normalise to JSON number syntax so later stages can rely on it.
	if strings.HasPrefix(text, ".") || strings.HasPrefix(text, "-.") || strings.HasSuffix(text, ".") || strings.Contains(text, ".e") || strings.Contains(text, ".E") {
		return json.Number(strconv.FormatFloat(f, 'g', -1, 64)), nil
	}
	if len(text) > 1 && text[0] == '0' && text[1] >= '0' && text[1] <= '9' {
		return nil, p.errorf("bad number %s", quoteShort(text))
	}
	return json.Number(text), nil
}

func (p *pyParser) str() (any, error) {
	q := p.src[p.pos]
	p.pos++
	var b strings.Builder
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		switch {
		case c == q:
			p.pos++
			return b.String(), nil
		case c == '\\':
			if p.pos+1 >= len(p.src) {
				return nil, p.errorf("unterminated string")
			}
			e := p.src[p.pos+1]
			p.pos += 2
			switch e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case '0':
				b.WriteByte(0)
			case '\n':
				// line continuation
			case 'x', 'u', 'U':
				n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[e]
				if p.pos+n > len(p.src) {
					return nil, p.errorf("bad \\%c escape", e)
				}
				r, err := strconv.ParseUint(p.src[p.pos:p.pos+n], 16, 32)
				if err != nil || r > utf8.MaxRune {
					return nil, p.errorf("bad \\%c escape", e)
				}
				p.pos += n
				b.WriteRune(rune(r))
			default:
				if e != '\\' && e != '\'' && e != '"' {
					b.WriteByte('\\') // Python keeps unknown escapes
				}
				b.WriteByte(e)
			}
		case c == '\n':
			return nil, p.errorf("newline in string")
		default:
			b.WriteByte(c)
			p.pos++
		}
	}
	return nil, p.errorf("unterminated string")
}
