package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/dspytest"
	"github.com/godspy/dspy/mcp"
)

// everythingBin is the MCP reference server that .ci/setup.d/40-mcp.sh
// installs; outside CI a test that needs it skips when it is missing.
func everythingBin(t *testing.T) string {
	t.Helper()
	bin, err := filepath.Abs("../../mcp/testdata/everything/node_modules/.bin/mcp-server-everything")
	if err != nil {
		t.Fatal(err)
	}
	missing := ""
	if _, err := os.Stat(bin); err != nil {
		missing = "server-everything is not installed at " + bin
	} else if _, err := exec.LookPath("node"); err != nil {
		missing = "node is not on PATH"
	}
	if missing != "" {
		msg := missing + " (install it with: npm ci --prefix mcp/testdata/everything, as .ci/setup.d/40-mcp.sh does)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return bin
}

func TestSplitWords(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"npx -y @modelcontextprotocol/server-everything", []string{"npx", "-y", "@modelcontextprotocol/server-everything"}},
		{`  uvx  mcp-server-fetch  `, []string{"uvx", "mcp-server-fetch"}},
		{`server --name "two words" 'it''s' a\ b ""`, []string{"server", "--name", "two words", "its", "a b", ""}},
		{`say "a \"quoted\" word"`, []string{"say", `a "quoted" word`}},
		{"", nil},
	}
	for _, tc := range tests {
		got, err := splitWords(tc.in)
		if err != nil || !cmp.Equal(tc.want, got) {
			t.Errorf("splitWords(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{`a "b`, `a 'b`, `a\`} {
		if _, err := splitWords(bad); err == nil {
			t.Errorf("splitWords(%q) succeeded, want an error", bad)
		}
	}
}

func TestToolsCommandBuiltins(t *testing.T) {
	code, out, errOut := runCmd(t, noEnv, "tools", "--tools", "calculator")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want := `calculator (built-in)
  Evaluate an arithmetic expression: numbers, + - * / ^ (power) and parentheses.
  {
    "additionalProperties": false,
    "properties": {
      "expression": {
        "description": "an arithmetic expression, e.g. (3 + 4) * 2 ^ 3 / 4",
        "type": "string"
      }
    },
    "required": [
      "expression"
    ],
    "type": "object"
  }
`
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("dspy tools output (-want +got):\n%s", diff)
	}
	if code, _, errOut := runCmd(t, noEnv, "tools", "--tools", "shell"); code != exitUsage || !strings.Contains(errOut, `unknown tool "shell"`) {
		t.Errorf("tools --tools shell: exit %d, %q", code, errOut)
	}
}

func TestToolsCommandMCP(t *testing.T) {
	bin := everythingBin(t)
	code, out, errOut := runCmd(t, noEnv, "tools", "--tools", "clock", "--mcp", bin)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want := "echo (mcp: " + bin + `)
  Echoes back the input string
  {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "properties": {
      "message": {
        "description": "Message to echo",
        "type": "string"
      }
    },
    "required": [
      "message"
    ],
    "type": "object"
  }

`
	if !strings.HasPrefix(out, "clock (built-in)\n") || !strings.Contains(out, want) {
		t.Errorf("dspy tools --mcp output lacks echo as listed:\n%s\nwant it to contain:\n%s", out, want)
	}
	for _, name := range []string{"get-sum", "trigger-long-running-operation"} {
		if !strings.Contains(out, "\n"+name+" (mcp: "+bin+")\n") {
			t.Errorf("output lacks %s", name)
		}
	}

	// --json: the same, machine-readable.
	code, out, errOut = runCmd(t, noEnv, "tools", "--json", "--tools", "", "--mcp", bin)
	if code != exitOK {
		t.Fatalf("--json: exit %d: %s", code, errOut)
	}
	var entries []struct {
		Name        string         `json:"name"`
		Description string         `json:"description"`
		Source      string         `json:"source"`
		InputSchema map[string]any `json:"input_schema"`
	}
	if err := json.Unmarshal([]byte(out), &entries); err != nil {
		t.Fatal(err)
	}
	sum := entries[0]
	for _, e := range entries {
		if e.Name == "get-sum" {
			sum = e
		}
	}
	wantSum := map[string]any{"$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "required": []any{"a", "b"},
		"properties": map[string]any{"a": map[string]any{"type": "number", "description": "First number"}, "b": map[string]any{"type": "number", "description": "Second number"}}}
	if sum.Name != "get-sum" || sum.Source != "mcp: "+bin || !cmp.Equal(wantSum, sum.InputSchema) {
		t.Errorf("get-sum entry = %+v", sum)
	}
}

func TestMCPFlagErrors(t *testing.T) {
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"ask", "--module", "cot", "--mcp", "srv", "q"}, exitUsage, "dspy ask: --mcp adds tools to --module react, not --module cot"},
		{[]string{"ask", "--module", "react", "--mcp", `srv "x`, "q"}, exitUsage, `dspy ask: --mcp "srv \"x": unterminated quote or escape`},
		{[]string{"tools", "--mcp", "/nonexistent/mcp-server"}, exitFailed, `dspy tools: --mcp "/nonexistent/mcp-server": mcp: connecting to /nonexistent/mcp-server:`},
	}
	for _, tc := range tests {
		code, _, errOut := runCmd(t, noEnv, tc.args...)
		if code != tc.code || !strings.HasPrefix(errOut, tc.want) {
			t.Errorf("dspy %q: exit %d, stderr %q; want %d, %q...", tc.args, code, errOut, tc.code, tc.want)
		}
	}
}

// ask --module react --mcp: the agent calls the server's tool; the LM is
// an OpenAI-compatible test server that asks for it.
func TestAskWithMCPTools(t *testing.T) {
	bin := everythingBin(t)
	srv := dspytest.NewServer(dspytest.WithAnswers(
		dspytest.Answer{Text: dspytest.ChatReply("next_thought", "Echo it.", "next_tool_name", "echo", "next_tool_args", `{"message": "hi"}`)},
		dspytest.Answer{Text: dspytest.ChatReply("next_thought", "Done.", "next_tool_name", "finish", "next_tool_args", `{}`)},
		dspytest.Answer{Text: dspytest.ChatReply("reasoning", "The server echoed.", "answer", "Echo: hi")},
	))
	defer srv.Close()
	t.Setenv("OPENAI_API_KEY", "sk-test")
	code, out, errOut := runCmd(t, os.Getenv, "ask", "--json", "--module", "react", "--tools", "", "--mcp", bin,
		"--lm", "openai/test-model", "--base-url", srv.URL(), "Echo hi.")
	if code != exitOK {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	events := parseJSONLines(t, out)
	var statuses []string
	for _, e := range events {
		if e.Event == "status" {
			statuses = append(statuses, e.Message)
		}
	}
	for _, want := range []string{
		`Calling tool echo with {"message":"hi"}...`,
		`Tool echo returned Echo: hi. Querying the LM with the result...`,
	} {
		found := false
		for _, s := range statuses {
			found = found || s == want
		}
		if !found {
			t.Errorf("statuses %q lack %q", statuses, want)
		}
	}
	if pred := events[len(events)-2].Prediction; pred["answer"] != "Echo: hi" {
		t.Errorf("prediction = %v", pred)
	}
}

// serve --serve-mcp: the program is an MCP tool at /mcp, next to the page.
func TestServeMCP(t *testing.T) {
	pf := programFlags{module: "cot", signature: "question -> answer", lmName: "demo", adapter: "chat", timeout: time.Minute}
	prog, err := buildProgram(pf, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	s := newServer(prog, slog.New(slog.NewTextHandler(&syncBuffer{}, nil)), false)
	if s.mcp, err = mcpServer(prog, mcpServeFlags{toolName: "ask"}); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.handler())
	t.Cleanup(ts.Close)
	ctx := context.Background()
	cs, err := sdk.NewClient(&sdk.Implementation{Name: "test", Version: "1"}, nil).
		Connect(ctx, &sdk.StreamableClientTransport{Endpoint: ts.URL + "/mcp", HTTPClient: ts.Client()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "ask", Arguments: map[string]any{"question": "What is the capital of France?"}})
	if err != nil || res.IsError {
		t.Fatalf("CallTool = %+v, %v", res, err)
	}
	pred, err := dspy.Call(ctx, prog.module, dspy.Inputs{"question": "What is the capital of France?"})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(pred.Fields())
	var want any
	json.Unmarshal(b, &want)
	if diff := cmp.Diff(want, res.StructuredContent); diff != "" {
		t.Errorf("structured content is not the program's prediction (-want +got):\n%s", diff)
	}
}

// dspy mcp: the binary serves the program over stdio, as Claude Desktop
// starts it.
func TestMCPCommandStdio(t *testing.T) {
	bin := dspyBinary(t)
	ctx := context.Background()
	t.Setenv("OPENAI_API_KEY", "") // the demo LM
	c, err := mcp.Connect(ctx, mcp.Command(bin, "mcp", "--lm", "demo", "--demo-delay", "0", "--tool-name", "answer_question"),
		mcp.WithStopTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tools, err := c.Tools(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(tools) != 1 || tools[0].Name() != "answer_question" {
		t.Fatalf("tools = %v, want answer_question", tools)
	}
	wantSchema := map[string]any{"type": "object", "additionalProperties": false, "required": []any{"question"},
		"properties": map[string]any{"question": map[string]any{"type": "string"}}}
	if diff := cmp.Diff(wantSchema, tools[0].Parameters()); diff != "" {
		t.Errorf("input schema (-want +got):\n%s", diff)
	}
	res, err := c.CallTool(ctx, "answer_question", map[string]any{"question": "What is the capital of France?"})
	if err != nil || res.IsError {
		t.Fatalf("CallTool = %+v, %v", res, err)
	}
	fields, _ := res.StructuredContent.(map[string]any)
	if a, _ := fields["answer"].(string); a == "" || fields["reasoning"] == nil {
		t.Errorf("structured content = %v, want reasoning and answer", res.StructuredContent)
	}
}
