package dspy

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"unicode"
)

// Field is one input or output of a signature.
type Field struct {
	Name string
	// Desc is the field's description, shown in prompts as "(type): desc".
	Desc string
	Type Type
}

// Signature declares what a module takes and produces. A Signature is
// immutable: its fields are reached through methods that return copies, and
// the With* methods return modified copies, so one value can be shared by
// many goroutines and a prompt built from it (adapters cache them per
// signature) can never go stale.
type Signature struct {
	// instructions is the task description. Empty means DSPy's default,
	// "Given the fields `a`, `b`, produce the fields `c`."
	instructions string
	inputs       []Field
	outputs      []Field
}

// NewSignature returns a signature with the given input and output fields,
// in order, and DSPy's default instructions (see WithInstructions). Each
// side needs at least one field; names must be identifiers (letters, digits
// and _, not starting with a digit) and unique across both sides. The error
// is a *SignatureError whose Input is the signature in ParseSignature's
// syntax and whose Pos is -1.
func NewSignature(inputs, outputs []Field) (*Signature, error) {
	s := &Signature{inputs: slices.Clone(inputs), outputs: slices.Clone(outputs)}
	if err := s.check(); err != nil {
		return nil, err
	}
	return s, nil
}

// check validates field names, for signatures not built by the parser.
func (s *Signature) check() error {
	fail := func(format string, args ...any) error {
		return &SignatureError{Input: s.String(), Pos: -1, Msg: fmt.Sprintf(format, args...)}
	}
	if len(s.inputs) == 0 {
		return fail("no inputs")
	}
	if len(s.outputs) == 0 {
		return fail("no outputs")
	}
	seen := make(map[string]bool, len(s.inputs)+len(s.outputs))
	for _, f := range slices.Concat(s.inputs, s.outputs) {
		if !isIdent(f.Name) {
			return fail("%q is not a valid field name (letters, digits and _, not starting with a digit)", f.Name)
		}
		if seen[f.Name] {
			return fail("duplicate field name %q", f.Name)
		}
		seen[f.Name] = true
	}
	return nil
}

// CheckInputs reports whether in fits s: every input field given, no other
// field, and each value of the field's type. Python DSPy does not check
// types; a wrong-typed input here never reaches the LM. The error is an
// *InputError. Accepted values, per type: str a string; int an integer, a
// float with an integral value, or a string holding an integer (as
// pydantic's lax mode); float a number or a numeric string; bool a bool or
// "true"/"false"; Literal one of its values; list[T] a slice or array of T;
// dict[K, V] a map with string keys and V values; Any anything.
func (s *Signature) CheckInputs(in Inputs) error {
	for _, f := range s.inputs {
		v, ok := in[f.Name]
		if !ok {
			return &InputError{Signature: s, Field: f.Name, Missing: true}
		}
		if got, ok := f.Type.accepts(v); !ok {
			return &InputError{Signature: s, Field: f.Name, Want: f.Type.String(), Got: got}
		}
	}
	if len(in) > len(s.inputs) {
		for k := range in {
			if _, ok := s.Input(k); !ok {
				return &InputError{Signature: s, Field: k}
			}
		}
	}
	return nil
}

// Inputs returns a copy of the input fields, in order.
func (s *Signature) Inputs() []Field { return slices.Clone(s.inputs) }

// Outputs returns a copy of the output fields, in order.
func (s *Signature) Outputs() []Field { return slices.Clone(s.outputs) }

// SignatureError reports a malformed signature. Pos is the byte offset in
// Input where ParseSignature found the problem, or -1 for a signature built
// from fields (NewSignature).
type SignatureError struct {
	Input string
	Pos   int
	Msg   string
}

func (e *SignatureError) Error() string {
	if e.Pos < 0 {
		return fmt.Sprintf("dspy: bad signature %q: %s", e.Input, e.Msg)
	}
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
	return &Signature{inputs: ins, outputs: outs}, nil
}

// fields parses the comma-separated field list in src[start:end]; pos holds
// the offset of each field's name.
func (p *sigParser) fields(start, end int, side string) (out []Field, pos []int, err error) {
	if strings.TrimSpace(p.src[start:end]) == "" {
		return nil, nil, p.fail(start, "no %s: the %s side is empty", side, side)
	}
	i := start
	for i <= end {
		j := i + topComma(p.src[i:end])
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
	f := Field{Name: name, Type: Str()}
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

// WithInstructions returns a copy of s with the given instructions.
func (s *Signature) WithInstructions(instructions string) *Signature {
	c := s.clone()
	c.instructions = instructions
	return c
}

// PrependOutput returns a copy of s with f as the first output field
// (ChainOfThought adds "reasoning" this way).
func (s *Signature) PrependOutput(f Field) *Signature {
	c := s.clone()
	c.outputs = append([]Field{f}, s.outputs...)
	return c
}

// AppendInput returns a copy of s with f as the last input field.
func (s *Signature) AppendInput(f Field) *Signature {
	c := s.clone()
	c.inputs = append(append([]Field(nil), s.inputs...), f)
	return c
}

// WithOutputs returns a copy of s with the given output fields.
func (s *Signature) WithOutputs(fs ...Field) *Signature {
	c := s.clone()
	c.outputs = append([]Field(nil), fs...)
	return c
}

func (s *Signature) clone() *Signature {
	c := *s
	c.inputs = append([]Field(nil), s.inputs...)
	c.outputs = append([]Field(nil), s.outputs...)
	return &c
}

// Instructions returns Instructions, or DSPy's default text when empty.
func (s *Signature) Instructions() string {
	if s.instructions != "" {
		return s.instructions
	}
	return "Given the fields " + backtickList(s.inputs) + ", produce the fields " + backtickList(s.outputs) + "."
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
func (s *Signature) Input(name string) (Field, bool) { return findField(s.inputs, name) }

// Output returns the output field with the given name.
func (s *Signature) Output(name string) (Field, bool) { return findField(s.outputs, name) }

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
			if f.Type.kind != KindStr {
				b.WriteString(": " + f.Type.String())
			}
		}
	}
	write(s.inputs)
	b.WriteString(" -> ")
	write(s.outputs)
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
// slices, maps with string keys, dspy.History; a string field may declare
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
				sig.instructions = v
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
			sig.inputs = append(sig.inputs, f)
		} else {
			sig.outputs = append(sig.outputs, f)
		}
	}
	if len(sig.inputs) == 0 || len(sig.outputs) == 0 {
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
	if t == reflect.TypeFor[History]() {
		return HistoryType(), nil
	}
	switch t.Kind() {
	case reflect.String:
		return Str(), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return Int(), nil
	case reflect.Float32, reflect.Float64:
		return Float(), nil
	case reflect.Bool:
		return Bool(), nil
	case reflect.Interface:
		return Any(), nil
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
		return DictOf(Str(), v), nil
	case reflect.Pointer:
		return typeOfGo(t.Elem())
	case reflect.Struct:
		return DictOf(Str(), Any()), nil
	}
	return Type{}, fmt.Errorf("unsupported Go type %v", t)
}
