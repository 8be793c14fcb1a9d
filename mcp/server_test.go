package mcp_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/dspytest"
	"github.com/godspy/dspy/mcp"
)

const capitalReply = "[[ ## reasoning ## ]]\nFrance's capital is Paris.\n\n[[ ## answer ## ]]\nParis\n\n[[ ## confidence ## ]]\n0.9\n\n[[ ## completed ## ]]"

// capitalProgram is a ChainOfThought on a scripted LM that always gives
// the same reply.
func capitalProgram() *dspy.ChainOfThought {
	sig, err := dspy.NewSignature(
		[]dspy.Field{{Name: "question", Desc: "what to answer", Type: dspy.Str()}},
		[]dspy.Field{{Name: "answer", Type: dspy.Str()}, {Name: "confidence", Type: dspy.Float()}})
	if err != nil {
		panic(err)
	}
	return dspy.NewChainOfThought(sig, dspy.WithLM(dspytest.Repeat(capitalReply)))
}

// sdkClient connects the SDK's own client to s over in-memory transports;
// the server side runs on a goroutine the test owns until cleanup.
func sdkClient(t *testing.T, s *mcp.Server) *sdk.ClientSession {
	t.Helper()
	ct, st := sdk.NewInMemoryTransports()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, st) }()
	cs, err := sdk.NewClient(&sdk.Implementation{Name: "sdk-client", Version: "1"}, nil).Connect(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cs.Close()
		cancel()
		if err := <-done; err != nil && !errors.Is(err, sdk.ErrConnectionClosed) {
			t.Errorf("Server.Run: %v", err)
		}
	})
	return cs
}

func jsonOf(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestServedProgramCalledBySDKClient(t *testing.T) {
	s := mcp.NewServer("godspy-test", "1.0")
	if err := s.AddModule("ask", "", capitalProgram()); err != nil {
		t.Fatal(err)
	}
	cs := sdkClient(t, s)
	ctx := context.Background()
	list, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Tools) != 1 {
		t.Fatalf("tools = %d, want 1", len(list.Tools))
	}
	tool := list.Tools[0]
	wantTool := map[string]any{
		"name":        "ask",
		"description": "A godspy program: given `question`, it produces `reasoning`, `answer`, `confidence`.",
		"inputSchema": map[string]any{"type": "object", "additionalProperties": false, "required": []any{"question"},
			"properties": map[string]any{"question": map[string]any{"type": "string", "description": "what to answer"}}},
		// ChainOfThought's signature has its reasoning first.
		"outputSchema": map[string]any{"type": "object", "required": []any{"reasoning", "answer", "confidence"},
			"properties": map[string]any{"reasoning": map[string]any{"type": "string"}, "answer": map[string]any{"type": "string"}, "confidence": map[string]any{"type": "number"}}},
	}
	if diff := cmp.Diff(wantTool, jsonOf(t, tool)); diff != "" {
		t.Errorf("listed tool (-want +got):\n%s", diff)
	}

	res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "ask", Arguments: map[string]any{"question": "What is the capital of France?"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.IsError {
		t.Fatalf("isError result: %+v", res.Content)
	}
	// The structured content is the prediction the program makes.
	pred, err := capitalProgram().Call(ctx, dspy.Inputs{"question": "What is the capital of France?"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(jsonOf(t, pred.Fields()), jsonOf(t, res.StructuredContent)); diff != "" {
		t.Errorf("structured content is not the prediction (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]any{"reasoning": "France's capital is Paris.", "answer": "Paris", "confidence": 0.9}, res.StructuredContent); diff != "" {
		t.Errorf("structured content (-want +got):\n%s", diff)
	}
	// And as JSON text, for clients that read only text.
	text := res.Content[0].(*sdk.TextContent).Text
	var fromText any
	if err := json.Unmarshal([]byte(text), &fromText); err != nil || !cmp.Equal(fromText, res.StructuredContent) {
		t.Errorf("text content %q does not hold the structured content", text)
	}

	// Bad arguments and a failing module are error results the client's LM sees.
	bad, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "ask", Arguments: map[string]any{"q": "x"}})
	if err != nil || !bad.IsError {
		t.Fatalf("bad arguments: %+v, %v; want an isError result", bad, err)
	}
}

// blocker is a module that waits for its ctx and reports that it ended.
type blocker struct {
	started, ended chan struct{}
	once           sync.Once
}

func (b *blocker) Forward(ctx context.Context, in dspy.Inputs) (*dspy.Prediction, error) {
	close(b.started)
	<-ctx.Done()
	b.once.Do(func() { close(b.ended) })
	return nil, ctx.Err()
}

type failing struct{}

func (failing) Forward(context.Context, dspy.Inputs) (*dspy.Prediction, error) {
	return nil, errors.New("the LM is down")
}

type panicking struct{}

func (panicking) Forward(context.Context, dspy.Inputs) (*dspy.Prediction, error) { panic("bug") }

func TestServedModuleErrorsAndCancel(t *testing.T) {
	sig := dspy.MustSignature("question -> answer")
	b := &blocker{started: make(chan struct{}), ended: make(chan struct{})}
	s := mcp.NewServer("godspy-test", "1.0")
	for name, m := range map[string]dspy.Module{"block": b, "fail": failing{}, "panic": panicking{}} {
		if err := s.AddModule(name, "", m, mcp.WithSignature(sig)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AddModule("nosig", "", failing{}); err == nil || err.Error() != "mcp: AddModule nosig: mcp_test.failing has no Signature method: give it WithSignature" {
		t.Errorf("AddModule without a signature: %v", err)
	}
	cs := sdkClient(t, s)
	ctx := context.Background()
	for _, tc := range []struct{ tool, want string }{
		{"fail", "the LM is down"},
		{"panic", "dspy: panic: bug"},
	} {
		res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: tc.tool, Arguments: map[string]any{"question": "q"}})
		if err != nil || !res.IsError || res.Content[0].(*sdk.TextContent).Text != tc.want {
			t.Errorf("%s: %+v, %v; want an isError result %q", tc.tool, res, err, tc.want)
		}
	}

	cctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		cs.CallTool(cctx, &sdk.CallToolParams{Name: "block", Arguments: map[string]any{"question": "q"}})
	}()
	wait(t, b.started, "the served module did not start")
	cancel()
	wait(t, b.ended, "the client's cancellation did not reach the served module's ctx")
	wait(t, done, "the cancelled call did not return")
}

func TestServedOverStreamableHTTP(t *testing.T) {
	s := mcp.NewServer("godspy-test", "1.0")
	if err := s.AddModule("ask", "Answers questions.", capitalProgram()); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close) // after the clients' cleanups: their streams end first
	ctx := context.Background()

	// The SDK's client.
	cs, err := sdk.NewClient(&sdk.Implementation{Name: "sdk-client", Version: "1"}, nil).
		Connect(ctx, &sdk.StreamableClientTransport{Endpoint: hs.URL, HTTPClient: hs.Client()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "ask", Arguments: map[string]any{"question": "Capital of France?"}})
	cs.Close()
	if err != nil || res.IsError {
		t.Fatalf("CallTool over HTTP: %+v, %v", res, err)
	}
	if got := res.StructuredContent.(map[string]any)["answer"]; got != "Paris" {
		t.Errorf("answer = %v, want Paris", got)
	}

	// godspy's client, and a ReAct agent on it: a program calling a program.
	c := connect(t, mcp.URL(hs.URL, hs.Client()))
	tools, err := c.Tools(ctx)
	if err != nil {
		t.Fatal(err)
	}
	model := dspytest.NewScriptedLM(
		stepReply("Ask the expert.", "ask", `{"question": "Capital of France?"}`),
		stepReply("Done.", "finish", `{}`),
		dspytest.ChatReply("reasoning", "The expert said Paris.", "answer", "Paris"),
	)
	pred, err := dspy.NewReAct("question -> answer", tools).Call(dspy.WithSettings(ctx, dspy.WithLM(model)), dspy.Inputs{"question": "q"})
	if err != nil {
		t.Fatal(err)
	}
	obs := pred.Trajectory[0].Observation
	var got any
	if err := json.Unmarshal([]byte(obs), &got); err != nil || !cmp.Equal(got, map[string]any{"reasoning": "France's capital is Paris.", "answer": "Paris", "confidence": 0.9}) {
		t.Errorf("observation = %s, want the served prediction as JSON", obs)
	}

	// A page elsewhere may not drive the server from a browser.
	req := httptest.NewRequest("POST", "/", strings.NewReader(`{}`))
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.Header.Set("Origin", "https://evil.example")
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	if rec.Code != 403 {
		t.Errorf("cross-origin POST: status %d, want 403", rec.Code)
	}
}
