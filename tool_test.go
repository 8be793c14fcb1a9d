package dspy_test

import (
	"context"
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
	Units string   `json:",omitempty"`
	Tags  []string // untagged: argument name in snake_case
	Query string   `json:"q"` // tag name unlike the Go name
	Geo   struct {
		Lat float64 `json:"lat"`
	} `json:"geo,omitempty"`
	secret string //lint:ignore U1000 unexported on purpose: not an argument
	Skip   bool   `json:"-"`
}

func TestToolSchemaFromTypedArgs(t *testing.T) {
	tool := dspy.NewTool("weather", "Get the weather.", func(_ context.Context, a weatherArgs) (string, error) { return "", nil })
	wantArgs := []dspy.ToolArg{
		{Name: "city", Desc: "the city name", Required: true, Schema: map[string]any{"type": "string"}},
		{Name: "days", Desc: "forecast length", Schema: map[string]any{"type": "integer"}},
		{Name: "units", Schema: map[string]any{"type": "string"}},
		{Name: "tags", Required: true, Schema: map[string]any{"type": "array", "items": map[string]any{"type": "string"}}},
		{Name: "q", Required: true, Schema: map[string]any{"type": "string"}},
		{Name: "geo", Schema: map[string]any{"type": "object", "properties": map[string]any{"lat": map[string]any{"type": "number"}}}},
	}
	if diff := cmp.Diff(wantArgs, tool.Args(), cmpopts.IgnoreUnexported(dspy.ToolArg{})); diff != "" {
		t.Errorf("NewTool(weatherArgs).Args() (-want +got):\n%s", diff)
	}
	wantParams := map[string]any{
		"type": "object",
		"properties": map[string]any{
			"city":  map[string]any{"type": "string", "description": "the city name"},
			"days":  map[string]any{"type": "integer", "description": "forecast length"},
			"units": map[string]any{"type": "string"},
			"tags":  map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
			"q":     map[string]any{"type": "string"},
			"geo":   map[string]any{"type": "object", "properties": map[string]any{"lat": map[string]any{"type": "number"}}},
		},
		"required": []string{"city", "tags", "q"},
	}
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

	scalars := []struct {
		name string
		tool *dspy.Tool
		want map[string]any
	}{
		{"bool", dspy.NewToolFunc("f", "", func(a struct{ On bool }) (int, error) { return 0, nil }), map[string]any{"type": "boolean"}},
		{"uint8", dspy.NewToolFunc("f", "", func(a struct{ N uint8 }) (int, error) { return 0, nil }), map[string]any{"type": "integer"}},
		{"float32", dspy.NewToolFunc("f", "", func(a struct{ X float32 }) (int, error) { return 0, nil }), map[string]any{"type": "number"}},
		{"map", dspy.NewToolFunc("f", "", func(a struct{ M map[string]int }) (int, error) { return 0, nil }), map[string]any{"type": "object", "additionalProperties": true}},
		{"any", dspy.NewToolFunc("f", "", func(a struct{ V any }) (int, error) { return 0, nil }), map[string]any{}},
	}
	for _, tc := range scalars {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.tool.Args()
			if len(args) != 1 {
				t.Fatalf("Args() = %v, want one", args)
			}
			if diff := cmp.Diff(tc.want, args[0].Schema); diff != "" {
				t.Errorf("schema (-want +got):\n%s", diff)
			}
			if tc.tool.Cancellable() {
				t.Error("NewToolFunc: Cancellable() = true, want false")
			}
		})
	}

	free := dspy.NewTool("free", "", func(_ context.Context, a map[string]any) (int, error) { return len(a), nil })
	if len(free.Args()) != 0 {
		t.Errorf("map tool Args() = %v, want none", free.Args())
	}
	if got, err := free.Call(context.Background(), map[string]any{"a": 1, "b": 2}); err != nil || got != 2 {
		t.Errorf("map tool Call = %v, %v; want 2, nil", got, err)
	}
}

func TestNewToolRejectsNonStructArgs(t *testing.T) {
	defer func() {
		r := recover()
		if r == nil || !strings.Contains(r.(string), "must be a struct or map[string]any") {
			t.Errorf("NewTool[int] recovered %v, want a panic naming the rule", r)
		}
	}()
	dspy.NewTool("bad", "", func(_ context.Context, n int) (int, error) { return n, nil })
}

func TestToolBadArguments(t *testing.T) {
	var got weatherArgs
	tool := dspy.NewTool("weather", "", func(_ context.Context, a weatherArgs) (string, error) {
		got = a
		return "ok", nil
	})
	tests := []struct {
		name    string
		args    map[string]any
		wantArg string
		wantErr string
	}{
		{"unknown", map[string]any{"city": "Paris", "tags": nil, "q": "", "town": "x"}, "town",
			`dspy: tool weather: argument "town": unknown argument (the tool takes city, days, units, tags, q, geo)`},
		{"missing", map[string]any{"tags": []any{}, "q": ""}, "city",
			`dspy: tool weather: argument "city": missing required argument`},
		{"null", map[string]any{"city": nil, "tags": []any{}, "q": ""}, "city",
			`dspy: tool weather: argument "city": missing required argument`},
		{"wrong type", map[string]any{"city": 3.0, "tags": []any{}, "q": ""}, "city",
			`dspy: tool weather: argument "city": got JSON number, want string`},
		{"wrong type, renamed field", map[string]any{"city": "Paris", "tags": []any{}, "q": true}, "q",
			`dspy: tool weather: argument "q": got JSON bool, want string`},
		{"fraction for integer", map[string]any{"city": "Paris", "tags": []any{}, "q": "", "days": 1.5}, "days",
			`dspy: tool weather: argument "days": got JSON number 1.5, want integer`},
		{"non-numeric string for integer", map[string]any{"city": "Paris", "tags": []any{}, "q": "", "days": "two"}, "days",
			`dspy: tool weather: argument "days": got JSON string, want integer`},
		{"element type", map[string]any{"city": "Paris", "tags": []any{1.0}, "q": ""}, "tags",
			`dspy: tool weather: argument "tags": got JSON number, want array`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tool.Call(context.Background(), tc.args)
			var ae *dspy.ToolArgError
			if !errors.As(err, &ae) {
				t.Fatalf("Call(%v) error = %v, want a *ToolArgError", tc.args, err)
			}
			if ae.Tool != "weather" || ae.Arg != tc.wantArg {
				t.Errorf("ToolArgError = {Tool: %q, Arg: %q}, want {weather, %q}", ae.Tool, ae.Arg, tc.wantArg)
			}
			if err.Error() != tc.wantErr {
				t.Errorf("Call(%v) error =\n%s\nwant\n%s", tc.args, err, tc.wantErr)
			}
		})
	}

	// What decodes: renamed fields, snake_case names, numeric strings (as
	// pydantic's lax mode accepts them).
	_, err := tool.Call(context.Background(), map[string]any{"city": "Paris", "tags": []any{"a"}, "q": "rain", "days": "3", "units": "metric"})
	if err != nil {
		t.Fatalf("Call: %v", err)
	}
	three := 3
	want := weatherArgs{City: "Paris", Days: &three, Units: "metric", Tags: []string{"a"}, Query: "rain"}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreUnexported(weatherArgs{})); diff != "" {
		t.Errorf("decoded arguments (-want +got):\n%s", diff)
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
