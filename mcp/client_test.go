package mcp_test

import (
	"context"
	"encoding/json"
	"errors"
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

// wait bounds a wait in a test: it fails with msg instead of hanging.
func wait(t *testing.T, ch <-chan struct{}, msg string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("timed out after 10 s: " + msg)
	}
}

// memServer is an SDK server reached over in-memory transports; each
// connection (a reconnect too) gets its own server session.
type memServer struct {
	t   *testing.T
	srv *sdk.Server

	mu       sync.Mutex
	sessions []*sdk.ServerSession
}

func (m *memServer) endpoint() mcp.Endpoint {
	return mcp.Transport("memory", func() sdk.Transport {
		ct, st := sdk.NewInMemoryTransports()
		ss, err := m.srv.Connect(context.Background(), st, nil)
		if err != nil {
			m.t.Errorf("server connect: %v", err)
			return ct
		}
		m.mu.Lock()
		m.sessions = append(m.sessions, ss)
		m.mu.Unlock()
		m.t.Cleanup(func() { ss.Close() })
		return ct
	})
}

// dropAll ends every server session, as a server going away does.
func (m *memServer) dropAll() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, ss := range m.sessions {
		ss.Close()
	}
	m.sessions = nil
}

type echoIn struct {
	Message string `json:"message" jsonschema:"Message to echo"`
}

type slowIn struct {
	Seconds float64 `json:"seconds"`
}

// stepsAck is closed by a test when its progress hook has seen the steps
// tool's three notifications: the tool waits for it (or its ctx to end)
// before it returns, as a long operation would still be running.
var stepsAck = struct {
	sync.Mutex
	ch chan struct{}
}{}

func newStepsAck() chan struct{} {
	stepsAck.Lock()
	defer stepsAck.Unlock()
	stepsAck.ch = make(chan struct{})
	return stepsAck.ch
}

// slowStarted is closed when the slow tool starts.
var slowStarted chan struct{}

// testServer serves tools for the client tests. cancelled is closed when
// the slow tool's ctx ends before its time.
func testServer(t *testing.T) (*memServer, chan struct{}) {
	srv := sdk.NewServer(&sdk.Implementation{Name: "test", Version: "1"}, nil)
	sdk.AddTool(srv, &sdk.Tool{Name: "echo", Description: "Echoes back the input string"},
		func(_ context.Context, _ *sdk.CallToolRequest, in echoIn) (*sdk.CallToolResult, any, error) {
			return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: "Echo: " + in.Message}}}, nil, nil
		})
	cancelled := make(chan struct{})
	var once, startOnce sync.Once
	sdk.AddTool(srv, &sdk.Tool{Name: "slow", Description: "Takes its time."},
		func(ctx context.Context, _ *sdk.CallToolRequest, in slowIn) (*sdk.CallToolResult, any, error) {
			startOnce.Do(func() { close(slowStarted) })
			select {
			case <-ctx.Done():
				once.Do(func() { close(cancelled) })
				return nil, nil, ctx.Err()
			case <-time.After(time.Duration(in.Seconds * float64(time.Second))):
				return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: "done"}}}, nil, nil
			}
		})
	sdk.AddTool(srv, &sdk.Tool{Name: "steps", Description: "Reports progress."},
		func(ctx context.Context, req *sdk.CallToolRequest, _ struct{}) (*sdk.CallToolResult, any, error) {
			tok := req.Params.GetProgressToken()
			for i := 1; i <= 3 && tok != nil; i++ {
				err := req.Session.NotifyProgress(ctx, &sdk.ProgressNotificationParams{ProgressToken: tok, Progress: float64(i), Total: 3, Message: "step"})
				if err != nil {
					return nil, nil, err
				}
			}
			stepsAck.Lock()
			ack := stepsAck.ch
			stepsAck.Unlock()
			select {
			case <-ack:
			case <-ctx.Done():
				return nil, nil, ctx.Err()
			case <-time.After(10 * time.Second):
				return nil, nil, errors.New("steps: no ack from the test within 10 s")
			}
			return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: "3 steps"}}}, nil, nil
		})
	sdk.AddTool(srv, &sdk.Tool{Name: "fail", Description: "Always fails."},
		func(context.Context, *sdk.CallToolRequest, struct{}) (*sdk.CallToolResult, any, error) {
			return nil, nil, errors.New("the disk is full")
		})
	results := map[string]*sdk.CallToolResult{
		"two-texts":  {Content: []sdk.Content{&sdk.TextContent{Text: "a"}, &sdk.TextContent{Text: "b"}}},
		"structured": {Content: []sdk.Content{}, StructuredContent: map[string]any{"temperature": 21.5}},
		"image":      {Content: []sdk.Content{&sdk.ImageContent{Data: []byte("png"), MIMEType: "image/png"}}},
		"errors":     {Content: []sdk.Content{&sdk.TextContent{Text: "no"}, &sdk.TextContent{Text: "it's bad"}}, IsError: true},
		"empty":      {Content: []sdk.Content{}},
	}
	for name, res := range results {
		srv.AddTool(&sdk.Tool{Name: name, InputSchema: json.RawMessage(`{"type":"object"}`)},
			func(context.Context, *sdk.CallToolRequest) (*sdk.CallToolResult, error) { return res, nil })
	}
	return &memServer{t: t, srv: srv}, cancelled
}

func connect(t *testing.T, e mcp.Endpoint, opts ...mcp.Option) *mcp.Client {
	t.Helper()
	c, err := mcp.Connect(context.Background(), e, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func toolByName(t *testing.T, tools []*dspy.Tool, name string) *dspy.Tool {
	t.Helper()
	for _, tl := range tools {
		if tl.Name() == name {
			return tl
		}
	}
	t.Fatalf("no tool %q", name)
	return nil
}

func TestToolsAreTheServersTools(t *testing.T) {
	ms, _ := testServer(t)
	c := connect(t, ms.endpoint())
	ctx := context.Background()
	tools, err := c.Tools(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// What the server lists, through the SDK's own client.
	ct, st := sdk.NewInMemoryTransports()
	ss, err := ms.srv.Connect(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ss.Close()
	cs, err := sdk.NewClient(&sdk.Implementation{Name: "check", Version: "1"}, nil).Connect(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	listed, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(tools) != len(listed.Tools) {
		t.Fatalf("Tools() has %d tools, the server lists %d", len(tools), len(listed.Tools))
	}
	for i, want := range listed.Tools {
		got := tools[i]
		if got.Name() != want.Name || got.Desc() != want.Description {
			t.Errorf("tool %d = %s %q, want %s %q", i, got.Name(), got.Desc(), want.Name, want.Description)
		}
		b, _ := json.Marshal(want.InputSchema)
		var wantSchema, gotSchema any
		json.Unmarshal(b, &wantSchema)
		b, _ = json.Marshal(got.Parameters())
		json.Unmarshal(b, &gotSchema)
		if diff := cmp.Diff(wantSchema, gotSchema); diff != "" {
			t.Errorf("tool %s: Parameters() is not the server's input schema (-want +got):\n%s", want.Name, diff)
		}
	}
	echo := toolByName(t, tools, "echo")
	if got, err := echo.Call(ctx, map[string]any{"message": "hi"}); err != nil || got != "Echo: hi" {
		t.Errorf("echo(hi) = %v, %v; want Echo: hi", got, err)
	}
	// Arguments are checked against the server's schema before the call.
	var ae *dspy.ToolArgError
	if _, err := echo.Call(ctx, map[string]any{"message": 3.0}); !errors.As(err, &ae) || ae.Arg != "message" {
		t.Errorf("echo(3) error = %v, want a *ToolArgError for message", err)
	}
}

func TestObservations(t *testing.T) {
	ms, _ := testServer(t)
	c := connect(t, ms.endpoint())
	ctx := context.Background()
	tools, err := c.Tools(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		tool    string
		want    any
		wantErr string
	}{
		{"two-texts", []string{"a", "b"}, ""},
		{"structured", map[string]any{"temperature": 21.5}, ""},
		{"image", []any{map[string]any{"type": "image", "mimeType": "image/png", "data": "cG5n"}}, ""},
		{"empty", "", ""},
		{"fail", nil, "Failed to call a MCP tool: the disk is full"},
		{"errors", nil, `Failed to call a MCP tool: ['no', "it's bad"]`},
	}
	for _, tc := range tests {
		t.Run(tc.tool, func(t *testing.T) {
			got, err := toolByName(t, tools, tc.tool).Call(ctx, nil)
			if tc.wantErr != "" {
				var te *mcp.ToolError
				if !errors.As(err, &te) || err.Error() != tc.wantErr || te.Tool != tc.tool {
					t.Errorf("error = %v, want a *ToolError %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
		})
	}
	// The whole result, for a program that wants it.
	res, err := c.CallTool(ctx, "structured", nil)
	if err != nil || !cmp.Equal(res.StructuredContent, map[string]any{"temperature": 21.5}) {
		t.Errorf("CallTool(structured) = %+v, %v", res, err)
	}
	if _, err := c.CallTool(ctx, "nope", nil); err == nil || !strings.Contains(err.Error(), `mcp: memory: calling tool nope: `) {
		t.Errorf("CallTool(nope) error = %v, want a protocol error naming the tool", err)
	}
}

// stepReply is a react step in ChatAdapter format.
func stepReply(thought, tool, args string) string {
	return dspytest.ChatReply("next_thought", thought, "next_tool_name", tool, "next_tool_args", args)
}

func TestReActUsesServerTools(t *testing.T) {
	ms, _ := testServer(t)
	c := connect(t, ms.endpoint())
	ctx := context.Background()
	tools, err := c.Tools(ctx)
	if err != nil {
		t.Fatal(err)
	}
	model := dspytest.NewScriptedLM(
		stepReply("Let me echo it.", "echo", `{"message": "hello"}`),
		stepReply("Now the failing one.", "fail", `{}`),
		stepReply("Done.", "finish", `{}`),
		dspytest.ChatReply("reasoning", "It echoed.", "answer", "Echo: hello"),
	)
	agent := dspy.NewReAct("question -> answer", tools)
	pred, err := agent.Call(dspy.WithSettings(ctx, dspy.WithLM(model)), dspy.Inputs{"question": "Echo hello."})
	if err != nil {
		t.Fatal(err)
	}
	obs := []string{pred.Trajectory[0].Observation, pred.Trajectory[1].Observation}
	want := []string{"Echo: hello", "Execution error in fail: Failed to call a MCP tool: the disk is full"}
	if diff := cmp.Diff(want, obs); diff != "" {
		t.Errorf("observations (-want +got):\n%s", diff)
	}
	reqs := model.Requests()
	last := reqs[2].Messages[len(reqs[2].Messages)-1].Content
	wantPart := "[[ ## observation_0 ## ]]\nEcho: hello\n\n[[ ## thought_1 ## ]]\nNow the failing one.\n\n[[ ## tool_name_1 ## ]]\nfail\n\n[[ ## tool_args_1 ## ]]\n{}\n\n[[ ## observation_1 ## ]]\nExecution error in fail: Failed to call a MCP tool: the disk is full"
	if !strings.Contains(last, wantPart) {
		t.Errorf("third prompt lacks the observations:\n%s\nwant it to contain:\n%s", last, wantPart)
	}
	if !strings.Contains(reqs[0].Messages[0].Content, "(1) echo, whose description is <desc>Echoes back the input string</desc>. It takes arguments {'message': {'type': 'string', 'description': 'Message to echo'}} in JSON format.") {
		t.Errorf("the prompt does not list echo with the server's schema:\n%s", reqs[0].Messages[0].Content)
	}
}

func TestCancelReachesServer(t *testing.T) {
	slowStarted = make(chan struct{})
	ms, cancelled := testServer(t)
	c := connect(t, ms.endpoint())
	tools, err := c.Tools(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var callErr error
	go func() {
		defer close(done)
		_, callErr = toolByName(t, tools, "slow").Call(ctx, map[string]any{"seconds": 60.0})
	}()
	wait(t, slowStarted, "the slow tool did not start")
	cancel()
	wait(t, done, "the call did not return after cancel")
	if !errors.Is(callErr, context.Canceled) {
		t.Errorf("call error = %v, want context.Canceled", callErr)
	}
	wait(t, cancelled, "the server's handler never saw its ctx cancelled (no notifications/cancelled)")
}

type ctxKey struct{}

func TestProgressHook(t *testing.T) {
	ms, _ := testServer(t)
	var mu sync.Mutex
	var got []mcp.Progress
	var ctxValues []any
	ack := newStepsAck()
	c := connect(t, ms.endpoint(), mcp.WithProgress(func(ctx context.Context, p mcp.Progress) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, p)
		ctxValues = append(ctxValues, ctx.Value(ctxKey{}))
		if len(got) == 3 {
			close(ack)
		}
	}))
	ctx := context.WithValue(context.Background(), ctxKey{}, "run-7")
	res, err := c.CallTool(ctx, "steps", nil)
	if err != nil {
		t.Fatal(err)
	}
	if text := res.Content[0].(*sdk.TextContent).Text; text != "3 steps" {
		t.Errorf("result %q", text)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []mcp.Progress{
		{Tool: "steps", Progress: 1, Total: 3, Message: "step"},
		{Tool: "steps", Progress: 2, Total: 3, Message: "step"},
		{Tool: "steps", Progress: 3, Total: 3, Message: "step"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("progress (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]any{"run-7", "run-7", "run-7"}, ctxValues); diff != "" {
		t.Errorf("the hook's ctx is not the call's (-want +got):\n%s", diff)
	}
}

func TestProgressHookPanicIsTheCallers(t *testing.T) {
	ms, _ := testServer(t)
	newStepsAck() // never acknowledged: the tool runs until the panic cancels the call
	c := connect(t, ms.endpoint(), mcp.WithProgress(func(context.Context, mcp.Progress) { panic("hook bug") }))
	tools, err := c.Tools(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	model := dspytest.NewScriptedLM(stepReply("Go.", "steps", `{}`))
	agent := dspy.NewReAct("question -> answer", tools)
	_, err = agent.Call(dspy.WithSettings(context.Background(), dspy.WithLM(model)), dspy.Inputs{"question": "q"})
	var pe *dspy.PanicError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "hook bug") {
		t.Fatalf("agent error = %v, want a *dspy.PanicError from the hook", err)
	}
}

func TestToolListChanged(t *testing.T) {
	ms, _ := testServer(t)
	c := connect(t, ms.endpoint())
	ctx := context.Background()
	before, err := c.Tools(ctx)
	if err != nil {
		t.Fatal(err)
	}
	changed := c.ToolsChanged()
	sdk.AddTool(ms.srv, &sdk.Tool{Name: "added", Description: "New."},
		func(context.Context, *sdk.CallToolRequest, struct{}) (*sdk.CallToolResult, any, error) {
			return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: "new"}}}, nil, nil
		})
	wait(t, changed, "no list-changed notice")
	after, err := c.Tools(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before)+1 {
		t.Fatalf("after the change: %d tools, want %d", len(after), len(before)+1)
	}
	if got, err := toolByName(t, after, "added").Call(ctx, nil); err != nil || got != "new" {
		t.Errorf("added() = %v, %v", got, err)
	}
	// A tool of the earlier list still works.
	if got, err := toolByName(t, before, "echo").Call(ctx, map[string]any{"message": "x"}); err != nil || got != "Echo: x" {
		t.Errorf("earlier echo(x) = %v, %v", got, err)
	}
	// No change, no round trip: the same tools.
	again, _ := c.Tools(ctx)
	if again[0] != after[0] {
		t.Error("Tools() without a change made new tools")
	}
}

func TestDisconnectAndReconnect(t *testing.T) {
	ctx := context.Background()
	for _, reconnect := range []bool{false, true} {
		name := "no reconnect"
		if reconnect {
			name = "reconnect"
		}
		t.Run(name, func(t *testing.T) {
			ms, _ := testServer(t)
			var opts []mcp.Option
			if reconnect {
				opts = append(opts, mcp.WithReconnect())
			}
			c := connect(t, ms.endpoint(), opts...)
			tools, err := c.Tools(ctx)
			if err != nil {
				t.Fatal(err)
			}
			echo := toolByName(t, tools, "echo")
			ms.dropAll()
			// The client notices when the session ends; a bounded wait, not
			// a sleep that decides the outcome.
			deadline := time.Now().Add(10 * time.Second)
			for {
				_, err = echo.Call(ctx, map[string]any{"message": "x"})
				if err != nil || reconnect || time.Now().After(deadline) {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			if !reconnect {
				if !errors.Is(err, mcp.ErrDisconnected) {
					t.Fatalf("call after the server went away: error = %v, want ErrDisconnected", err)
				}
				return
			}
			// With reconnect, a call may still race the end of the old
			// session once; then calls go to a new session.
			for i := 0; i < 100 && err != nil; i++ {
				if !errors.Is(err, mcp.ErrDisconnected) {
					t.Fatalf("error = %v, want ErrDisconnected or success", err)
				}
				time.Sleep(5 * time.Millisecond)
				_, err = echo.Call(ctx, map[string]any{"message": "x"})
			}
			if err != nil {
				t.Fatalf("after reconnecting: %v", err)
			}
		})
	}
}

func TestClose(t *testing.T) {
	ms, _ := testServer(t)
	c, err := mcp.Connect(context.Background(), ms.endpoint())
	if err != nil {
		t.Fatal(err)
	}
	tools, _ := c.Tools(context.Background())
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		}()
	}
	wg.Wait()
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := toolByName(t, tools, "echo").Call(context.Background(), map[string]any{"message": "x"}); !errors.Is(err, mcp.ErrClosed) {
		t.Errorf("call after Close: %v, want ErrClosed", err)
	}
	if _, err := c.Tools(context.Background()); err != nil {
		t.Errorf("Tools after Close (no change): %v", err)
	}
}
