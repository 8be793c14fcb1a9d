package dspy

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/jsonschema-go/jsonschema"
)

// This file holds the argument schemas of tools: generated from a Go type
// with github.com/google/jsonschema-go (the library the MCP Go SDK uses),
// or given as JSON (an MCP server's inputSchema); and the checks a call's
// arguments pass before the tool runs.

// toolSchema is the arguments schema of a tool, with what its calls are
// checked against. It is immutable and shared by tools of one type.
type toolSchema struct {
	root   *jsonschema.Schema
	params map[string]any // root as JSON values, numbers as json.Number
	args   []ToolArg      // the properties in order
	checks map[string]*argCheck
	closed bool // additionalProperties is false: unknown arguments are errors
}

// argCheck is what one top-level argument is checked against.
type argCheck struct {
	schema   *jsonschema.Schema
	types    []string             // the JSON types it may have; nil: any
	resolved *jsonschema.Resolved // nil: only its JSON type is checked
	required bool
}

// Tag names read on argument struct fields, besides json.
const (
	descTag = "desc" // the field's description
	enumTag = "enum" // its allowed values, comma-separated
)

var typedSchemas sync.Map // reflect.Type -> *toolSchema or error (read-only after store)

var mapArgs = reflect.TypeFor[map[string]any]()

// schemaForType returns the schema of a tool argument type: a struct, or
// map[string]any for any object.
func schemaForType(rt reflect.Type) (*toolSchema, error) {
	if v, ok := typedSchemas.Load(rt); ok {
		if err, ok := v.(error); ok {
			return nil, err
		}
		return v.(*toolSchema), nil
	}
	ts, err := buildTypedSchema(rt)
	if err != nil {
		typedSchemas.Store(rt, err)
		return nil, err
	}
	typedSchemas.Store(rt, ts)
	return ts, nil
}

func buildTypedSchema(rt reflect.Type) (*toolSchema, error) {
	var root *jsonschema.Schema
	switch {
	case rt == mapArgs:
		root = &jsonschema.Schema{Type: "object", AdditionalProperties: &jsonschema.Schema{}}
	case rt.Kind() == reflect.Struct:
		var err error
		if root, err = inferSchema(rt); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("argument type %v must be a struct or map[string]any", rt)
	}
	raw, err := json.Marshal(root)
	if err != nil {
		return nil, fmt.Errorf("argument type %v: %w", rt, err)
	}
	params, err := decodeJSONObject(raw)
	if err != nil {
		return nil, fmt.Errorf("argument type %v: %w", rt, err)
	}
	// As DSPy sends tools (format_as_litellm_function_call): both keys
	// always present.
	if _, ok := params["properties"]; !ok {
		params["properties"] = map[string]any{}
	}
	if _, ok := params["required"]; !ok {
		params["required"] = []any{}
	}
	return newToolSchema(root, params, root.PropertyOrder)
}

// inferSchema generates the schema of a struct type. jsonschema-go names
// properties as encoding/json does (the json tag's name, else the Go field
// name) and reads descriptions from the `jsonschema` tag; on top of it:
//   - `desc:"..."` is a description too (godspy's tag, as before);
//   - `enum:"a,b"` lists a scalar field's allowed values;
//   - a pointer field is optional, as an omitempty or omitzero one is;
//   - a required property does not admit null (JSON null counts as absent);
//   - a recursive type is described once under $defs and referenced with
//     $ref (the library reports a cycle);
//   - types that decode themselves get the schema of what they decode:
//     []byte a base64 string, time.Time a date-time string, a
//     TextUnmarshaler a string, another json.Unmarshaler any value.
func inferSchema(rt reflect.Type) (*jsonschema.Schema, error) {
	g := &schemaGen{overrides: map[reflect.Type]*jsonschema.Schema{}, state: map[reflect.Type]int{}, defNames: map[reflect.Type]string{}}
	if err := g.scan(rt); err != nil {
		return nil, fmt.Errorf("argument type %v: %w", rt, err)
	}
	used := map[string]bool{}
	for _, t := range g.recursive {
		name := defName(t)
		for i := 2; used[name]; i++ {
			name = defName(t) + strconv.Itoa(i)
		}
		used[name] = true
		g.defNames[t] = name
		g.overrides[t] = &jsonschema.Schema{Ref: "#/$defs/" + name}
	}
	opts := &jsonschema.ForOptions{TypeSchemas: g.overrides}
	var defs map[string]*jsonschema.Schema
	for _, t := range g.recursive {
		body, err := recursiveBody(t, opts)
		if err != nil {
			return nil, fmt.Errorf("argument type %v: %w", rt, err)
		}
		if err := g.adjustBody(t, body); err != nil {
			return nil, fmt.Errorf("argument type %v: %w", rt, err)
		}
		if defs == nil {
			defs = map[string]*jsonschema.Schema{}
		}
		defs[g.defNames[t]] = body
	}
	var root *jsonschema.Schema
	var err error
	if _, ok := g.defNames[rt]; ok {
		root, err = recursiveBody(rt, opts)
	} else {
		root, err = jsonschema.ForType(rt, opts)
	}
	if err != nil {
		return nil, fmt.Errorf("argument type %v: %w", rt, err)
	}
	if err := g.adjustBody(rt, root); err != nil {
		return nil, fmt.Errorf("argument type %v: %w", rt, err)
	}
	root.Defs = defs
	return root, nil
}

// schemaGen is the state of one inferSchema.
type schemaGen struct {
	overrides map[reflect.Type]*jsonschema.Schema
	state     map[reflect.Type]int // named types: 1 being scanned, 2 done
	recursive []reflect.Type       // in the order found
	defNames  map[reflect.Type]string
}

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
	timeType        = reflect.TypeFor[time.Time]()
	rawMessageType  = reflect.TypeFor[json.RawMessage]()
	slogLevelType   = reflect.TypeFor[slog.Level]()
)

// special returns the schema of a type that encoding/json decodes in its
// own way, or nil.
func special(t reflect.Type) *jsonschema.Schema {
	switch t {
	case timeType:
		return &jsonschema.Schema{Type: "string", Format: "date-time"}
	case slogLevelType:
		return &jsonschema.Schema{Type: "string"}
	case rawMessageType:
		return &jsonschema.Schema{}
	}
	pt := reflect.PointerTo(t)
	switch {
	case pt.Implements(jsonUnmarshaler):
		return &jsonschema.Schema{} // we cannot know what it accepts: the decoder judges
	case pt.Implements(textUnmarshaler):
		return &jsonschema.Schema{Type: "string"}
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8:
		return &jsonschema.Schema{Type: "string", ContentEncoding: "base64"}
	}
	return nil
}

// scan walks the types reachable from t (as encoding/json would reach
// them), records the special ones and finds the named types that recur.
func (g *schemaGen) scan(t reflect.Type) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if _, ok := g.overrides[t]; ok {
		return nil
	}
	if s := special(t); s != nil {
		g.overrides[t] = s
		return nil
	}
	if t.Name() != "" {
		switch g.state[t] {
		case 1:
			if t.Kind() == reflect.Pointer {
				return fmt.Errorf("recursive pointer type %v is not supported", t)
			}
			if !slices.Contains(g.recursive, t) {
				g.recursive = append(g.recursive, t)
			}
			return nil
		case 2:
			return nil
		}
		g.state[t] = 1
		defer func() { g.state[t] = 2 }()
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array, reflect.Map:
		return g.scan(t.Elem())
	case reflect.Struct:
		for _, f := range reflect.VisibleFields(t) {
			if f.Anonymous {
				if err := checkEmbedded(t, f); err != nil {
					return err
				}
				continue
			}
			if _, ok := jsonName(f); !ok {
				continue
			}
			if err := g.scan(f.Type); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkEmbedded refuses the embedded fields that jsonschema-go would
// describe otherwise than encoding/json decodes them: the library flattens
// every embedded struct, encoding/json only an untagged one, and it drops
// other embedded types that encoding/json decodes as named fields.
func checkEmbedded(t reflect.Type, f reflect.StructField) error {
	ft := f.Type
	if ft.Kind() == reflect.Pointer {
		ft = ft.Elem()
	}
	_, tagged := jsonName(f)
	switch {
	case f.Tag.Get("json") == "-":
		return nil
	case ft.Kind() == reflect.Struct && !tagged:
		return nil
	case ft.Kind() != reflect.Struct && !f.IsExported():
		return nil // encoding/json ignores it too
	}
	return fmt.Errorf("embedded field %s in %v is not supported in tool arguments: give it a field name", f.Name, t)
}

// jsonName returns a field's name as encoding/json reads it, and whether
// encoding/json reads it at all.
func jsonName(f reflect.StructField) (string, bool) {
	if !f.IsExported() && !f.Anonymous {
		return "", false
	}
	tag, hasTag := f.Tag.Lookup("json")
	name, _, found := strings.Cut(tag, ",")
	if hasTag && name == "-" && !found {
		return "", false
	}
	if name == "" {
		return f.Name, !f.Anonymous
	}
	return name, true
}

// recursiveBody generates the schema of a recursive named type's contents:
// the library is given an unnamed copy of it, in which the type's own
// occurrences hit its $ref override.
func recursiveBody(t reflect.Type, opts *jsonschema.ForOptions) (*jsonschema.Schema, error) {
	var body reflect.Type
	switch t.Kind() {
	case reflect.Struct:
		var fields []reflect.StructField
		for _, f := range reflect.VisibleFields(t) {
			if f.Anonymous || !f.IsExported() {
				continue
			}
			fields = append(fields, reflect.StructField{Name: f.Name, Type: f.Type, Tag: f.Tag})
		}
		body = reflect.StructOf(fields)
	case reflect.Slice:
		body = reflect.SliceOf(t.Elem())
	case reflect.Array:
		body = reflect.ArrayOf(t.Len(), t.Elem())
	case reflect.Map:
		body = reflect.MapOf(t.Key(), t.Elem())
	default:
		return nil, fmt.Errorf("recursive type %v is not supported", t)
	}
	return jsonschema.ForType(body, opts)
}

// defName is a recursive type's key under $defs: its name, with what a
// JSON pointer or a reader would stumble on replaced.
func defName(t reflect.Type) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '.', r == '-':
			return r
		}
		return '_'
	}, t.Name())
}

// adjust applies godspy's tags and rules to the schema s generated for t,
// walking both together.
func (g *schemaGen) adjust(t reflect.Type, s *jsonschema.Schema) error {
	return g.walk(t, s, false)
}

// adjustBody is adjust for a root or a $defs entry: t's own override (its
// $ref) is what the body replaces.
func (g *schemaGen) adjustBody(t reflect.Type, s *jsonschema.Schema) error {
	return g.walk(t, s, true)
}

func (g *schemaGen) walk(t reflect.Type, s *jsonschema.Schema, body bool) error {
	if s == nil {
		return nil
	}
	ptr := false
	for t.Kind() == reflect.Pointer {
		t, ptr = t.Elem(), true
	}
	if _, ok := g.overrides[t]; ok && !body {
		if ptr && s.Type == "" && slices.Equal(s.Types, []string{"null"}) {
			// The library adds "null" to an override's type for a
			// pointer; an override without a type (a $ref, or any value)
			// would become null-only.
			s.Types = nil
			if s.Ref != "" {
				s.AnyOf = []*jsonschema.Schema{{Ref: s.Ref}, {Type: "null"}}
				s.Ref = ""
			}
		}
		return nil
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		return g.adjust(t.Elem(), s.Items)
	case reflect.Map:
		return g.adjust(t.Elem(), s.AdditionalProperties)
	case reflect.Struct:
	default:
		return nil
	}
	for _, f := range reflect.VisibleFields(t) {
		if f.Anonymous {
			continue
		}
		name, ok := jsonName(f)
		if !ok {
			continue
		}
		p := s.Properties[name]
		if p == nil {
			continue
		}
		if d := f.Tag.Get(descTag); d != "" {
			p.Description = d
		}
		if e, ok := f.Tag.Lookup(enumTag); ok {
			if err := setEnum(t, f, p, e); err != nil {
				return err
			}
		}
		if f.Type.Kind() == reflect.Pointer {
			s.Required = slices.DeleteFunc(s.Required, func(r string) bool { return r == name })
		}
		if slices.Contains(s.Required, name) && slices.Contains(p.Types, "null") {
			p.Types = slices.DeleteFunc(p.Types, func(x string) bool { return x == "null" })
			if len(p.Types) == 1 {
				p.Type, p.Types = p.Types[0], nil
			}
		}
		if err := g.adjust(f.Type, p); err != nil {
			return err
		}
	}
	return nil
}

// setEnum sets the allowed values of a scalar field (or of the elements
// of a slice field), typed as the field is.
func setEnum(t reflect.Type, f reflect.StructField, p *jsonschema.Schema, list string) error {
	ft := f.Type
	for ft.Kind() == reflect.Pointer {
		ft = ft.Elem()
	}
	target := p
	if ft.Kind() == reflect.Slice || ft.Kind() == reflect.Array {
		ft, target = ft.Elem(), p.Items
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
	}
	if target == nil {
		return fmt.Errorf("field %s of %v: enum tag on a field without a schema", f.Name, t)
	}
	var values []any
	for v := range strings.SplitSeq(list, ",") {
		var x any
		var err error
		switch ft.Kind() {
		case reflect.String:
			x = v
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			x, err = strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		case reflect.Float32, reflect.Float64:
			x, err = strconv.ParseFloat(strings.TrimSpace(v), 64)
		case reflect.Bool:
			x, err = strconv.ParseBool(strings.TrimSpace(v))
		default:
			return fmt.Errorf("field %s of %v: enum tag on a %v field (want a string, number or bool, or a slice of one)", f.Name, t, f.Type)
		}
		if err != nil {
			return fmt.Errorf("field %s of %v: enum value %q: %w", f.Name, t, v, err)
		}
		values = append(values, x)
	}
	target.Enum = values
	return nil
}

// schemaFromJSON reads a schema given as JSON, such as an MCP server's
// inputSchema. It must be an object schema (a missing type counts as
// "object"). It is kept as given: the LM sees it unchanged.
func schemaFromJSON(raw json.RawMessage) (*toolSchema, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		raw = json.RawMessage(`{"type":"object"}`)
	}
	params, err := decodeJSONObject(raw)
	if err != nil {
		return nil, fmt.Errorf("input schema: %w", err)
	}
	if ty, ok := params["type"]; ok && ty != "object" {
		return nil, fmt.Errorf("input schema: type is %v, want \"object\"", ty)
	}
	var root jsonschema.Schema
	if err := json.Unmarshal(raw, &root); err != nil {
		return nil, fmt.Errorf("input schema: %w", err)
	}
	order, err := propertyOrder(raw)
	if err != nil {
		return nil, fmt.Errorf("input schema: %w", err)
	}
	return newToolSchema(&root, params, order)
}

// newToolSchema derives the arguments and their checks from a root schema
// and its JSON form.
func newToolSchema(root *jsonschema.Schema, params map[string]any, order []string) (*toolSchema, error) {
	ts := &toolSchema{root: root, params: params, checks: map[string]*argCheck{}}
	if ap := root.AdditionalProperties; ap != nil && ap.Not != nil && isTrue(ap.Not) {
		ts.closed = true
	}
	props, _ := params["properties"].(map[string]any)
	required := map[string]bool{}
	for _, r := range root.Required {
		required[r] = true
	}
	for _, name := range order {
		ps := root.Properties[name]
		if ps == nil {
			continue
		}
		arg := ToolArg{Name: name, Required: required[name], Desc: ps.Description}
		arg.Schema = argSchema(props[name], params)
		ts.args = append(ts.args, arg)
		c := &argCheck{schema: ps, required: arg.Required, types: jsonTypes(ps, root, 0)}
		ts.checks[name] = c
		// Validated by the library where it can be: the property's schema,
		// with the root's definitions, must stand alone. A schema it
		// cannot resolve (a remote $ref, another draft's keywords) is the
		// server's to check.
		if !standsAlone(ps, root) {
			continue
		}
		sub := ps.CloneSchemas()
		if sub.Defs == nil {
			sub.Defs = root.Defs
		}
		if sub.Definitions == nil {
			sub.Definitions = root.Definitions
		}
		sub.Schema = root.Schema
		if r, err := sub.Resolve(nil); err == nil {
			c.resolved = r
		}
	}
	return ts, nil
}

func isTrue(s *jsonschema.Schema) bool {
	b, err := json.Marshal(s)
	return err == nil && string(b) == "true"
}

// decodeJSONObject decodes a JSON object keeping numbers as json.Number,
// so that 0 stays an integer in the prompt's rendering.
func decodeJSONObject(raw []byte) (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, errors.New("not a JSON object")
	}
	return m, nil
}

// propertyOrder returns the keys of the root's "properties" object in the
// order the JSON has them: Go maps have none, and the LM should see the
// arguments in the server's order, as DSPy shows them.
func propertyOrder(raw []byte) ([]string, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		return nil, err
	}
	props, ok := top["properties"]
	if !ok {
		return nil, nil
	}
	d := json.NewDecoder(bytes.NewReader(props))
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.New("properties is not an object")
	}
	var keys []string
	for d.More() {
		tok, err := d.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		var skip json.RawMessage
		if err := d.Decode(&skip); err != nil {
			return nil, err
		}
		if !slices.Contains(keys, key) {
			keys = append(keys, key)
		}
	}
	return keys, nil
}

// argSchema is an argument's schema as ToolArg.Schema and the prompt show
// it: the property's schema without its description, with references to
// the root's $defs resolved as DSPy resolves them; a definition that
// refers to itself cannot be inlined, so it is kept under the argument's
// own $defs, where its $ref still points.
func argSchema(prop any, root map[string]any) map[string]any {
	m, ok := prop.(map[string]any)
	if !ok {
		if b, isBool := prop.(bool); isBool && !b {
			return map[string]any{"not": map[string]any{}}
		}
		return map[string]any{}
	}
	r := refResolver{root: root, recursive: map[string]bool{}, keep: map[string]any{}}
	r.findRecursive()
	out, _ := r.inline(m, 0).(map[string]any)
	out = cloneWithout(out, "description")
	for ref, body := range r.keep {
		section, name := splitRef(ref)
		defs, _ := out[section].(map[string]any)
		if defs == nil {
			defs = map[string]any{}
			out[section] = defs
		}
		defs[name] = body
	}
	return out
}

// refResolver inlines local references ("#/$defs/X", "#/definitions/X").
type refResolver struct {
	root      map[string]any
	recursive map[string]bool // refs whose definition reaches itself
	keep      map[string]any  // recursive refs used, to attach
}

func splitRef(ref string) (section, name string) {
	rest, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return "", ""
	}
	section, name, _ = strings.Cut(rest, "/")
	if section != "$defs" && section != "definitions" {
		return "", ""
	}
	return section, name
}

func (r *refResolver) lookup(ref string) (any, bool) {
	section, name := splitRef(ref)
	if section == "" {
		return nil, false
	}
	defs, _ := r.root[section].(map[string]any)
	d, ok := defs[name]
	return d, ok
}

// findRecursive marks the definitions from which a chain of references
// leads back to themselves.
func (r *refResolver) findRecursive() {
	refsOf := func(v any) []string {
		var out []string
		var walk func(any)
		walk = func(v any) {
			switch x := v.(type) {
			case map[string]any:
				if ref, ok := x["$ref"].(string); ok {
					out = append(out, ref)
				}
				for _, e := range x {
					walk(e)
				}
			case []any:
				for _, e := range x {
					walk(e)
				}
			}
		}
		walk(v)
		return out
	}
	for _, section := range []string{"$defs", "definitions"} {
		defs, _ := r.root[section].(map[string]any)
		for name := range defs {
			start := "#/" + section + "/" + name
			seen := map[string]bool{}
			stack := []string{start}
			for len(stack) > 0 {
				ref := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				d, ok := r.lookup(ref)
				if !ok {
					continue
				}
				for _, next := range refsOf(d) {
					if next == start {
						r.recursive[start] = true
					}
					if !seen[next] {
						seen[next] = true
						stack = append(stack, next)
					}
				}
			}
		}
	}
}

func (r *refResolver) inline(v any, depth int) any {
	if depth > 64 {
		return v
	}
	switch x := v.(type) {
	case map[string]any:
		if ref, ok := x["$ref"].(string); ok {
			if d, found := r.lookup(ref); found {
				if !r.recursive[ref] {
					return r.inline(d, depth+1)
				}
				if _, done := r.keep[ref]; !done {
					r.keep[ref] = nil // placeholder: the body may refer to itself
					r.keep[ref] = r.inline(d, depth+1)
				}
			}
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = r.inline(e, depth+1)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = r.inline(e, depth+1)
		}
		return out
	}
	return v
}

func cloneWithout(m map[string]any, key string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if k != key {
			out[k] = v
		}
	}
	return out
}

// deepClone copies JSON values so that a caller cannot change a tool's.
func deepClone(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = deepClone(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = deepClone(e)
		}
		return out
	}
	return v
}

// follow resolves a local $ref against the root, a few hops at most.
func follow(s, root *jsonschema.Schema) *jsonschema.Schema {
	for range 8 {
		if s == nil || s.Ref == "" {
			return s
		}
		section, name := splitRef(s.Ref)
		var d *jsonschema.Schema
		switch section {
		case "$defs":
			d = root.Defs[name]
		case "definitions":
			d = root.Definitions[name]
		}
		if d == nil {
			return s
		}
		s = d
	}
	return s
}

// jsonTypes returns the JSON types a schema allows, looking through a
// $ref and the alternatives of anyOf or oneOf; nil means any.
func jsonTypes(s, root *jsonschema.Schema, depth int) []string {
	s = follow(s, root)
	if s == nil || depth > 8 {
		return nil
	}
	switch {
	case s.Type != "":
		return []string{s.Type}
	case s.Types != nil:
		return s.Types
	}
	alts := s.AnyOf
	if alts == nil {
		alts = s.OneOf
	}
	if alts == nil {
		return nil
	}
	var out []string
	for _, a := range alts {
		ts := jsonTypes(a, root, depth+1)
		if ts == nil {
			return nil
		}
		for _, t := range ts {
			if !slices.Contains(out, t) {
				out = append(out, t)
			}
		}
	}
	return out
}

// standsAlone reports whether the library can validate against prop on
// its own, given the root's definitions: its references all point into
// them, and no chain of references and in-place applicators (allOf, not,
// ...) leads back to where it started without descending into the value,
// which would recurse in the validator without end.
func standsAlone(prop, root *jsonschema.Schema) bool {
	target := func(ref string) *jsonschema.Schema {
		section, name := splitRef(ref)
		switch {
		case strings.Contains(name, "/"):
			return nil
		case section == "$defs":
			return root.Defs[name]
		case section == "definitions":
			return root.Definitions[name]
		}
		return nil
	}
	// Every schema reachable from prop, through subschemas and references.
	var nodes []*jsonschema.Schema
	seen := map[*jsonschema.Schema]bool{}
	stack := []*jsonschema.Schema{prop}
	for len(stack) > 0 {
		s := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if s == nil || seen[s] {
			continue
		}
		seen[s] = true
		nodes = append(nodes, s)
		if s.DynamicRef != "" || s.ID != "" {
			return false
		}
		if s.Ref != "" {
			d := target(s.Ref)
			if d == nil {
				return false
			}
			stack = append(stack, d)
		}
		eachSubschema(s, func(sub *jsonschema.Schema, _ bool) { stack = append(stack, sub) })
	}
	// A cycle of in-place edges ($ref, allOf, not, ...) among them.
	const (
		onPath = 1
		clear  = 2
	)
	color := map[*jsonschema.Schema]int{}
	var acyclic func(s *jsonschema.Schema) bool
	acyclic = func(s *jsonschema.Schema) bool {
		switch color[s] {
		case onPath:
			return false
		case clear:
			return true
		}
		color[s] = onPath
		ok := s.Ref == "" || acyclic(target(s.Ref))
		eachSubschema(s, func(sub *jsonschema.Schema, inPlace bool) {
			if ok && inPlace && !acyclic(sub) {
				ok = false
			}
		})
		color[s] = clear
		return ok
	}
	for _, n := range nodes {
		if !acyclic(n) {
			return false
		}
	}
	return true
}

var (
	schemaPtrType   = reflect.TypeFor[*jsonschema.Schema]()
	schemaSliceType = reflect.TypeFor[[]*jsonschema.Schema]()
	schemaMapType   = reflect.TypeFor[map[string]*jsonschema.Schema]()
)

// inPlaceKeywords are the applicators that apply their subschemas to the
// same value, not to a part of it.
var inPlaceKeywords = map[string]bool{
	"AllOf": true, "AnyOf": true, "OneOf": true, "Not": true, "If": true, "Then": true, "Else": true,
	"DependentSchemas": true, "DependencySchemas": true,
}

// eachSubschema calls f with every subschema of s but its definitions
// (they count where a $ref reaches them), and whether it applies in place.
func eachSubschema(s *jsonschema.Schema, f func(sub *jsonschema.Schema, inPlace bool)) {
	v := reflect.ValueOf(s).Elem()
	for i := range v.NumField() {
		sf := v.Type().Field(i)
		if sf.Name == "Defs" || sf.Name == "Definitions" {
			continue
		}
		fv := v.Field(i)
		inPlace := inPlaceKeywords[sf.Name]
		switch sf.Type {
		case schemaPtrType:
			if !fv.IsNil() {
				f(fv.Interface().(*jsonschema.Schema), inPlace)
			}
		case schemaSliceType:
			for _, sub := range fv.Interface().([]*jsonschema.Schema) {
				f(sub, inPlace)
			}
		case schemaMapType:
			for _, sub := range fv.Interface().(map[string]*jsonschema.Schema) {
				f(sub, inPlace)
			}
		}
	}
}

// check validates a call's arguments and returns them ready for the tool:
// numeric strings converted where a number is wanted (pydantic's lax mode,
// which DSPy's tools use: LMs write "3" for 3), JSON null dropped (it
// counts as absent). Bad arguments are a *ToolArgError.
func (ts *toolSchema) check(tool string, raw map[string]any) (map[string]any, error) {
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make(map[string]any, len(raw))
	for _, k := range keys {
		v := plainNumbers(normalizeJSON(raw[k]))
		c, ok := ts.checks[k]
		if !ok {
			if ts.closed {
				return nil, &ToolArgError{Tool: tool, Arg: k, Msg: "unknown argument (the tool takes " + ts.argList() + ")"}
			}
			out[k] = v
			continue
		}
		if v == nil {
			continue
		}
		out[k] = coerce(v, c.schema, ts.root, 0)
	}
	for _, a := range ts.args {
		c := ts.checks[a.Name]
		v, ok := out[a.Name]
		if !ok {
			if c.required {
				return nil, &ToolArgError{Tool: tool, Arg: a.Name, Msg: "missing required argument"}
			}
			continue
		}
		if got, ok := typeFits(v, c.types); !ok {
			return nil, &ToolArgError{Tool: tool, Arg: a.Name, Msg: "got JSON " + got + ", want " + wantTypes(c.types)}
		}
		if c.resolved != nil {
			if err := c.resolved.Validate(v); err != nil {
				return nil, &ToolArgError{Tool: tool, Arg: a.Name, Msg: innermost(err).Error()}
			}
		}
	}
	return out, nil
}

func (ts *toolSchema) argList() string {
	if len(ts.args) == 0 {
		return "no arguments"
	}
	names := make([]string, len(ts.args))
	for i, a := range ts.args {
		names[i] = a.Name
	}
	return strings.Join(names, ", ")
}

// innermost returns the error a chain of wrappings ends with: the
// validator wraps its finding in the path of schemas that led to it.
func innermost(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}

// normalizeJSON makes v plain JSON values (map[string]any, []any, float64,
// ...) when a Go caller passed others ([]string, a struct).
func normalizeJSON(v any) any {
	if isJSONValue(v) {
		return v
	}
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // an int64 field beyond 2^53 keeps its value
	var out any
	if dec.Decode(&out) != nil {
		return v
	}
	return plainTree(out)
}

// plainNumbers replaces the json.Numbers in v (a caller decoded with
// UseNumber) with plainNumber's values, copying what it changes: the
// schema validator takes Go numbers, and the caller's maps stay theirs.
func plainNumbers(v any) any {
	if n, ok := v.(json.Number); ok {
		return plainNumber(n)
	}
	return rewrite(v,
		func(_ string, e any) any { return plainNumbers(e) },
		func(_ int, e any) any { return plainNumbers(e) })
}

// rewrite returns v with each element of a map (inMap, by key) or a slice
// (inSlice, by index) replaced by what the function returns for it,
// copying the map or slice only when an element changed (sameValue): the
// caller's values stay theirs. Any other v is returned as it is.
func rewrite(v any, inMap func(k string, e any) any, inSlice func(i int, e any) any) any {
	switch x := v.(type) {
	case map[string]any:
		var out map[string]any
		for k, e := range x {
			if c := inMap(k, e); !sameValue(c, e) {
				if out == nil {
					out = maps.Clone(x)
				}
				out[k] = c
			}
		}
		if out != nil {
			return out
		}
	case []any:
		var out []any
		for i, e := range x {
			if c := inSlice(i, e); !sameValue(c, e) {
				if out == nil {
					out = slices.Clone(x)
				}
				out[i] = c
			}
		}
		if out != nil {
			return out
		}
	}
	return v
}

func isJSONValue(v any) bool {
	switch x := v.(type) {
	case nil, string, bool, float64, json.Number, int, int64, uint64:
		return true
	case map[string]any:
		for _, e := range x {
			if !isJSONValue(e) {
				return false
			}
		}
		return true
	case []any:
		for _, e := range x {
			if !isJSONValue(e) {
				return false
			}
		}
		return true
	}
	return false
}

// coerce converts numeric strings where s wants a number and not a
// string, through objects and arrays; it copies what it changes.
func coerce(v any, s, root *jsonschema.Schema, depth int) any {
	s = follow(s, root)
	if s == nil || depth > 64 {
		return v
	}
	switch x := v.(type) {
	case string:
		types := jsonTypes(s, root, 0)
		if slices.Contains(types, "string") {
			return v
		}
		t := strings.TrimSpace(x)
		if slices.Contains(types, "integer") {
			if n, err := strconv.ParseInt(t, 10, 64); err == nil {
				return n
			}
		}
		if slices.Contains(types, "number") {
			if f, err := strconv.ParseFloat(t, 64); err == nil {
				return f
			}
		}
	}
	return rewrite(v,
		func(k string, e any) any {
			sub := s.Properties[k]
			if sub == nil {
				sub = s.AdditionalProperties
			}
			return coerce(e, sub, root, depth+1)
		},
		func(i int, e any) any {
			sub := s.Items
			if i < len(s.PrefixItems) {
				sub = s.PrefixItems[i]
			}
			return coerce(e, sub, root, depth+1)
		})
}

// sameValue reports whether rewrite's function returned its input
// unchanged.
func sameValue(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		return ok && reflect.ValueOf(x).UnsafePointer() == reflect.ValueOf(y).UnsafePointer()
	case []any:
		y, ok := b.([]any)
		return ok && len(x) == len(y) && (len(x) == 0 || &x[0] == &y[0])
	}
	return a == b
}

// typeFits reports whether v has one of the JSON types, and v's type.
func typeFits(v any, types []string) (string, bool) {
	got := "?"
	switch x := v.(type) {
	case string:
		got = "string"
	case bool:
		got = "bool"
	case map[string]any:
		got = "object"
	case []any:
		got = "array"
	case int, int64, uint64:
		got = "integer"
	case float64:
		got = "number"
		if x == float64(int64(x)) {
			got = "integer"
		}
	case json.Number:
		got = "number"
		if _, err := x.Int64(); err == nil {
			got = "integer"
		}
	}
	if types == nil {
		return got, true
	}
	for _, t := range types {
		if t == got || t == "number" && got == "integer" || t == "boolean" && got == "bool" {
			return got, true
		}
	}
	switch got {
	case "integer":
		got = "number"
	case "number":
		got = "number " + fmt.Sprint(v)
	}
	return got, false
}

func wantTypes(types []string) string {
	var want []string
	for _, t := range types {
		if t != "null" {
			want = append(want, t)
		}
	}
	return strings.Join(want, " or ")
}
