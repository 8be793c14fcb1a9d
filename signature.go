package dspy

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode"
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
)

// Type is a field's type. The zero Type is str.
type Type struct {
	Kind Kind
	// Elem is the element type of a list and the value type of a dict.
	Elem *Type
	// Key is the key type of a dict.
	Key *Type
	// Values are the allowed values of a Literal.
	Values []string
}

// Str, Int, Float, Bool and Any are the scalar types.
var (
	Str   = Type{Kind: KindStr}
	Int   = Type{Kind: KindInt}
	Float = Type{Kind: KindFloat}
	Bool  = Type{Kind: KindBool}
	Any   = Type{Kind: KindAny}
)

// ListOf returns list[elem].
func ListOf(elem Type) Type { return Type{Kind: KindList, Elem: &elem} }

// DictOf returns dict[key, value].
func DictOf(key, value Type) Type { return Type{Kind: KindDict, Key: &key, Elem: &value} }

// Literal returns Literal['v1', 'v2', ...].
func Literal(values ...string) Type { return Type{Kind: KindLiteral, Values: values} }

// String renders the type as DSPy does in prompts: "str", "list[int]",
// "dict[str, Any]", "Literal['add', 'finish']".
func (t Type) String() string {
	switch t.Kind {
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
	case KindList:
		return "list[" + t.elem().String() + "]"
	case KindDict:
		k := Str
		if t.Key != nil {
			k = *t.Key
		}
		return "dict[" + k.String() + ", " + t.elem().String() + "]"
	case KindLiteral:
		var b strings.Builder
		b.WriteString("Literal[")
		for i, v := range t.Values {
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
	if t.Elem == nil {
		return Any
	}
	return *t.Elem
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

// Field is one input or output of a signature.
type Field struct {
	Name string
	// Desc is the field's description, shown in prompts as "(type): desc".
	Desc string
	Type Type
}

// Signature declares what a module takes and produces. A Signature is
// immutable once built; the With* methods return modified copies, so one
// value can be shared by many goroutines.
type Signature struct {
	// Instructions is the task description. Empty means DSPy's default,
	// "Given the fields `a`, `b`, produce the fields `c`."
	Instructions string
	Inputs       []Field
	Outputs      []Field
}

// SignatureError reports a malformed signature string. Pos is the byte
// offset in the input where the problem was found.
type SignatureError struct {
	Input string
	Pos   int
	Msg   string
}

func (e *SignatureError) Error() string {
	return fmt.Sprintf("dspy: bad signature %q at offset %d: %s", e.Input, e.Pos, e.Msg)
}

// ParseSignature parses DSPy's signature syntax:
//
//	"question -> answer"
//	"context: list[str], question: str -> answer: str, confidence: float"
//	"text -> sentiment: Literal['positive', 'negative', 'neutral']"
//
// Field types are str (default), int, float, bool, Any, list[T], dict[K, V]
// and Literal[...]; Python's List, Dict, Optional-free spellings are
// accepted too. The error is a *SignatureError naming the offset.
func ParseSignature(s string) (*Signature, error) {
	p := sigParser{src: s}
	return p.parse()
}

// MustSignature is ParseSignature for literals; it panics on error.
func MustSignature(s string) *Signature {
	sig, err := ParseSignature(s)
	if err != nil {
		panic(err)
	}
	return sig
}

type sigParser struct {
	src string
}

func (p *sigParser) fail(pos int, format string, args ...any) error {
	return &SignatureError{Input: p.src, Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

func (p *sigParser) parse() (*Signature, error) {
	arrow := strings.Index(p.src, "->")
	if arrow < 0 {
		return nil, p.fail(len(p.src), "missing \"->\" between inputs and outputs")
	}
	if strings.Count(p.src, "->") > 1 {
		return nil, p.fail(arrow+2+strings.Index(p.src[arrow+2:], "->"), "more than one \"->\"")
	}
	ins, inPos, err := p.fields(0, arrow, "inputs")
	if err != nil {
		return nil, err
	}
	outs, outPos, err := p.fields(arrow+2, len(p.src), "outputs")
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	all, pos := append(append([]Field(nil), ins...), outs...), append(inPos, outPos...)
	for i, f := range all {
		if seen[f.Name] {
			return nil, p.fail(pos[i], "duplicate field name %q", f.Name)
		}
		seen[f.Name] = true
	}
	return &Signature{Inputs: ins, Outputs: outs}, nil
}

// fields parses the comma-separated field list in src[start:end]; pos holds
// the offset of each field's name.
func (p *sigParser) fields(start, end int, side string) (out []Field, pos []int, err error) {
	if strings.TrimSpace(p.src[start:end]) == "" {
		return nil, nil, p.fail(start, "no %s: the %s side is empty", side, side)
	}
	i := start
	for i <= end {
		// Find the next top-level comma (outside brackets and quotes).
		j, depth := i, 0
		var quote byte
		for ; j < end; j++ {
			c := p.src[j]
			switch {
			case quote != 0:
				if c == quote {
					quote = 0
				}
			case c == '\'' || c == '"':
				quote = c
			case c == '[':
				depth++
			case c == ']':
				depth--
			}
			if c == ',' && depth == 0 && quote == 0 {
				break
			}
		}
		f, err := p.field(i, j)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, f)
		pos = append(pos, i+len(p.src[i:j])-len(strings.TrimLeft(p.src[i:j], " \t\n")))
		i = j + 1
	}
	return out, pos, nil
}

func (p *sigParser) field(start, end int) (Field, error) {
	part := p.src[start:end]
	lead := len(part) - len(strings.TrimLeft(part, " \t\n"))
	name, typ, hasType := strings.Cut(part, ":")
	name = strings.TrimSpace(name)
	if name == "" {
		return Field{}, p.fail(start+lead, "empty field name")
	}
	if !isIdent(name) {
		return Field{}, p.fail(start+lead, "%q is not a valid field name (letters, digits and _, not starting with a digit)", name)
	}
	f := Field{Name: name, Type: Str}
	if hasType {
		tpos := start + strings.Index(part, ":") + 1
		ts := strings.TrimSpace(typ)
		if ts == "" {
			return Field{}, p.fail(tpos, "missing type after \":\" for field %q", name)
		}
		t, err := parseType(ts)
		if err != nil {
			return Field{}, p.fail(tpos+strings.Index(typ, ts), "field %q: %v", name, err)
		}
		f.Type = t
	}
	return f, nil
}

func isIdent(s string) bool {
	for i, r := range s {
		if !(r == '_' || unicode.IsLetter(r) || (i > 0 && unicode.IsDigit(r))) {
			return false
		}
	}
	return s != ""
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
		return scalar(Str, hasArgs, s)
	case "int", "integer":
		return scalar(Int, hasArgs, s)
	case "float", "number":
		return scalar(Float, hasArgs, s)
	case "bool", "boolean":
		return scalar(Bool, hasArgs, s)
	case "any":
		return scalar(Any, hasArgs, s)
	case "list":
		if !hasArgs {
			return ListOf(Any), nil
		}
		e, err := parseType(args)
		if err != nil {
			return Type{}, err
		}
		return ListOf(e), nil
	case "dict":
		if !hasArgs {
			return DictOf(Str, Any), nil
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
	return Type{}, fmt.Errorf("unknown type %q (want str, int, float, bool, Any, list[T], dict[K, V] or Literal[...])", base)
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
	depth, start := 0, 0
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
			out = append(out, strings.TrimSpace(s[start:i]))
			start = i + 1
		}
	}
	if last := strings.TrimSpace(s[start:]); last != "" {
		out = append(out, last)
	}
	return out
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

// WithInstructions returns a copy of s with the given instructions.
func (s *Signature) WithInstructions(instructions string) *Signature {
	c := s.clone()
	c.Instructions = instructions
	return c
}

// PrependOutput returns a copy of s with f as the first output field
// (ChainOfThought adds "reasoning" this way).
func (s *Signature) PrependOutput(f Field) *Signature {
	c := s.clone()
	c.Outputs = append([]Field{f}, s.Outputs...)
	return c
}

// AppendInput returns a copy of s with f as the last input field.
func (s *Signature) AppendInput(f Field) *Signature {
	c := s.clone()
	c.Inputs = append(append([]Field(nil), s.Inputs...), f)
	return c
}

// WithOutputs returns a copy of s with the given output fields.
func (s *Signature) WithOutputs(fs ...Field) *Signature {
	c := s.clone()
	c.Outputs = append([]Field(nil), fs...)
	return c
}

func (s *Signature) clone() *Signature {
	c := *s
	c.Inputs = append([]Field(nil), s.Inputs...)
	c.Outputs = append([]Field(nil), s.Outputs...)
	return &c
}

// TaskInstructions returns Instructions, or DSPy's default text when empty.
func (s *Signature) TaskInstructions() string {
	if s.Instructions != "" {
		return s.Instructions
	}
	return "Given the fields " + backtickList(s.Inputs) + ", produce the fields " + backtickList(s.Outputs) + "."
}

func backtickList(fs []Field) string {
	var b strings.Builder
	for i, f := range fs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("`" + f.Name + "`")
	}
	return b.String()
}

// Input returns the input field with the given name.
func (s *Signature) Input(name string) (Field, bool) { return findField(s.Inputs, name) }

// Output returns the output field with the given name.
func (s *Signature) Output(name string) (Field, bool) { return findField(s.Outputs, name) }

func findField(fs []Field, name string) (Field, bool) {
	for _, f := range fs {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// String renders s in ParseSignature's syntax.
func (s *Signature) String() string {
	var b strings.Builder
	write := func(fs []Field) {
		for i, f := range fs {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(f.Name)
			if f.Type.Kind != KindStr {
				b.WriteString(": " + f.Type.String())
			}
		}
	}
	write(s.Inputs)
	b.WriteString(" -> ")
	write(s.Outputs)
	return b.String()
}

// SignatureOf builds a signature from a struct type's fields. Tags:
//
//	type QA struct {
//		_        struct{} `dspy:"instructions=Answer questions with short factoid answers."`
//		Question string   `dspy:"in"`
//		Answer   string   `dspy:"out,desc=often between 1 and 5 words"`
//	}
//
// The field name is the json tag name if present, else the Go name in
// snake_case; the type comes from the Go type (string, ints, floats, bool,
// slices, maps with string keys; a string field may declare
// `dspy:"out,literal=a|b|c"`). Fields without a dspy tag are ignored.
func SignatureOf[T any]() (*Signature, error) {
	return signatureOfType(reflect.TypeFor[T]())
}

var structSigCache sync.Map // reflect.Type -> *Signature, immutable values

func signatureOfType(rt reflect.Type) (*Signature, error) {
	if v, ok := structSigCache.Load(rt); ok {
		return v.(*Signature), nil
	}
	if rt.Kind() == reflect.Pointer {
		rt = rt.Elem()
	}
	if rt.Kind() != reflect.Struct {
		return nil, fmt.Errorf("dspy: SignatureOf: %v is not a struct", rt)
	}
	sig := &Signature{}
	for i := 0; i < rt.NumField(); i++ {
		sf := rt.Field(i)
		tag, ok := sf.Tag.Lookup("dspy")
		if !ok {
			continue
		}
		if sf.Name == "_" {
			if v, ok := strings.CutPrefix(tag, "instructions="); ok {
				sig.Instructions = v
			}
			continue
		}
		var dir, desc, literal string
		for _, part := range splitTag(tag) {
			switch {
			case part == "in" || part == "out":
				dir = part
			case strings.HasPrefix(part, "desc="):
				desc = strings.TrimPrefix(part, "desc=")
			case strings.HasPrefix(part, "literal="):
				literal = strings.TrimPrefix(part, "literal=")
			default:
				return nil, fmt.Errorf("dspy: SignatureOf(%v): field %s: unknown tag part %q", rt, sf.Name, part)
			}
		}
		if dir == "" {
			return nil, fmt.Errorf("dspy: SignatureOf(%v): field %s: tag needs \"in\" or \"out\"", rt, sf.Name)
		}
		t, err := typeOfGo(sf.Type)
		if err != nil {
			return nil, fmt.Errorf("dspy: SignatureOf(%v): field %s: %w", rt, sf.Name, err)
		}
		if literal != "" {
			t = Literal(strings.Split(literal, "|")...)
		}
		f := Field{Name: goFieldName(sf), Desc: desc, Type: t}
		if dir == "in" {
			sig.Inputs = append(sig.Inputs, f)
		} else {
			sig.Outputs = append(sig.Outputs, f)
		}
	}
	if len(sig.Inputs) == 0 || len(sig.Outputs) == 0 {
		return nil, fmt.Errorf("dspy: SignatureOf(%v): needs at least one `dspy:\"in\"` and one `dspy:\"out\"` field", rt)
	}
	structSigCache.Store(rt, sig)
	return sig, nil
}

// splitTag splits at commas that start a new key (in, out, desc=, literal=),
// so descriptions may contain commas.
func splitTag(tag string) []string {
	var out []string
	for _, p := range strings.Split(tag, ",") {
		t := strings.TrimSpace(p)
		if len(out) > 0 && !(t == "in" || t == "out" || strings.HasPrefix(t, "desc=") || strings.HasPrefix(t, "literal=")) {
			out[len(out)-1] += "," + p
			continue
		}
		out = append(out, t)
	}
	return out
}

func goFieldName(sf reflect.StructField) string {
	if j, ok := sf.Tag.Lookup("json"); ok {
		if n, _, _ := strings.Cut(j, ","); n != "" && n != "-" {
			return n
		}
	}
	return snake(sf.Name)
}

// snake converts a Go name to snake_case: "NextToolArgs" -> "next_tool_args".
func snake(s string) string {
	var b strings.Builder
	rs := []rune(s)
	for i, r := range rs {
		if unicode.IsUpper(r) {
			if i > 0 && (unicode.IsLower(rs[i-1]) || (i+1 < len(rs) && unicode.IsLower(rs[i+1]))) {
				b.WriteByte('_')
			}
			b.WriteRune(unicode.ToLower(r))
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func typeOfGo(t reflect.Type) (Type, error) {
	switch t.Kind() {
	case reflect.String:
		return Str, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return Int, nil
	case reflect.Float32, reflect.Float64:
		return Float, nil
	case reflect.Bool:
		return Bool, nil
	case reflect.Interface:
		return Any, nil
	case reflect.Slice, reflect.Array:
		e, err := typeOfGo(t.Elem())
		if err != nil {
			return Type{}, err
		}
		return ListOf(e), nil
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return Type{}, fmt.Errorf("map key must be a string, not %v", t.Key())
		}
		v, err := typeOfGo(t.Elem())
		if err != nil {
			return Type{}, err
		}
		return DictOf(Str, v), nil
	case reflect.Pointer:
		return typeOfGo(t.Elem())
	case reflect.Struct:
		return DictOf(Str, Any), nil
	}
	return Type{}, fmt.Errorf("unsupported Go type %v", t)
}
