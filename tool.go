package dspy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/godspy/dspy/lm"
)

// Tool is a function an agent (ReAct) can call. Build one from a typed Go
// function with NewTool: its argument struct gives the names, JSON types,
// descriptions and required-ness of the arguments. A Tool is immutable and
// safe for concurrent use.
type Tool struct {
	name  string
	desc  string
	args  []ToolArg
	fn    func(ctx context.Context, args map[string]any) (any, error)
	noCtx bool // made by NewToolFunc: not cancellable
}

// ToolArg describes one argument of a tool.
type ToolArg struct {
	Name     string
	Desc     string
	Required bool
	// Schema is the argument's JSON schema ({"type": "integer"}, ...).
	Schema  map[string]any
	goName  string
	jsonKey string // the key encoding/json matches to the field
}

// ToolArgError reports arguments that do not fit a tool's schema.
type ToolArgError struct {
	Tool string
	Arg  string // the argument at fault
	Msg  string
}

func (e *ToolArgError) Error() string {
	return fmt.Sprintf("dspy: tool %s: argument %q: %s", e.Tool, e.Arg, e.Msg)
}

// NewTool makes a tool of fn. A is a struct whose exported fields are the
// arguments (named by their json tag, else in snake_case; `desc:"..."` adds a
// description; a pointer or `json:",omitempty"` field is optional), or
// map[string]any to accept any object. The function receives the call's ctx
// and should return when it is cancelled.
//
// An A that is neither a struct nor map[string]any panics, as a malformed
// literal does: it is a mistake in the program, found the first time the
// line runs, not a condition of its input.
func NewTool[A, R any](name, desc string, fn func(ctx context.Context, args A) (R, error)) *Tool {
	t := &Tool{name: name, desc: desc, args: mustToolArgs(reflect.TypeFor[A]())}
	t.fn = func(ctx context.Context, raw map[string]any) (any, error) {
		a, err := decodeArgs[A](t, raw)
		if err != nil {
			return nil, err
		}
		return fn(ctx, a)
	}
	return t
}

// NewToolFunc makes a tool of a function that takes no context. Such a tool
// cannot be cancelled: a call, and the agent that made it, returns only when
// the function does, even after the call's ctx is cancelled. That keeps
// every goroutine owned; use NewTool for work that should stop early.
func NewToolFunc[A, R any](name, desc string, fn func(args A) (R, error)) *Tool {
	t := NewTool(name, desc, func(_ context.Context, a A) (R, error) { return fn(a) })
	t.noCtx = true
	return t
}

// Cancellable reports whether the tool's function receives the call's ctx.
func (t *Tool) Cancellable() bool { return !t.noCtx }

// Name returns the tool's name.
func (t *Tool) Name() string { return t.name }

// Desc returns the tool's description.
func (t *Tool) Desc() string { return t.desc }

// Args returns the tool's arguments in declaration order.
func (t *Tool) Args() []ToolArg { return append([]ToolArg(nil), t.args...) }

// Spec returns the tool's description for native tool calling.
func (t *Tool) Spec() lm.ToolSpec {
	return lm.ToolSpec{Name: t.name, Description: t.desc, Parameters: t.Parameters()}
}

// Parameters returns the JSON schema of the arguments object, as native tool
// calling sends it.
func (t *Tool) Parameters() map[string]any {
	props := map[string]any{}
	required := []string{}
	for _, a := range t.args {
		s := map[string]any{}
		for k, v := range a.Schema {
			s[k] = v
		}
		if a.Desc != "" {
			s["description"] = a.Desc
		}
		props[a.Name] = s
		if a.Required {
			required = append(required, a.Name)
		}
	}
	return map[string]any{"type": "object", "properties": props, "required": required}
}

// Call runs the tool with JSON-like arguments (as an LM writes them). Bad
// arguments are a *ToolArgError naming the argument. Trace tool hooks fire.
func (t *Tool) Call(ctx context.Context, args map[string]any) (any, error) {
	return t.call(ctx, "", args)
}

// call is Call with the LM's id for the call, for the trace hooks.
func (t *Tool) call(ctx context.Context, toolCallID string, args map[string]any) (any, error) {
	s := current(ctx)
	if len(s.traces) == 0 {
		return t.run(ctx, args)
	}
	ctx, _, info := beginCall(ctx)
	begin := ToolStartInfo{CallInfo: info, Tool: t, Args: args, ToolCallID: toolCallID}
	ctx = derive(ctx, &s, begin)
	fire(ctx, &s, func(tr *Trace) func(context.Context, ToolStartInfo) { return tr.ToolStart }, begin)
	start := time.Now()
	res, err := t.run(ctx, args)
	fire(ctx, &s, func(tr *Trace) func(context.Context, ToolEndInfo) { return tr.ToolEnd },
		ToolEndInfo{CallInfo: info, Tool: t, Result: res, Err: err, ToolCallID: toolCallID, Duration: time.Since(start)})
	return res, err
}

func (t *Tool) run(ctx context.Context, args map[string]any) (any, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// A tool made with NewToolFunc ignores ctx: it runs to its end, and the
	// caller waits, so no goroutine outlives the call.
	return t.fn(ctx, args)
}

// ACall starts the tool and returns its Future.
func (t *Tool) ACall(ctx context.Context, args map[string]any) *Future[any] {
	return Go(ctx, func(ctx context.Context) (any, error) { return t.Call(ctx, args) })
}

var toolArgsCache sync.Map // reflect.Type -> []ToolArg (read-only after store)

var mapArgs = reflect.TypeFor[map[string]any]()

func mustToolArgs(rt reflect.Type) []ToolArg {
	if v, ok := toolArgsCache.Load(rt); ok {
		return v.([]ToolArg)
	}
	var args []ToolArg
	switch {
	case rt == mapArgs:
	case rt.Kind() == reflect.Struct:
		for i := 0; i < rt.NumField(); i++ {
			sf := rt.Field(i)
			if !sf.IsExported() {
				continue
			}
			name, opts, _ := strings.Cut(sf.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			key := name
			if name == "" {
				name = snake(sf.Name)
				key = sf.Name
			}
			args = append(args, ToolArg{
				Name:     name,
				Desc:     sf.Tag.Get("desc"),
				Required: sf.Type.Kind() != reflect.Pointer && !strings.Contains(opts, "omitempty"),
				Schema:   jsonSchema(sf.Type),
				goName:   sf.Name,
				jsonKey:  key,
			})
		}
	default:
		panic(fmt.Sprintf("dspy: NewTool: argument type %v must be a struct or map[string]any", rt))
	}
	toolArgsCache.Store(rt, args)
	return args
}

// jsonSchema returns the JSON schema of a Go type.
func jsonSchema(t reflect.Type) map[string]any {
	switch t.Kind() {
	case reflect.Pointer:
		return jsonSchema(t.Elem())
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": "array", "items": jsonSchema(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": true}
	case reflect.Struct:
		props := map[string]any{}
		for i := 0; i < t.NumField(); i++ {
			sf := t.Field(i)
			if !sf.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if name == "" {
				name = snake(sf.Name)
			}
			props[name] = jsonSchema(sf.Type)
		}
		return map[string]any{"type": "object", "properties": props}
	}
	return map[string]any{}
}

// decodeArgs validates raw against the tool's arguments and decodes it.
// Like pydantic's lax mode, which DSPy's tools use, a string holding a
// number is accepted for a number argument: LMs write "3" for 3.
func decodeArgs[A any](t *Tool, raw map[string]any) (A, error) {
	var a A
	if reflect.TypeFor[A]() == mapArgs {
		if raw == nil {
			raw = map[string]any{}
		}
		return any(raw).(A), nil
	}
	// Keyed as encoding/json expects: the json tag's name, else the Go
	// field name (an untagged field's argument name is its snake_case).
	byKey := make(map[string]any, len(raw))
	for k, v := range raw {
		arg, ok := t.arg(k)
		if !ok {
			return a, &ToolArgError{Tool: t.name, Arg: k, Msg: "unknown argument (the tool takes " + t.argList() + ")"}
		}
		if s, ok := v.(string); ok {
			switch arg.Schema["type"] {
			case "integer":
				if n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64); err == nil {
					v = n
				}
			case "number":
				if f, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil {
					v = f
				}
			}
		}
		byKey[arg.jsonKey] = v
	}
	for _, arg := range t.args {
		// JSON null counts as absent: it would leave the field's zero value.
		if v, ok := raw[arg.Name]; (!ok || v == nil) && arg.Required {
			return a, &ToolArgError{Tool: t.name, Arg: arg.Name, Msg: "missing required argument"}
		}
	}
	b, err := json.Marshal(byKey)
	if err != nil {
		return a, fmt.Errorf("dspy: tool %s: arguments: %w", t.name, err)
	}
	if err := json.Unmarshal(b, &a); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			name := te.Field
			for _, arg := range t.args {
				if strings.EqualFold(arg.jsonKey, te.Field) || strings.HasPrefix(te.Field, arg.jsonKey+".") || arg.goName == te.Field {
					name = arg.Name
				}
			}
			return a, &ToolArgError{Tool: t.name, Arg: name, Msg: fmt.Sprintf("got JSON %s, want %v", te.Value, schemaType(t, name))}
		}
		return a, fmt.Errorf("dspy: tool %s: arguments: %w", t.name, err)
	}
	return a, nil
}

func schemaType(t *Tool, name string) any {
	if arg, ok := t.arg(name); ok {
		return arg.Schema["type"]
	}
	return "?"
}

func (t *Tool) arg(name string) (ToolArg, bool) {
	for _, a := range t.args {
		if a.Name == name {
			return a, true
		}
	}
	return ToolArg{}, false
}

func (t *Tool) argList() string {
	if len(t.args) == 0 {
		return "no arguments"
	}
	names := make([]string, len(t.args))
	for i, a := range t.args {
		names[i] = a.Name
	}
	return strings.Join(names, ", ")
}
