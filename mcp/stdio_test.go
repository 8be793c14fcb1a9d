package mcp_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/dspytest"
	"github.com/godspy/dspy/mcp"
)

// The test binary doubles as stdio MCP servers: run with serverEnv set,
// TestMain serves instead of testing (see main_test.go).
const serverEnv = "GODSPY_MCP_TEST_SERVER"

// serveForTest runs the server that serverEnv names, over stdin and
// stdout, and returns the process's exit code.
func serveForTest(kind string) int {
	ctx := context.Background()
	switch kind {
	case "crashy":
		srv := sdk.NewServer(&sdk.Implementation{Name: "crashy", Version: "1"}, nil)
		sdk.AddTool(srv, &sdk.Tool{Name: "echo", Description: "Echoes."},
			func(_ context.Context, _ *sdk.CallToolRequest, in echoIn) (*sdk.CallToolResult, any, error) {
				return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: "Echo: " + in.Message}}}, nil, nil
			})
		sdk.AddTool(srv, &sdk.Tool{Name: "crash", Description: "Exits the process."},
			func(context.Context, *sdk.CallToolRequest, struct{}) (*sdk.CallToolResult, any, error) {
				os.Exit(3)
				return nil, nil, nil
			})
		if err := srv.Run(ctx, &sdk.StdioTransport{}); err != nil {
			return 1
		}
	case "program":
		s := mcp.NewServer("godspy-stdio", "1")
		if err := s.AddModule("ask", "", capitalProgram()); err != nil {
			return 1
		}
		if err := s.ServeStdio(ctx); err != nil {
			return 1
		}
	default:
		return 2
	}
	return 0
}

// self is the endpoint of this test binary serving kind over stdio.
func self(t *testing.T, kind string) mcp.Endpoint {
	t.Setenv(serverEnv, kind) // inherited by the child
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return mcp.Command(exe, "-test.run=^$")
}

func TestStdioServerCrash(t *testing.T) {
	ctx := context.Background()
	for _, reconnect := range []bool{false, true} {
		name := map[bool]string{false: "no reconnect", true: "reconnect"}[reconnect]
		t.Run(name, func(t *testing.T) {
			opts := []mcp.Option{mcp.WithStopTimeout(100 * time.Millisecond)}
			if reconnect {
				opts = append(opts, mcp.WithReconnect())
			}
			c := connect(t, self(t, "crashy"), opts...)
			tools, err := c.Tools(ctx)
			if err != nil {
				t.Fatal(err)
			}
			echo, crash := toolByName(t, tools, "echo"), toolByName(t, tools, "crash")
			if got, err := echo.Call(ctx, map[string]any{"message": "a"}); err != nil || got != "Echo: a" {
				t.Fatalf("echo(a) = %v, %v", got, err)
			}
			// In flight when the process exits: the call fails, and is not
			// retried even with reconnect (it may have had effects).
			if _, err := crash.Call(ctx, nil); !errors.Is(err, mcp.ErrDisconnected) {
				t.Fatalf("crash() error = %v, want ErrDisconnected", err)
			}
			got, err := echo.Call(ctx, map[string]any{"message": "b"})
			if !reconnect {
				if !errors.Is(err, mcp.ErrDisconnected) {
					t.Fatalf("call after the crash: %v, %v; want ErrDisconnected", got, err)
				}
				return
			}
			if err != nil || got != "Echo: b" {
				t.Fatalf("call after the crash, reconnecting: %v, %v; want Echo: b", got, err)
			}
		})
	}
}

// A godspy program served over stdio, reached by godspy's client running
// the binary as Claude Desktop would.
func TestServeStdio(t *testing.T) {
	ctx := context.Background()
	c := connect(t, self(t, "program"), mcp.WithStopTimeout(100*time.Millisecond))
	tools, err := c.Tools(ctx)
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.CallTool(ctx, "ask", map[string]any{"question": "Capital of France?"})
	if err != nil || res.IsError {
		t.Fatalf("CallTool(ask) = %+v, %v", res, err)
	}
	want := map[string]any{"reasoning": "France's capital is Paris.", "answer": "Paris", "confidence": 0.9}
	if got := res.StructuredContent; !equalJSON(got, want) {
		t.Errorf("structured content = %v, want %v", got, want)
	}
	model := dspytest.NewScriptedLM(
		stepReply("Ask.", "ask", `{"question": "Capital of France?"}`),
		stepReply("Done.", "finish", `{}`),
		dspytest.ChatReply("reasoning", "r", "answer", "Paris"),
	)
	pred, err := dspy.NewReAct("question -> answer", tools).Call(dspy.WithSettings(ctx, dspy.WithLM(model)), dspy.Inputs{"question": "q"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := pred.Trajectory[0].Observation, `{"reasoning":"France's capital is Paris.","answer":"Paris","confidence":0.9}`; got != want {
		t.Errorf("observation = %s, want %s", got, want)
	}
}
