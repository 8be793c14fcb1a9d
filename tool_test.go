package dspy_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/godspy/dspy"
)

type weatherArgs struct {
	City  string   `json:"city" desc:"the city name"`
	Days  *int     `json:"days,omitempty" desc:"forecast length"`
	Units string   `json:",omitempty" enum:"metric,imperial"`
	Tags  []string // untagged: named as encoding/json names it, Tags
	Query string   `json:"q"` // tag name unlike the Go name
	Geo   struct {
		Lat float64 `json:"lat"`
	} `json:"geo,omitempty"`
	secret string //lint:ignore U1000 unexported on purpose: not an argument
	Skip   bool   `json:"-"`
}

// jsonValue decodes JSON as Parameters returns it (numbers as json.Number).
func jsonValue(t *testing.T, s string) map[string]any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatalf("bad JSON in test: %v\n%s", err, s)
	}
	return m
}

func TestToolSchemaFromTypedArgs(t *testing.T) {
	tool := dspy.NewTool("weather", "Get the weather.", func(_ context.Context, a weatherArgs) (string, error) { return "", nil })
	wantArgs := []dspy.ToolArg{
		{Name: "city", Desc: "the city name", Required: true, Schema: map[string]any{"type": "string"}},
		{Name: "days", Desc: "forecast length", Schema: map[string]any{"type": []any{"null", "integer"}}},
		{Name: "Units", Schema: map[string]any{"type": "string", "enum": []any{"metric", "imperial"}}},
		{Name: "Tags", Required: true, Schema: map[string]any{"type": "array", "items": map[string]any{"type": "string"}}},
		{Name: "q", Required: true, Schema: map[string]any{"type": "string"}},
		{Name: "geo", Schema: map[string]any{"type": "object", "additionalProperties": false,
			"properties": map[string]any{"lat": map[string]any{"type": "number"}}, "required": []any{"lat"}}},
	}
	if diff := cmp.Diff(wantArgs, tool.Args()); diff != "" {
		t.Errorf("NewTool(weatherArgs).Args() (-want +got):\n%s", diff)
	}
	wantParams := jsonValue(t, `{
		"type": "object",
		"properties": {
			"city": {"type": "string", "description": "the city name"},
			"days": {"type": ["null", "integer"], "description": "forecast length"},
			"Units": {"type": "string", "enum": ["metric", "imperial"]},
			"Tags": {"type": "array", "items": {"type": "string"}},
			"q": {"type": "string"},
			"geo": {"type": "object", "properties": {"lat": {"type": "number"}}, "required": ["lat"], "additionalProperties": false}
		},
		"required": ["city", "Tags", "q"],
		"additionalProperties": false
	}`)
	if diff := cmp.Diff(wantParams, tool.Parameters()); diff != "" {
		t.Errorf("Parameters() (-want +got):\n%s", diff)
	}
	spec := tool.Spec()
	if spec.Name != "weather" || spec.Description != "Get the weather." || !cmp.Equal(spec.Parameters, wantParams) {
		t.Errorf("Spec() = %+v", spec)
	}
	if !tool.Cancellable() {
		t.Error("NewTool: Cancellable() = false, want true")
	}
	// Parameters and Args are copies.
	tool.Parameters()["properties"].(map[string]any)["city"].(map[string]any)["type"] = "integer"
	tool.Args()[0].Schema["type"] = "integer"
	if diff := cmp.Diff(wantParams, tool.Parameters()); diff != "" {
		t.Errorf("Parameters() after changing a copy (-want +got):\n%s", diff)
	}

	free := dspy.NewTool("free", "", func(_ context.Context, a map[string]any) (int, error) { return len(a), nil })
	if len(free.Args()) != 0 {
		t.Errorf("map tool Args() = %v, want none", free.Args())
	}
	if diff := cmp.Diff(jsonValue(t, `{"type": "object", "additionalProperties": true, "properties": {}, "required": []}`), free.Parameters()); diff != "" {
		t.Errorf("map tool Parameters() (-want +got):\n%s", diff)
	}
	if got, err := free.Call(context.Background(), map[string]any{"a": 1, "b": 2}); err != nil || got != 2 {
		t.Errorf("map tool Call = %v, %v; want 2, nil", got, err)
	}
}

// Types of the schema table.
type (
	address struct {
		StreetName string // untagged: "StreetName", as encoding/json decodes it
		City       string `json:"city"`
	}
	person struct {
		Name string  `json:"name"`
		Home address `json:"home"`
	}
	base struct {
		ID      string `json:"id" desc:"the record's id"`
		Version int    `json:"version,omitempty"`
	}
	withBase struct {
		base        // embedded: its fields are the object's, as encoding/json flattens them
		Note string `json:"note"`
	}
	node struct {
		Name     string `json:"name"`
		Children []node `json:"children,omitempty"`
	}
	treeArgs struct {
		Root node  `json:"root" desc:"the tree"`
		Best *node `json:"best"`
	}
	// Two types that refer to each other.
	dept struct {
		Name string `json:"name"`
		Head *emp   `json:"head"`
	}
	emp struct {
		Name string `json:"name"`
		Dept *dept  `json:"dept"`
	}
	orgArgs struct {
		Dept dept `json:"dept"`
	}
	scalarArgs struct {
		N    *int      `json:"n"`
		U8   uint8     `json:"u8"`
		F    float32   `json:"f"`
		On   bool      `json:"on"`
		Data []byte    `json:"data"`
		At   time.Time `json:"at"`
		When *time.Time
		V    any             `json:"v"`
		Raw  json.RawMessage `json:"raw,omitempty"`
	}
	mapArgs struct {
		Counts map[string]int    `json:"counts"`
		Nested map[string][]bool `json:"nested,omitempty"`
	}
	enumArgs struct {
		Unit   string   `json:"unit" enum:"celsius,fahrenheit" desc:"the scale"`
		Level  int      `json:"level" enum:"1,2,3"`
		Ratio  *float64 `json:"ratio,omitempty" enum:"0.5,1"`
		Colors []string `json:"colors,omitempty" enum:"red,green"`
	}
)

func TestToolSchemas(t *testing.T) {
	tests := []struct {
		name   string
		tool   *dspy.Tool
		schema string // Parameters(), exactly
	}{
		{"nested", dspy.NewTool("t", "", func(context.Context, person) (int, error) { return 0, nil }), `{
			"type": "object",
			"properties": {
				"name": {"type": "string"},
				"home": {"type": "object", "properties": {"StreetName": {"type": "string"}, "city": {"type": "string"}},
					"required": ["StreetName", "city"], "additionalProperties": false}
			},
			"required": ["name", "home"],
			"additionalProperties": false
		}`},
		{"embedded", dspy.NewTool("t", "", func(context.Context, withBase) (int, error) { return 0, nil }), `{
			"type": "object",
			"properties": {
				"id": {"type": "string", "description": "the record's id"},
				"version": {"type": "integer"},
				"note": {"type": "string"}
			},
			"required": ["id", "note"],
			"additionalProperties": false
		}`},
		{"recursive", dspy.NewTool("t", "", func(context.Context, treeArgs) (int, error) { return 0, nil }), `{
			"type": "object",
			"properties": {
				"root": {"$ref": "#/$defs/node", "description": "the tree"},
				"best": {"anyOf": [{"$ref": "#/$defs/node"}, {"type": "null"}]}
			},
			"required": ["root"],
			"additionalProperties": false,
			"$defs": {
				"node": {"type": "object", "properties": {"name": {"type": "string"}, "children": {"type": ["null", "array"], "items": {"$ref": "#/$defs/node"}}},
					"required": ["name"], "additionalProperties": false}
			}
		}`},
		{"recursive root", dspy.NewTool("t", "", func(context.Context, node) (int, error) { return 0, nil }), `{
			"type": "object",
			"properties": {"name": {"type": "string"}, "children": {"type": ["null", "array"], "items": {"$ref": "#/$defs/node"}}},
			"required": ["name"],
			"additionalProperties": false,
			"$defs": {
				"node": {"type": "object", "properties": {"name": {"type": "string"}, "children": {"type": ["null", "array"], "items": {"$ref": "#/$defs/node"}}},
					"required": ["name"], "additionalProperties": false}
			}
		}`},
		{"mutually recursive", dspy.NewTool("t", "", func(context.Context, orgArgs) (int, error) { return 0, nil }), `{
			"type": "object",
			"properties": {"dept": {"$ref": "#/$defs/dept"}},
			"required": ["dept"],
			"additionalProperties": false,
			"$defs": {
				"dept": {"type": "object", "properties": {"name": {"type": "string"},
					"head": {"type": ["null", "object"], "properties": {"name": {"type": "string"}, "dept": {"anyOf": [{"$ref": "#/$defs/dept"}, {"type": "null"}]}},
						"required": ["name"], "additionalProperties": false}},
					"required": ["name"], "additionalProperties": false}
			}
		}`},
		{"pointer, bytes, time, any", dspy.NewTool("t", "", func(context.Context, scalarArgs) (int, error) { return 0, nil }), `{
			"type": "object",
			"properties": {
				"n": {"type": ["null", "integer"]},
				"u8": {"type": "integer", "minimum": 0, "maximum": 255},
				"f": {"type": "number"},
				"on": {"type": "boolean"},
				"data": {"type": "string", "contentEncoding": "base64"},
				"at": {"type": "string", "format": "date-time"},
				"When": {"type": ["null", "string"], "format": "date-time"},
				"v": true,
				"raw": true
			},
			"required": ["u8", "f", "on", "data", "at", "v"],
			"additionalProperties": false
		}`},
		{"maps", dspy.NewTool("t", "", func(context.Context, mapArgs) (int, error) { return 0, nil }), `{
			"type": "object",
			"properties": {
				"counts": {"type": "object", "additionalProperties": {"type": "integer"}},
				"nested": {"type": "object", "additionalProperties": {"type": ["null", "array"], "items": {"type": "boolean"}}}
			},
			"required": ["counts"],
			"additionalProperties": false
		}`},
		{"enums", dspy.NewTool("t", "", func(context.Context, enumArgs) (int, error) { return 0, nil }), `{
			"type": "object",
			"properties": {
				"unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "description": "the scale"},
				"level": {"type": "integer", "enum": [1, 2, 3]},
				"ratio": {"type": ["null", "number"], "enum": [0.5, 1]},
				"colors": {"type": ["null", "array"], "items": {"type": "string", "enum": ["red", "green"]}}
			},
			"required": ["unit", "level"],
			"additionalProperties": false
		}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(jsonValue(t, tc.schema), tc.tool.Parameters()); diff != "" {
				t.Errorf("Parameters() (-want +got):\n%s", diff)
			}
		})
	}
}

// A recursive definition cannot be inlined in an argument's schema (as
// DSPy inlines $defs): it is kept under the argument's own $defs, where
// the $ref still resolves.
func TestToolArgSchemaKeepsRecursiveDefs(t *testing.T) {
	tool := dspy.NewTool("t", "", func(context.Context, treeArgs) (int, error) { return 0, nil })
	nodeDef := map[string]any{"type": "object", "additionalProperties": false, "required": []any{"name"},
		"properties": map[string]any{"name": map[string]any{"type": "string"},
			"children": map[string]any{"type": []any{"null", "array"}, "items": map[string]any{"$ref": "#/$defs/node"}}}}
	want := []dspy.ToolArg{
		{Name: "root", Desc: "the tree", Required: true, Schema: map[string]any{"$ref": "#/$defs/node", "$defs": map[string]any{"node": nodeDef}}},
		{Name: "best", Schema: map[string]any{"anyOf": []any{map[string]any{"$ref": "#/$defs/node"}, map[string]any{"type": "null"}}, "$defs": map[string]any{"node": nodeDef}}},
	}
	if diff := cmp.Diff(want, tool.Args()); diff != "" {
		t.Errorf("Args() (-want +got):\n%s", diff)
	}
}

func TestToolDecodesWhatItAdvertises(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	tests := []struct {
		name string
		call func() (any, error) // returns what the function received
		args map[string]any
		want any
	}{
		{"nested, untagged", nil, map[string]any{"name": "Ann", "home": map[string]any{"StreetName": "Main St", "city": "Oslo"}},
			person{Name: "Ann", Home: address{StreetName: "Main St", City: "Oslo"}}},
		{"embedded", nil, map[string]any{"id": "r1", "version": 2.0, "note": "n"},
			withBase{base: base{ID: "r1", Version: 2}, Note: "n"}},
		{"recursive", nil, map[string]any{"root": map[string]any{"name": "a", "children": []any{map[string]any{"name": "b", "children": []any{map[string]any{"name": "c"}}}}}},
			treeArgs{Root: node{Name: "a", Children: []node{{Name: "b", Children: []node{{Name: "c"}}}}}}},
		{"pointer to recursive", nil, map[string]any{"root": map[string]any{"name": "a"}, "best": map[string]any{"name": "b"}},
			treeArgs{Root: node{Name: "a"}, Best: &node{Name: "b"}}},
		{"bytes, time, numeric strings", nil, map[string]any{"u8": "7", "f": 1.5, "on": true, "data": "aGk=", "at": "2026-03-14T15:09:26Z", "v": []any{"x"}, "n": "12"},
			scalarArgs{N: ptr(12), U8: 7, F: 1.5, On: true, Data: []byte("hi"), At: at, V: []any{"x"}}},
		{"maps", nil, map[string]any{"counts": map[string]any{"a": 1.0, "b": "2"}, "nested": map[string]any{"x": []any{true}}},
			mapArgs{Counts: map[string]int{"a": 1, "b": 2}, Nested: map[string][]bool{"x": {true}}}},
		{"enums", nil, map[string]any{"unit": "celsius", "level": 2.0, "ratio": 0.5, "colors": []any{"red"}},
			enumArgs{Unit: "celsius", Level: 2, Ratio: ptr(0.5), Colors: []string{"red"}}},
		{"null optional counts as absent", nil, map[string]any{"unit": "celsius", "level": 1.0, "ratio": nil},
			enumArgs{Unit: "celsius", Level: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got any
			var tool *dspy.Tool
			switch tc.want.(type) {
			case person:
				tool = dspy.NewTool("t", "", func(_ context.Context, a person) (int, error) { got = a; return 0, nil })
			case withBase:
				tool = dspy.NewTool("t", "", func(_ context.Context, a withBase) (int, error) { got = a; return 0, nil })
			case treeArgs:
				tool = dspy.NewTool("t", "", func(_ context.Context, a treeArgs) (int, error) { got = a; return 0, nil })
			case scalarArgs:
				tool = dspy.NewTool("t", "", func(_ context.Context, a scalarArgs) (int, error) { got = a; return 0, nil })
			case mapArgs:
				tool = dspy.NewTool("t", "", func(_ context.Context, a mapArgs) (int, error) { got = a; return 0, nil })
			case enumArgs:
				tool = dspy.NewTool("t", "", func(_ context.Context, a enumArgs) (int, error) { got = a; return 0, nil })
			}
			if _, err := tool.Call(ctx, tc.args); err != nil {
				t.Fatalf("Call(%v): %v", tc.args, err)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(withBase{})); diff != "" {
				t.Errorf("decoded (-want +got):\n%s", diff)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestToolBadArguments(t *testing.T) {
	var got weatherArgs
	tool := dspy.NewTool("weather", "", func(_ context.Context, a weatherArgs) (string, error) {
		got = a
		return "ok", nil
	})
	people := dspy.NewTool("move", "", func(_ context.Context, p person) (string, error) { return "", nil })
	enums := dspy.NewTool("scale", "", func(_ context.Context, a enumArgs) (string, error) { return "", nil })
	trees := dspy.NewTool("tree", "", func(_ context.Context, a treeArgs) (string, error) { return "", nil })
	scalars := dspy.NewTool("s", "", func(_ context.Context, a scalarArgs) (string, error) { return "", nil })
	okScalars := map[string]any{"u8": 1.0, "f": 1.0, "on": true, "data": "", "at": "2026-03-14T15:09:26Z", "v": "x"}
	with := func(m map[string]any, k string, v any) map[string]any {
		out := map[string]any{k: v}
		for k2, v2 := range m {
			if k2 != k {
				out[k2] = v2
			}
		}
		return out
	}
	tests := []struct {
		name    string
		tool    *dspy.Tool
		args    map[string]any
		wantArg string
		wantErr string
	}{
		{"unknown", tool, map[string]any{"city": "Paris", "Tags": nil, "q": "", "town": "x"}, "town",
			`dspy: tool weather: argument "town": unknown argument (the tool takes city, days, Units, Tags, q, geo)`},
		{"snake_case of an untagged field is unknown", tool, map[string]any{"city": "Paris", "tags": []any{}, "q": ""}, "tags",
			`dspy: tool weather: argument "tags": unknown argument (the tool takes city, days, Units, Tags, q, geo)`},
		{"missing", tool, map[string]any{"Tags": []any{}, "q": ""}, "city",
			`dspy: tool weather: argument "city": missing required argument`},
		{"null", tool, map[string]any{"city": nil, "Tags": []any{}, "q": ""}, "city",
			`dspy: tool weather: argument "city": missing required argument`},
		{"null required slice", tool, map[string]any{"city": "Paris", "Tags": nil, "q": ""}, "Tags",
			`dspy: tool weather: argument "Tags": missing required argument`},
		{"wrong type", tool, map[string]any{"city": 3.0, "Tags": []any{}, "q": ""}, "city",
			`dspy: tool weather: argument "city": got JSON number, want string`},
		{"wrong type, renamed field", tool, map[string]any{"city": "Paris", "Tags": []any{}, "q": true}, "q",
			`dspy: tool weather: argument "q": got JSON bool, want string`},
		{"fraction for integer", tool, map[string]any{"city": "Paris", "Tags": []any{}, "q": "", "days": 1.5}, "days",
			`dspy: tool weather: argument "days": got JSON number 1.5, want integer`},
		{"non-numeric string for integer", tool, map[string]any{"city": "Paris", "Tags": []any{}, "q": "", "days": "two"}, "days",
			`dspy: tool weather: argument "days": got JSON string, want integer`},
		{"element type", tool, map[string]any{"city": "Paris", "Tags": []any{1.0}, "q": ""}, "Tags",
			`dspy: tool weather: argument "Tags": type: 1 has type "integer", want "string"`},
		{"not in enum", tool, map[string]any{"city": "Paris", "Tags": []any{}, "q": "", "Units": "kelvin"}, "Units",
			`dspy: tool weather: argument "Units": enum: kelvin does not equal any of: [metric imperial]`},
		{"integer not in enum", enums, map[string]any{"unit": "celsius", "level": 4.0}, "level",
			`dspy: tool scale: argument "level": enum: 4 does not equal any of: [1 2 3]`},
		{"element not in enum", enums, map[string]any{"unit": "celsius", "level": 1.0, "colors": []any{"blue"}}, "colors",
			`dspy: tool scale: argument "colors": enum: blue does not equal any of: [red green]`},
		{"nested snake_case name", people, map[string]any{"name": "Ann", "home": map[string]any{"street_name": "Main St", "city": "Oslo"}}, "home",
			`dspy: tool move: argument "home": unexpected additional properties ["street_name"]`},
		{"nested missing", people, map[string]any{"name": "Ann", "home": map[string]any{"city": "Oslo"}}, "home",
			`dspy: tool move: argument "home": required: missing properties: ["StreetName"]`},
		{"nested wrong type", people, map[string]any{"name": "Ann", "home": map[string]any{"StreetName": 5.0, "city": "Oslo"}}, "home",
			`dspy: tool move: argument "home": type: 5 has type "integer", want "string"`},
		{"deep in a recursive type", trees, map[string]any{"root": map[string]any{"name": "a", "children": []any{map[string]any{"name": 1.0}}}}, "root",
			`dspy: tool tree: argument "root": type: 1 has type "integer", want "string"`},
		{"out of range", scalars, with(okScalars, "u8", 300.0), "u8",
			`dspy: tool s: argument "u8": maximum: 300/1 is greater than 255.000000`},
		{"malformed time", scalars, with(okScalars, "at", "yesterday"), "at",
			`dspy: tool s: argument "at": parsing time "yesterday" as "2006-01-02T15:04:05Z07:00": cannot parse "yesterday" as "2006"`},
		{"malformed base64", scalars, with(okScalars, "data", "%%"), "data",
			`dspy: tool s: argument "data": illegal base64 data at input byte 0`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.tool.Call(context.Background(), tc.args)
			var ae *dspy.ToolArgError
			if !errors.As(err, &ae) {
				t.Fatalf("Call(%v) error = %v, want a *ToolArgError", tc.args, err)
			}
			if ae.Tool != tc.tool.Name() || ae.Arg != tc.wantArg {
				t.Errorf("ToolArgError = {Tool: %q, Arg: %q}, want {%s, %q}", ae.Tool, ae.Arg, tc.tool.Name(), tc.wantArg)
			}
			if err.Error() != tc.wantErr {
				t.Errorf("Call(%v) error =\n%s\nwant\n%s", tc.args, err, tc.wantErr)
			}
		})
	}

	// What decodes: renamed fields, Go names, numeric strings (as
	// pydantic's lax mode accepts them).
	_, err := tool.Call(context.Background(), map[string]any{"city": "Paris", "Tags": []any{"a"}, "q": "rain", "days": "3", "Units": "metric"})
	if err != nil {
		t.Fatalf("Call: %v", err)
	}
	three := 3
	want := weatherArgs{City: "Paris", Days: &three, Units: "metric", Tags: []string{"a"}, Query: "rain"}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreUnexported(weatherArgs{})); diff != "" {
		t.Errorf("decoded arguments (-want +got):\n%s", diff)
	}
}

func TestNewToolRejectsUndescribableArgs(t *testing.T) {
	type tagged struct {
		base `json:"base"`
	}
	type chanArgs struct {
		C chan int `json:"c"`
	}
	type badEnum struct {
		N int `json:"n" enum:"one"`
	}
	tests := []struct {
		name string
		make func()
		want string
	}{
		{"not a struct", func() { dspy.NewTool("bad", "", func(_ context.Context, n int) (int, error) { return n, nil }) },
			"dspy: NewTool bad: argument type int must be a struct or map[string]any"},
		{"tagged embedded struct", func() { dspy.NewTool("bad", "", func(context.Context, tagged) (int, error) { return 0, nil }) },
			"dspy: NewTool bad: argument type dspy_test.tagged: embedded field base in dspy_test.tagged is not supported in tool arguments: give it a field name"},
		{"channel", func() { dspy.NewTool("bad", "", func(context.Context, chanArgs) (int, error) { return 0, nil }) },
			"dspy: NewTool bad: argument type dspy_test.chanArgs: ForType(dspy_test.chanArgs): type chan int is unsupported by jsonschema"},
		{"enum of the wrong type", func() { dspy.NewTool("bad", "", func(context.Context, badEnum) (int, error) { return 0, nil }) },
			`dspy: NewTool bad: argument type dspy_test.badEnum: field N of dspy_test.badEnum: enum value "one": strconv.ParseInt: parsing "one": invalid syntax`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if r := recover(); r != tc.want {
					t.Errorf("recovered %v,\nwant %v", r, tc.want)
				}
			}()
			tc.make()
		})
	}
}

func TestNewToolFromSchema(t *testing.T) {
	// An MCP server's input schema (server-everything's get-sum), with
	// its keys in the server's order.
	schema := `{"type":"object","properties":{"b":{"type":"number","description":"Second number"},"a":{"type":"number","description":"First number"}},"required":["a","b"],"$schema":"http://json-schema.org/draft-07/schema#"}`
	var got map[string]any
	tool, err := dspy.NewToolFromSchema("get-sum", "Returns the sum of two numbers", json.RawMessage(schema),
		func(_ context.Context, args map[string]any) (any, error) { got = args; return "ok", nil })
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(jsonValue(t, schema), tool.Parameters()); diff != "" {
		t.Errorf("Parameters() is not the schema as given (-want +got):\n%s", diff)
	}
	wantArgs := []dspy.ToolArg{
		{Name: "b", Desc: "Second number", Required: true, Schema: map[string]any{"type": "number"}},
		{Name: "a", Desc: "First number", Required: true, Schema: map[string]any{"type": "number"}},
	}
	if diff := cmp.Diff(wantArgs, tool.Args()); diff != "" {
		t.Errorf("Args() (-want +got):\n%s", diff)
	}
	ctx := context.Background()
	if _, err := tool.Call(ctx, map[string]any{"a": "2", "b": 3.5, "extra": true}); err != nil {
		t.Fatal(err)
	}
	// Not closed by additionalProperties: the extra argument goes to the server.
	if diff := cmp.Diff(map[string]any{"a": 2.0, "b": 3.5, "extra": true}, got); diff != "" {
		t.Errorf("arguments passed on (-want +got):\n%s", diff)
	}
	for _, tc := range []struct {
		args map[string]any
		want string
	}{
		{map[string]any{"a": 1.0}, `dspy: tool get-sum: argument "b": missing required argument`},
		{map[string]any{"a": 1.0, "b": "x"}, `dspy: tool get-sum: argument "b": got JSON string, want number`},
	} {
		if _, err := tool.Call(ctx, tc.args); err == nil || err.Error() != tc.want {
			t.Errorf("Call(%v) error = %v, want %s", tc.args, err, tc.want)
		}
	}

	// $defs are resolved in an argument's schema, as DSPy resolves them;
	// the closed object rejects unknown arguments.
	withDefs := `{"type":"object","additionalProperties":false,"properties":{"p":{"$ref":"#/$defs/Point"}},"$defs":{"Point":{"type":"object","properties":{"x":{"type":"integer"}}}}}`
	pt, err := dspy.NewToolFromSchema("pt", "", json.RawMessage(withDefs), func(context.Context, map[string]any) (any, error) { return nil, nil })
	if err != nil {
		t.Fatal(err)
	}
	want := []dspy.ToolArg{{Name: "p", Schema: map[string]any{"type": "object", "properties": map[string]any{"x": map[string]any{"type": "integer"}}}}}
	if diff := cmp.Diff(want, pt.Args()); diff != "" {
		t.Errorf("Args() with $defs (-want +got):\n%s", diff)
	}
	if _, err := pt.Call(ctx, map[string]any{"p": map[string]any{"x": "4"}, "q": 1.0}); err == nil || err.Error() != `dspy: tool pt: argument "q": unknown argument (the tool takes p)` {
		t.Errorf("unknown argument: error = %v", err)
	}
	if _, err := pt.Call(ctx, map[string]any{"p": map[string]any{"x": 1.5}}); err == nil || err.Error() != `dspy: tool pt: argument "p": type: 1.5 has type "number", want "integer"` {
		t.Errorf("nested type: error = %v", err)
	}

	empty, err := dspy.NewToolFromSchema("any", "", nil, func(_ context.Context, a map[string]any) (any, error) { return len(a), nil })
	if err != nil {
		t.Fatal(err)
	}
	if n, err := empty.Call(ctx, map[string]any{"x": 1.0}); err != nil || n != 1 {
		t.Errorf("schema-less tool: Call = %v, %v", n, err)
	}
	for _, bad := range []string{`[1]`, `{"type":"string"}`, `{"type":"object","properties":3}`, `nope`} {
		if _, err := dspy.NewToolFromSchema("bad", "", json.RawMessage(bad), func(context.Context, map[string]any) (any, error) { return nil, nil }); err == nil {
			t.Errorf("NewToolFromSchema(%s) succeeded, want an error", bad)
		}
	}
}

// Recursive argument types are described, not walked forever.
func TestToolRecursiveTypeTerminates(t *testing.T) {
	type list struct {
		Next *list `json:"next"`
	}
	type table map[string]table
	done := make(chan struct{})
	go func() {
		defer close(done)
		dspy.NewTool("tree", "", func(context.Context, node) (int, error) { return 0, nil })
		dspy.NewTool("list", "", func(context.Context, list) (int, error) { return 0, nil })
		dspy.NewTool("table", "", func(context.Context, struct {
			T table `json:"t"`
		}) (int, error) {
			return 0, nil
		})
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("NewTool on recursive types did not return within 10 s")
	}
}

func TestToolACallAndCancel(t *testing.T) {
	ctx := context.Background()
	add := dspy.NewTool("add", "", func(_ context.Context, a addArgs) (int, error) { return a.X + a.Y, nil })
	got, err := add.ACall(ctx, map[string]any{"x": 2.0, "y": 3.0}).Await(ctx)
	if err != nil || got != 5 {
		t.Errorf("ACall(add 2 3).Await = %v, %v; want 5, nil", got, err)
	}

	started := make(chan struct{})
	sawDone := make(chan error, 1)
	slow := dspy.NewTool("slow", "", func(ctx context.Context, _ struct{}) (string, error) {
		close(started)
		<-ctx.Done()
		sawDone <- ctx.Err()
		return "", ctx.Err()
	})
	f := slow.ACall(ctx, nil)
	<-started
	f.Cancel()
	if _, err := f.Await(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled ACall: Await error = %v, want context.Canceled", err)
	}
	if err := <-sawDone; !errors.Is(err, context.Canceled) {
		t.Errorf("tool saw ctx.Err() = %v, want context.Canceled", err)
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := add.Call(cctx, map[string]any{"x": 1.0, "y": 1.0}); !errors.Is(err, context.Canceled) {
		t.Errorf("Call with a cancelled ctx: error = %v, want context.Canceled", err)
	}
}

func TestToolFuncRunsToItsEnd(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ran := false
	f := dspy.NewToolFunc("f", "", func(struct{}) (string, error) {
		cancel() // the call's ctx ends while the function runs
		time.Sleep(5 * time.Millisecond)
		ran = true
		return "done", nil
	})
	got, err := f.Call(ctx, nil)
	if got != "done" || err != nil || !ran {
		t.Errorf("NewToolFunc Call = %v, %v (ran %v); want done, nil, true", got, err, ran)
	}
}

// toolRecorder records tool hooks.
type toolRecorder struct {
	mu     sync.Mutex
	events []string
}

func (r *toolRecorder) trace() *dspy.Trace {
	return &dspy.Trace{
		ToolStart: func(_ context.Context, i dspy.ToolStartInfo) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.events = append(r.events, "start "+i.Tool.Name()+" "+argsText(i.Args))
		},
		ToolEnd: func(_ context.Context, i dspy.ToolEndInfo) {
			r.mu.Lock()
			defer r.mu.Unlock()
			e := "end " + i.Tool.Name()
			if i.Err != nil {
				e += " error: " + i.Err.Error()
			} else {
				e += " " + toText(i.Result)
			}
			r.events = append(r.events, e)
		},
	}
}

func (r *toolRecorder) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events...)
}

func argsText(m map[string]any) string {
	var keys []string
	for k, v := range m {
		keys = append(keys, k+"="+toText(v))
	}
	sort.Strings(keys)
	return strings.Join(keys, ",")
}

func toText(v any) string { return fmt.Sprint(v) }

func TestToolTraceHooks(t *testing.T) {
	rec := &toolRecorder{}
	var ids [2]dspy.CallInfo
	ctx := dspy.WithSettings(context.Background(), dspy.WithTrace(rec.trace()), dspy.WithTrace(&dspy.Trace{
		ToolStart: func(_ context.Context, i dspy.ToolStartInfo) { ids[0] = i.CallInfo },
		ToolEnd:   func(_ context.Context, i dspy.ToolEndInfo) { ids[1] = i.CallInfo },
	}))
	div := dspy.NewTool("div", "", func(_ context.Context, a addArgs) (int, error) {
		if a.Y == 0 {
			return 0, errors.New("division by zero")
		}
		return a.X / a.Y, nil
	})
	if _, err := div.Call(ctx, map[string]any{"x": 6.0, "y": 3.0}); err != nil {
		t.Fatal(err)
	}
	if ids[0].ID == 0 || ids[0] != ids[1] {
		t.Errorf("ToolStart/ToolEnd CallInfo = %+v / %+v, want one non-zero ID", ids[0], ids[1])
	}
	div.Call(ctx, map[string]any{"x": 1.0, "y": 0.0})
	div.Call(ctx, map[string]any{"x": "a", "y": 1.0})
	want := []string{
		"start div x=6,y=3", "end div 2",
		"start div x=1,y=0", "end div error: division by zero",
		"start div x=a,y=1", `end div error: dspy: tool div: argument "x": got JSON string, want integer`,
	}
	if diff := cmp.Diff(want, rec.list()); diff != "" {
		t.Errorf("tool hooks (-want +got):\n%s", diff)
	}
}

// FuzzToolFromSchema: a server's schema and an LM's arguments are
// untrusted; neither may panic or hang the tool.
func FuzzToolFromSchema(f *testing.F) {
	f.Add(`{"type":"object","properties":{"a":{"type":"number"}},"required":["a"]}`, `{"a":"3"}`)
	f.Add(`{"type":"object","properties":{"p":{"$ref":"#/$defs/P"}},"$defs":{"P":{"type":"object","properties":{"next":{"$ref":"#/$defs/P"}}}}}`, `{"p":{"next":{"next":{}}}}`)
	f.Add(`{"properties":{"x":{"anyOf":[{"type":"integer"},{"$ref":"#/definitions/Y"}]}},"definitions":{"Y":{"$ref":"#/definitions/Y"}}}`, `{"x":"1"}`)
	f.Add(`{"type":"object","additionalProperties":false,"properties":{"e":{"enum":[1,"a",null]}}}`, `{"e":null,"f":1}`)
	f.Fuzz(func(t *testing.T, schema, args string) {
		tool, err := dspy.NewToolFromSchema("f", "", json.RawMessage(schema), func(context.Context, map[string]any) (any, error) { return "ok", nil })
		if err != nil {
			return
		}
		_ = tool.Args()
		_ = tool.Parameters()
		var m map[string]any
		if json.Unmarshal([]byte(args), &m) != nil {
			return
		}
		_, _ = tool.Call(context.Background(), m)
		agent := dspy.NewReAct("q -> a", []*dspy.Tool{tool})
		_ = agent.ReactPredictor().Signature().Instructions()
	})
}

// Integer arguments beyond 2^53 (ids, nanosecond timestamps) reach the tool
// with the value they were given: as json.Number (a caller that decoded
// with UseNumber), inside arrays, inside a Go struct the caller passed,
// and up to uint64's range.
func TestToolIntegerPrecision(t *testing.T) {
	type inner struct {
		ID int64 `json:"id"`
	}
	type args struct {
		N    int64   `json:"n"`
		U    uint64  `json:"u,omitempty"`
		IDs  []int64 `json:"ids,omitempty"`
		Item *inner  `json:"item,omitempty"`
	}
	var got args
	tool := dspy.NewTool("echo", "Echoes.", func(_ context.Context, a args) (string, error) {
		got = a
		return "ok", nil
	})
	nested := []any{json.Number("9007199254740995")}
	for _, tc := range []struct {
		name string
		in   map[string]any
		want args
	}{
		{"json.Number", map[string]any{"n": json.Number("9007199254740993")}, args{N: 9007199254740993}},
		{"negative", map[string]any{"n": json.Number("-9007199254740993")}, args{N: -9007199254740993}},
		{"int64 max", map[string]any{"n": json.Number("9223372036854775807")}, args{N: 9223372036854775807}},
		{"uint64 max", map[string]any{"n": 1, "u": json.Number("18446744073709551615")}, args{N: 1, U: 18446744073709551615}},
		{"in an array", map[string]any{"n": 1, "ids": nested}, args{N: 1, IDs: []int64{9007199254740995}}},
		{"in a Go struct", map[string]any{"n": 1, "item": inner{ID: 9007199254740997}}, args{N: 1, Item: &inner{ID: 9007199254740997}}},
		{"numeric string", map[string]any{"n": "9007199254740999"}, args{N: 9007199254740999}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got = args{}
			if _, err := tool.Call(context.Background(), tc.in); err != nil {
				t.Fatalf("Call(%v): %v", tc.in, err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("tool got (-want +got):\n%s", d)
			}
		})
	}
	if nested[0] != json.Number("9007199254740995") {
		t.Errorf("the caller's array was changed to %#v", nested[0])
	}
	_, err := tool.Call(context.Background(), map[string]any{"n": json.Number("18446744073709551615")})
	var ae *dspy.ToolArgError
	if !errors.As(err, &ae) || ae.Arg != "n" {
		t.Errorf("Call with n beyond int64: %v, want a *ToolArgError for n", err)
	}
}
