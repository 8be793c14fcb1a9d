package dspy_test

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/dspytest"
)

// A tool is a typed Go function; its argument struct is its JSON schema.
func ExampleNewTool() {
	type args struct {
		City  string `json:"city" desc:"the city name"`
		Units string `json:"units,omitempty" desc:"celsius or fahrenheit"`
	}
	weather := dspy.NewTool("get_weather", "Get the current weather for a city.",
		func(ctx context.Context, a args) (string, error) {
			return "The weather in " + a.City + " is sunny", nil
		})

	schema, _ := json.Marshal(weather.Parameters())
	fmt.Println(string(schema))

	out, err := weather.Call(context.Background(), map[string]any{"city": "Tokyo"})
	fmt.Println(out, err)

	_, err = weather.Call(context.Background(), map[string]any{"town": "Tokyo"})
	fmt.Println(err)
	// Output:
	// {"additionalProperties":false,"properties":{"city":{"description":"the city name","type":"string"},"units":{"description":"celsius or fahrenheit","type":"string"}},"required":["city"],"type":"object"}
	// The weather in Tokyo is sunny <nil>
	// dspy: tool get_weather: argument "town": unknown argument (the tool takes city, units)
}

// A ReAct agent picks tools until it calls finish; then its outputs are
// extracted from the trajectory. Here the LM's side is scripted.
func ExampleNewReAct() {
	type addArgs struct {
		X int `json:"x"`
		Y int `json:"y"`
	}
	add := dspy.NewTool("add", "Add two integers.", func(_ context.Context, a addArgs) (int, error) {
		return a.X + a.Y, nil
	})
	model := dspytest.NewScriptedLM(
		dspytest.ChatReply("next_thought", "I should add 2 and 2.", "next_tool_name", "add", "next_tool_args", `{"x": 2, "y": 2}`),
		dspytest.ChatReply("next_thought", "I have the sum.", "next_tool_name", "finish", "next_tool_args", "{}"),
		dspytest.ChatReply("reasoning", "2 + 2 = 4.", "answer", "4"),
	)
	ctx := dspy.WithSettings(context.Background(), dspy.WithLM(model))

	agent := dspy.NewReAct("question -> answer", []*dspy.Tool{add})
	pred, err := agent.Call(ctx, dspy.Inputs{"question": "What is 2 + 2?"})
	if err != nil {
		fmt.Println(err)
		return
	}
	for i, step := range pred.Trajectory {
		fmt.Printf("%d. %s %v -> %s\n", i, step.ToolName, step.ToolArgs, step.Observation)
	}
	fmt.Println("answer:", pred.Get("answer"))
	// Output:
	// 0. add map[x:2 y:2] -> 4
	// 1. finish map[] -> Completed.
	// answer: 4
}

// WithMaxIters changes one agent's iteration budget for the calls made
// with the returned context: DSPy's per-call max_iters.
func ExampleReAct_WithMaxIters() {
	model := dspytest.NewScriptedLM(
		dspytest.ChatReply("next_thought", "Let me wait.", "next_tool_name", "wait", "next_tool_args", "{}"),
		dspytest.ChatReply("reasoning", "Out of time.", "answer", "unknown"),
	)
	wait := dspy.NewToolFunc("wait", "", func(struct{}) (string, error) { return "still waiting", nil })
	agent := dspy.NewReAct("question -> answer", []*dspy.Tool{wait})

	ctx := dspy.WithSettings(context.Background(), dspy.WithLM(model))
	pred, err := agent.Call(agent.WithMaxIters(ctx, 1), dspy.Inputs{"question": "When?"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(pred.Trajectory), "step;", "answer:", pred.Get("answer"))
	// Output:
	// 1 step; answer: unknown
}

// A tool can also be made of a JSON schema, kept as given, and a function
// of JSON arguments: package mcp makes an MCP server's tools this way.
func ExampleNewToolFromSchema() {
	schema := json.RawMessage(`{"type":"object","properties":{"b":{"type":"number"},"a":{"type":"number"}},"required":["a","b"]}`)
	sum, err := dspy.NewToolFromSchema("get-sum", "Returns the sum of two numbers.", schema,
		func(_ context.Context, args map[string]any) (any, error) {
			return fmt.Sprint(args["a"].(float64) + args["b"].(float64)), nil
		})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, a := range sum.Args() {
		fmt.Println(a.Name, a.Schema, a.Required)
	}
	out, err := sum.Call(context.Background(), map[string]any{"a": 2.0, "b": "3"})
	fmt.Println(out, err)
	_, err = sum.Call(context.Background(), map[string]any{"a": 2.0})
	fmt.Println(err)
	// Output:
	// b map[type:number] true
	// a map[type:number] true
	// 5 <nil>
	// dspy: tool get-sum: argument "b": missing required argument
}
