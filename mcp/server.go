package mcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"strings"

	"github.com/google/jsonschema-go/jsonschema"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/godspy/dspy"
)

// Server serves godspy programs as MCP tools.
type Server struct {
	srv *sdk.Server
}

// NewServer returns a server that names itself name and version to its
// clients, with no tools yet.
func NewServer(name, version string) *Server {
	return &Server{srv: sdk.NewServer(&sdk.Implementation{Name: name, Version: version}, nil)}
}

// ModuleOption configures a module served as a tool.
type ModuleOption interface{ applyModule(*moduleConfig) }

type moduleConfig struct {
	sig *dspy.Signature
}

type moduleOptionFunc func(*moduleConfig)

func (f moduleOptionFunc) applyModule(c *moduleConfig) { f(c) }

// WithSignature gives the signature of a module that has no Signature
// method (a pipeline of modules): its inputs are the tool's arguments.
func WithSignature(sig *dspy.Signature) ModuleOption {
	return moduleOptionFunc(func(c *moduleConfig) { c.sig = sig })
}

// AddModule serves m as the tool name: its signature's inputs (from m's
// Signature method, or WithSignature) are the tool's input schema, all
// required; a call runs m with the call's ctx (the client cancelling the
// call cancels the run) and returns the prediction's fields as structured
// content, and as JSON text for clients that read only text. A module
// error is the call's error result (isError), which an agent shows its LM;
// so is a panic in the module. desc is the tool's description for the
// client's LM; empty, it is made from the signature.
func (s *Server) AddModule(name, desc string, m dspy.Module, opts ...ModuleOption) error {
	var cfg moduleConfig
	for _, o := range opts {
		o.applyModule(&cfg)
	}
	sig := cfg.sig
	if sig == nil {
		sm, ok := m.(interface{ Signature() *dspy.Signature })
		if !ok {
			return fmt.Errorf("mcp: AddModule %s: %T has no Signature method: give it WithSignature", name, m)
		}
		sig = sm.Signature()
	}
	if sig == nil {
		return fmt.Errorf("mcp: AddModule %s: nil signature", name)
	}
	if desc == "" {
		desc = describe(sig)
	}
	in := objectSchema(sig.Inputs(), true)
	out := objectSchema(sig.Outputs(), false)
	tool := &sdk.Tool{Name: name, Description: desc, InputSchema: in, OutputSchema: out}
	sdk.AddTool(s.srv, tool, func(ctx context.Context, _ *sdk.CallToolRequest, args map[string]any) (_ *sdk.CallToolResult, _ map[string]any, err error) {
		defer func() {
			if r := recover(); r != nil {
				err = &dspy.PanicError{Value: r, Stack: debug.Stack()}
			}
		}()
		pred, err := dspy.Call(ctx, m, dspy.Inputs(args))
		if err != nil {
			return nil, nil, err
		}
		// The text is the prediction in signature order, as an LM reading
		// only text should see it.
		text, err := json.Marshal(pred)
		if err != nil {
			return nil, nil, err
		}
		return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: string(text)}}}, pred.Fields(), nil
	})
	return nil
}

// describe is a served module's default description.
func describe(sig *dspy.Signature) string {
	names := func(fs []dspy.Field) string {
		out := make([]string, len(fs))
		for i, f := range fs {
			out[i] = "`" + f.Name + "`"
		}
		return strings.Join(out, ", ")
	}
	text := "A godspy program: given " + names(sig.Inputs()) + ", it produces " + names(sig.Outputs()) + "."
	if instr := sig.Instructions(); instr != "" && !strings.HasPrefix(instr, "Given the fields ") {
		text += " " + instr
	}
	return text
}

// objectSchema is the JSON schema of an object with one property per
// field, typed as the field is. The inputs are all required and no others
// allowed; the outputs are required, and a module may add fields
// (ChainOfThought's reasoning).
func objectSchema(fields []dspy.Field, closed bool) *jsonschema.Schema {
	s := &jsonschema.Schema{Type: "object", Properties: map[string]*jsonschema.Schema{}, Required: []string{}}
	for _, f := range fields {
		p := typeSchema(f.Type)
		p.Description = f.Desc
		s.Properties[f.Name] = p
		s.PropertyOrder = append(s.PropertyOrder, f.Name)
		s.Required = append(s.Required, f.Name)
	}
	if closed {
		s.AdditionalProperties = &jsonschema.Schema{Not: &jsonschema.Schema{}}
	}
	return s
}

// typeSchema is the JSON schema of a field type's values.
func typeSchema(t dspy.Type) *jsonschema.Schema {
	switch t.Kind() {
	case dspy.KindStr:
		return &jsonschema.Schema{Type: "string"}
	case dspy.KindInt:
		return &jsonschema.Schema{Type: "integer"}
	case dspy.KindFloat:
		return &jsonschema.Schema{Type: "number"}
	case dspy.KindBool:
		return &jsonschema.Schema{Type: "boolean"}
	case dspy.KindList:
		return &jsonschema.Schema{Type: "array", Items: typeSchema(t.Elem())}
	case dspy.KindDict:
		return &jsonschema.Schema{Type: "object", AdditionalProperties: typeSchema(t.Elem())}
	case dspy.KindLiteral:
		var vals []any
		for _, v := range t.Values() {
			vals = append(vals, v)
		}
		return &jsonschema.Schema{Type: "string", Enum: vals}
	}
	return &jsonschema.Schema{}
}

// Handler returns the streamable HTTP handler of the server, to mount at
// a path such as /mcp. It keeps the SDK's protection against DNS
// rebinding (a request to a loopback address with another Host is
// refused) and refuses cross-origin browser requests.
func (s *Server) Handler() http.Handler {
	h := sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return s.srv }, nil)
	return http.NewCrossOriginProtection().Handler(h)
}

// Run serves one session over t until the client ends it or ctx is
// cancelled.
func (s *Server) Run(ctx context.Context, t sdk.Transport) error {
	err := s.srv.Run(ctx, t)
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return nil
	}
	return err
}

// ServeStdio serves one session over the process's stdin and stdout (as
// Claude Desktop and IDEs start a server) until the client ends it or ctx
// is cancelled. Nothing else may write to stdout meanwhile.
func (s *Server) ServeStdio(ctx context.Context) error {
	return s.Run(ctx, &sdk.StdioTransport{})
}
