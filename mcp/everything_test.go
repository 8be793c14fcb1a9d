package mcp_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/dspytest"
	"github.com/godspy/dspy/mcp"
)

// These tests run ReAct against the MCP reference server
// (@modelcontextprotocol/server-everything, the exact version pinned in
// testdata/everything/package-lock.json), which .ci/setup.d/40-mcp.sh
// installs with npm ci. Outside CI they skip when it is not installed; in
// CI (CI=true) its absence is a failure.

// everythingBin returns the installed server's launcher.
func everythingBin(t *testing.T) string {
	t.Helper()
	bin, err := filepath.Abs("testdata/everything/node_modules/.bin/mcp-server-everything")
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

func everything(t *testing.T, opts ...mcp.Option) *mcp.Client {
	bin := everythingBin(t)
	return connect(t, mcp.Command(bin, "stdio"), append(opts, mcp.WithStopTimeout(100*time.Millisecond))...)
}

func TestEverythingListsTools(t *testing.T) {
	c := everything(t)
	tools, err := c.Tools(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tl := range tools {
		names = append(names, tl.Name())
	}
	for _, want := range []string{"echo", "get-sum", "trigger-long-running-operation"} {
		found := false
		for _, n := range names {
			found = found || n == want
		}
		if !found {
			t.Errorf("tools %v lack %s", names, want)
		}
	}
	// The schemas as the pinned server sends them (zod's draft-07 output).
	tests := []struct {
		tool, desc, schema string
		args               []dspy.ToolArg
	}{
		{"echo", "Echoes back the input string",
			`{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","properties":{"message":{"type":"string","description":"Message to echo"}},"required":["message"]}`,
			[]dspy.ToolArg{{Name: "message", Desc: "Message to echo", Required: true, Schema: map[string]any{"type": "string"}}}},
		{"get-sum", "Returns the sum of two numbers",
			`{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","properties":{"a":{"type":"number","description":"First number"},"b":{"type":"number","description":"Second number"}},"required":["a","b"]}`,
			[]dspy.ToolArg{{Name: "a", Desc: "First number", Required: true, Schema: map[string]any{"type": "number"}},
				{Name: "b", Desc: "Second number", Required: true, Schema: map[string]any{"type": "number"}}}},
		{"trigger-long-running-operation", "Demonstrates a long running operation with progress updates.",
			`{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","properties":{"duration":{"type":"number","default":10,"description":"Duration of the operation in seconds"},"steps":{"type":"number","default":5,"description":"Number of steps in the operation"}}}`,
			[]dspy.ToolArg{{Name: "duration", Desc: "Duration of the operation in seconds", Schema: map[string]any{"type": "number", "default": json.Number("10")}},
				{Name: "steps", Desc: "Number of steps in the operation", Schema: map[string]any{"type": "number", "default": json.Number("5")}}}},
	}
	for _, tc := range tests {
		t.Run(tc.tool, func(t *testing.T) {
			tl := toolByName(t, tools, tc.tool)
			if tl.Desc() != tc.desc {
				t.Errorf("Desc() = %q, want %q", tl.Desc(), tc.desc)
			}
			var want any
			d := json.NewDecoder(strings.NewReader(tc.schema))
			d.UseNumber()
			d.Decode(&want)
			if diff := cmp.Diff(want, any(tl.Parameters())); diff != "" {
				t.Errorf("Parameters() (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.args, tl.Args()); diff != "" {
				t.Errorf("Args() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEverythingReAct(t *testing.T) {
	c := everything(t)
	ctx := context.Background()
	tools, err := c.Tools(ctx)
	if err != nil {
		t.Fatal(err)
	}
	model := dspytest.NewScriptedLM(
		stepReply("I should echo the greeting.", "echo", `{"message": "hello from godspy"}`),
		stepReply("Now add the numbers.", "get-sum", `{"a": 17, "b": "25"}`),
		stepReply("I have both.", "finish", `{}`),
		dspytest.ChatReply("reasoning", "The server echoed and added.", "answer", "42"),
	)
	agent := dspy.NewReAct("question -> answer", tools)
	pred, err := agent.Call(dspy.WithSettings(ctx, dspy.WithLM(model)), dspy.Inputs{"question": "Echo a greeting, then add 17 and 25."})
	if err != nil {
		t.Fatal(err)
	}
	want := []dspy.Step{
		{Thought: "I should echo the greeting.", ToolName: "echo", ToolArgs: map[string]any{"message": "hello from godspy"}, Observation: "Echo: hello from godspy"},
		{Thought: "Now add the numbers.", ToolName: "get-sum", ToolArgs: map[string]any{"a": 17.0, "b": "25"}, Observation: "The sum of 17 and 25 is 42."},
		{Thought: "I have both.", ToolName: "finish", ToolArgs: map[string]any{}, Observation: "Completed."},
	}
	if diff := cmp.Diff(want, pred.Trajectory); diff != "" {
		t.Errorf("trajectory (-want +got):\n%s", diff)
	}
	if pred.Get("answer") != "42" {
		t.Errorf("answer = %v", pred.Get("answer"))
	}
	// The server's outputs are what the LM sees next.
	reqs := model.Requests()
	third := reqs[2].Messages[len(reqs[2].Messages)-1].Content
	wantPart := "[[ ## observation_0 ## ]]\nEcho: hello from godspy\n\n[[ ## thought_1 ## ]]\nNow add the numbers.\n\n[[ ## tool_name_1 ## ]]\nget-sum\n\n[[ ## tool_args_1 ## ]]\n{\"a\": 17, \"b\": \"25\"}\n\n[[ ## observation_1 ## ]]\nThe sum of 17 and 25 is 42."
	if !strings.Contains(third, wantPart) {
		t.Errorf("the third prompt lacks the server's observations; it is:\n%s\nwant it to contain:\n%s", third, wantPart)
	}
	wantTool := ") get-sum, whose description is <desc>Returns the sum of two numbers</desc>. It takes arguments {'a': {'type': 'number', 'description': 'First number'}, 'b': {'type': 'number', 'description': 'Second number'}} in JSON format."
	if !strings.Contains(reqs[0].Messages[0].Content, wantTool) {
		t.Errorf("the prompt does not list get-sum with the server's schema; system message:\n%s", reqs[0].Messages[0].Content)
	}
}

// wireLog collects a LoggingTransport's lines.
type wireLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *wireLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

// messages returns the JSON-RPC messages written ("write") or read.
func (w *wireLog) messages(dir string) []map[string]any {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(w.buf.Bytes()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), dir+": ")
		if !ok {
			continue
		}
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

func TestEverythingCancelLongRunning(t *testing.T) {
	bin := everythingBin(t)
	log := &wireLog{}
	endpoint := mcp.Transport("server-everything", func() sdk.Transport {
		return &sdk.LoggingTransport{
			Transport: &sdk.CommandTransport{Command: exec.Command(bin, "stdio"), TerminateDuration: 100 * time.Millisecond},
			Writer:    log,
		}
	})
	progressed := make(chan struct{})
	var once sync.Once
	c := connect(t, endpoint, mcp.WithProgress(func(_ context.Context, p mcp.Progress) {
		if p.Tool == "trigger-long-running-operation" {
			once.Do(func() { close(progressed) })
		}
	}))
	tools, err := c.Tools(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	model := dspytest.NewScriptedLM(
		stepReply("Run the long operation.", "trigger-long-running-operation", `{"duration": 60, "steps": 120}`),
	)
	agent := dspy.NewReAct("question -> answer", tools)
	ctx, cancel := context.WithCancel(dspy.WithSettings(context.Background(), dspy.WithLM(model)))
	defer cancel()
	done := make(chan struct{})
	var runErr error
	go func() {
		defer close(done)
		_, runErr = agent.Call(ctx, dspy.Inputs{"question": "q"})
	}()
	// The server is running the operation once it reports progress.
	wait(t, progressed, "no progress from the long-running operation")
	start := time.Now()
	cancel()
	wait(t, done, "the run did not return after cancel")
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("the run returned %v after cancel, want within 1 s", elapsed)
	}
	if !errors.Is(runErr, context.Canceled) {
		t.Errorf("run error = %v, want context.Canceled", runErr)
	}
	// The protocol's cancellation went to the server for that call's id.
	var callID any
	for _, m := range log.messages("write") {
		if m["method"] == "tools/call" {
			if p, _ := m["params"].(map[string]any); p["name"] == "trigger-long-running-operation" {
				callID = m["id"]
			}
		}
	}
	if callID == nil {
		t.Fatal("no tools/call for the operation on the wire")
	}
	deadline := time.Now().Add(5 * time.Second) // the SDK sends it off the caller's path
	for {
		var sent bool
		for _, m := range log.messages("write") {
			if p, _ := m["params"].(map[string]any); m["method"] == "notifications/cancelled" && p["requestId"] == callID {
				sent = true
			}
		}
		if sent {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no notifications/cancelled for request %v within 5 s", callID)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
