package dspy

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Kind is the shape of a field's value.
type Kind int

// Field kinds, named as DSPy prints them.
const (
	KindStr     Kind = iota // str
	KindInt                 // int
	KindFloat               // float
	KindBool                // bool
	KindList                // list[T]
	KindDict                // dict[K, V]
	KindLiteral             // Literal['a', 'b']
	KindAny                 // Any
	KindHistory             // History: earlier turns of a conversation (an input)
)

// Type is a field's type, such as str, list[int] or Literal['a', 'b']. The
// zero Type is str. A Type is an immutable value: build one with Str, Int,
// Float, Bool, Any, HistoryType, ListOf, DictOf, Literal or ParseType.
type Type struct {
	kind Kind
	// elemType is the element type of a list and the value type of a dict.
	elemType *Type
	// key is the key type of a dict.
	key *Type
	// values are the allowed values of a Literal.
	values []string
}

// Str returns the str type, a field's default.
func Str() Type { return Type{kind: KindStr} }

// Int returns the int type.
func Int() Type { return Type{kind: KindInt} }

// Float returns the float type.
func Float() Type { return Type{kind: KindFloat} }

// Bool returns the bool type.
func Bool() Type { return Type{kind: KindBool} }

// Any returns the Any type: any JSON value.
func Any() Type { return Type{kind: KindAny} }

// HistoryType returns the History type, DSPy's dspy.History: an input whose
// value is a History of earlier turns (see History).
func HistoryType() Type { return Type{kind: KindHistory} }

// ListOf returns list[elem].
func ListOf(elem Type) Type { return Type{kind: KindList, elemType: &elem} }

// DictOf returns dict[key, value].
func DictOf(key, value Type) Type { return Type{kind: KindDict, key: &key, elemType: &value} }

// Literal returns Literal['v1', 'v2', ...].
func Literal(values ...string) Type {
	return Type{kind: KindLiteral, values: append([]string(nil), values...)}
}

// Kind returns the type's shape.
func (t Type) Kind() Kind { return t.kind }

// Elem returns the element type of a list and the value type of a dict
// (Any when the type left it out); for other kinds it returns Any.
func (t Type) Elem() Type { return t.elem() }

// Key returns the key type of a dict (str when it was left out); for other
// kinds it returns str.
func (t Type) Key() Type {
	if t.key == nil {
		return Str()
	}
	return *t.key
}

// Values returns a copy of a Literal's allowed values, nil for other kinds.
func (t Type) Values() []string { return append([]string(nil), t.values...) }

// String renders the type as DSPy does in prompts: "str", "list[int]",
// "dict[str, Any]", "Literal['add', 'finish']".
func (t Type) String() string {
	switch t.kind {
	case KindStr:
		return "str"
	case KindInt:
		return "int"
	case KindFloat:
		return "float"
	case KindBool:
		return "bool"
	case KindAny:
		return "Any"
	case KindHistory:
		return "History"
	case KindList:
		return "list[" + t.elem().String() + "]"
	case KindDict:
		return "dict[" + t.Key().String() + ", " + t.elem().String() + "]"
	case KindLiteral:
		var b strings.Builder
		b.WriteString("Literal[")
		for i, v := range t.values {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(pyRepr(v))
		}
		b.WriteString("]")
		return b.String()
	}
	return "Any"
}

func (t Type) elem() Type {
	if t.elemType == nil {
		return Any()
	}
	return *t.elemType
}

// pyRepr quotes s the way Python's repr quotes a str.
func pyRepr(s string) string {
	q := byte('\'')
	if strings.ContainsRune(s, '\'') && !strings.ContainsRune(s, '"') {
		q = '"'
	}
	var b strings.Builder
	b.WriteByte(q)
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == rune(q):
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte(q)
	return b.String()
}

// ParseType parses one type expression such as "list[str]" or
// "Literal['a', 'b']".
func ParseType(s string) (Type, error) { return parseType(strings.TrimSpace(s)) }

func parseType(s string) (Type, error) {
	base, args, hasArgs := strings.Cut(s, "[")
	base = strings.TrimSpace(base)
	if hasArgs {
		if !strings.HasSuffix(args, "]") {
			return Type{}, fmt.Errorf("unbalanced brackets in type %q", s)
		}
		args = args[:len(args)-1]
	}
	switch strings.ToLower(base) {
	case "str", "string":
		return scalar(Str(), hasArgs, s)
	case "int", "integer":
		return scalar(Int(), hasArgs, s)
	case "float", "number":
		return scalar(Float(), hasArgs, s)
	case "bool", "boolean":
		return scalar(Bool(), hasArgs, s)
	case "any":
		return scalar(Any(), hasArgs, s)
	case "history", "dspy.history":
		return scalar(HistoryType(), hasArgs, s)
	case "list":
		if !hasArgs {
			return ListOf(Any()), nil
		}
		e, err := parseType(args)
		if err != nil {
			return Type{}, err
		}
		return ListOf(e), nil
	case "dict":
		if !hasArgs {
			return DictOf(Str(), Any()), nil
		}
		parts := splitTop(args)
		if len(parts) != 2 {
			return Type{}, fmt.Errorf("dict takes two type arguments, got %q", s)
		}
		k, err := parseType(parts[0])
		if err != nil {
			return Type{}, err
		}
		v, err := parseType(parts[1])
		if err != nil {
			return Type{}, err
		}
		return DictOf(k, v), nil
	case "literal":
		if !hasArgs {
			return Type{}, fmt.Errorf("Literal needs values, as in Literal['a', 'b']")
		}
		var vals []string
		for _, part := range splitTop(args) {
			v, err := unquote(part)
			if err != nil {
				return Type{}, fmt.Errorf("Literal value %s: %v", part, err)
			}
			vals = append(vals, v)
		}
		if len(vals) == 0 {
			return Type{}, fmt.Errorf("Literal needs at least one value")
		}
		return Literal(vals...), nil
	}
	return Type{}, fmt.Errorf("unknown type %q (want str, int, float, bool, Any, History, list[T], dict[K, V] or Literal[...])", base)
}

func scalar(t Type, hasArgs bool, s string) (Type, error) {
	if hasArgs {
		return Type{}, fmt.Errorf("type %q takes no arguments", s)
	}
	return t, nil
}

// splitTop splits s at commas outside brackets and quotes.
func splitTop(s string) []string {
	var out []string
	for len(s) > 0 {
		i := topComma(s)
		if part := strings.TrimSpace(s[:i]); part != "" || i < len(s) {
			out = append(out, part)
		}
		if i == len(s) {
			break
		}
		s = s[i+1:]
	}
	return out
}

// topComma returns the index of the first comma of s outside brackets and
// quotes (a backslash escapes the next byte inside quotes), or len(s).
func topComma(s string) int {
	depth := 0
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '[':
			depth++
		case c == ']':
			depth--
		case c == ',' && depth == 0:
			return i
		}
	}
	return len(s)
}

func unquote(s string) (string, error) {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && (s[0] == '\'' || s[0] == '"') && s[len(s)-1] == s[0] {
		inner := s[1 : len(s)-1]
		if s[0] == '\'' {
			inner = strings.ReplaceAll(inner, `\'`, `'`)
			inner = strings.ReplaceAll(inner, `"`, `\"`)
		}
		v, err := strconv.Unquote(`"` + inner + `"`)
		if err != nil {
			return "", fmt.Errorf("bad quoting")
		}
		return v, nil
	}
	if _, err := strconv.ParseFloat(s, 64); err == nil && s != "" {
		return s, nil // numeric literal values
	}
	if s == "True" || s == "False" || s == "None" {
		return s, nil
	}
	return "", fmt.Errorf("must be quoted, as in 'value'")
}

// accepts reports whether v is a value of t (see Signature.CheckInputs),
// and else describes v in JSON's terms.
func (t Type) accepts(v any) (got string, ok bool) {
	switch t.kind {
	case KindAny:
		return "", true
	case KindHistory:
		if _, err := historyOf(v); err != nil {
			return describeValue(v) + ` (a History is {"messages": [{...}, ...]})`, false
		}
		return "", true
	}
	if v == nil {
		return "null", false
	}
	switch t.kind {
	case KindStr:
		switch v.(type) {
		case string:
			return "", true
		case json.Number: // a string type, but a number
			return describeValue(v), false
		}
		if rv := reflect.ValueOf(v); rv.Kind() == reflect.String {
			return "", true // a named string type
		}
	case KindInt:
		if isInteger(v) {
			return "", true
		}
	case KindFloat:
		if isNumber(v) {
			return "", true
		}
	case KindBool:
		switch x := v.(type) {
		case bool:
			return "", true
		case string:
			if x == "true" || x == "false" {
				return "", true
			}
		}
	case KindLiteral:
		s, isStr := v.(string)
		if isStr && slices.Contains(t.values, s) {
			return "", true
		}
		if isStr {
			return describeValue(v) + " (not one of the allowed values)", false
		}
	case KindList:
		rv := reflect.ValueOf(v)
		if rv.Kind() == reflect.Slice && rv.Type().Elem().Kind() != reflect.Uint8 || rv.Kind() == reflect.Array {
			elem := t.elem()
			for i := range rv.Len() {
				if g, ok := elem.accepts(rv.Index(i).Interface()); !ok {
					return fmt.Sprintf("an array whose item %d is %s", i, g), false
				}
			}
			return "", true
		}
	case KindDict:
		rv := reflect.ValueOf(v)
		if rv.Kind() == reflect.Map && rv.Type().Key().Kind() == reflect.String {
			elem := t.elem()
			iter := rv.MapRange()
			for iter.Next() {
				if g, ok := elem.accepts(iter.Value().Interface()); !ok {
					return fmt.Sprintf("an object whose member %q is %s", iter.Key().String(), g), false
				}
			}
			return "", true
		}
	default:
		return "", true // a kind with its own rules (checked where it is used)
	}
	return describeValue(v), false
}

// isInteger reports whether v is an integer: a Go integer, an integral
// float, a json.Number or string holding one.
func isInteger(v any) bool {
	switch x := v.(type) {
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return true
	case float64:
		return x == math.Trunc(x) && !math.IsInf(x, 0)
	case float32:
		return float64(x) == math.Trunc(float64(x)) && !math.IsInf(float64(x), 0)
	case json.Number:
		if _, err := x.Int64(); err == nil {
			return true
		}
		f, err := x.Float64()
		return err == nil && f == math.Trunc(f)
	case string:
		_, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		return err == nil
	}
	return false
}

// isNumber reports whether v is a number or a string holding one.
func isNumber(v any) bool {
	switch x := v.(type) {
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return true
	case float64:
		return !math.IsNaN(x) && !math.IsInf(x, 0)
	case float32:
		return !math.IsNaN(float64(x)) && !math.IsInf(float64(x), 0)
	case json.Number:
		_, err := x.Float64()
		return err == nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return err == nil && !math.IsNaN(f) && !math.IsInf(f, 0)
	}
	return false
}

// describeValue names v's kind in JSON's terms, with a short quote of
// strings and numbers: what a client sent, without Go type names.
func describeValue(v any) string {
	quote := func(s string) string { return strconv.Quote(clip(s)) }
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return "a string: " + quote(x)
	case bool:
		return fmt.Sprintf("%v", x)
	case json.Number:
		return "a number: " + clip(x.String())
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64:
		return fmt.Sprintf("a number: %v", x)
	}
	switch reflect.ValueOf(v).Kind() {
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.String:
		return "a string: " + quote(reflect.ValueOf(v).String())
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Pointer:
		return "a pointer"
	}
	return "a value of another kind"
}

// clip shortens s to at most 40 bytes (on a rune boundary), so that an error
// never echoes a large input.
func clip(s string) string {
	if len(s) <= 40 {
		return s
	}
	i := 37
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "..."
}
