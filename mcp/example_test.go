package mcp_test

import (
	"context"
	"fmt"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/dspytest"
	"github.com/godspy/dspy/mcp"
)

// A ReAct agent with the tools of an MCP server. The server here is an
// SDK server over in-memory transports; mcp.Command("npx", "-y",
// "@modelcontextprotocol/server-everything") or mcp.URL(...) reach real
// ones. The LM's side is scripted.
func Example() {
	srv := sdk.NewServer(&sdk.Implementation{Name: "calc", Version: "1"}, nil)
	type addIn struct {
		A float64 `json:"a" jsonschema:"First number"`
		B float64 `json:"b" jsonschema:"Second number"`
	}
	sdk.AddTool(srv, &sdk.Tool{Name: "add", Description: "Adds two numbers."},
		func(_ context.Context, _ *sdk.CallToolRequest, in addIn) (*sdk.CallToolResult, any, error) {
			return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: fmt.Sprint(in.A + in.B)}}}, nil, nil
		})
	endpoint := mcp.Transport("calc", func() sdk.Transport {
		client, server := sdk.NewInMemoryTransports()
		srv.Connect(context.Background(), server, nil)
		return client
	})

	ctx := context.Background()
	c, err := mcp.Connect(ctx, endpoint)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	tools, err := c.Tools(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	model := dspytest.NewScriptedLM(
		dspytest.ChatReply("next_thought", "Add them.", "next_tool_name", "add", "next_tool_args", `{"a": 2, "b": 40}`),
		dspytest.ChatReply("next_thought", "Done.", "next_tool_name", "finish", "next_tool_args", "{}"),
		dspytest.ChatReply("reasoning", "2 + 40 = 42.", "answer", "42"),
	)
	agent := dspy.NewReAct("question -> answer", tools)
	pred, err := agent.Call(dspy.WithSettings(ctx, dspy.WithLM(model)), dspy.Inputs{"question": "What is 2 + 40?"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(pred.Trajectory[0].ToolName, "->", pred.Trajectory[0].Observation)
	fmt.Println("answer:", pred.Get("answer"))
	// Output:
	// add -> 42
	// answer: 42
}
