package dspy_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/dspytest"
	"github.com/godspy/dspy/lm"
)

// stepReply is a react reply in ChatAdapter's format.
func stepReply(thought, tool, args string) string {
	return dspytest.ChatReply("next_thought", thought, "next_tool_name", tool, "next_tool_args", args)
}

func answerReply(answer string) string {
	return dspytest.ChatReply("reasoning", "Read the trajectory.", "answer", answer)
}

// isExtract reports whether req is the extract step's.
func isExtract(req *lm.Request) bool {
	return strings.Contains(req.Messages[0].Content, "`reasoning`")
}

// trajectoryOf returns the trajectory input of a request.
func trajectoryOf(req *lm.Request) string {
	u := req.Messages[len(req.Messages)-1].Content
	_, after, ok := strings.Cut(u, "[[ ## trajectory ## ]]\n")
	if !ok {
		return ""
	}
	before, _, _ := strings.Cut(after, "\n\nRespond with")
	return strings.TrimSpace(before)
}

// withLM returns a context whose calls use model, with ReAct's warnings
// discarded.
func withLM(model lm.LM) context.Context {
	return dspy.WithSettings(context.Background(), dspy.WithLM(model), dspy.WithLogger(slog.New(slog.DiscardHandler)))
}

func TestReActFinish(t *testing.T) {
	model := dspytest.NewScriptedLM(stepReply("Nothing to look up.", "finish", "{}"), answerReply("Paris"))
	agent := dspy.NewReAct("question -> answer", []*dspy.Tool{addTool()})
	pred, err := agent.Call(withLM(model), dspy.Inputs{"question": "Capital of France?"})
	if err != nil {
		t.Fatalf("Call: %v", err)
	}
	want := []dspy.Step{{Thought: "Nothing to look up.", ToolName: "finish", ToolArgs: map[string]any{}, Observation: "Completed."}}
	if diff := cmp.Diff(want, pred.Trajectory); diff != "" {
		t.Errorf("trajectory (-want +got):\n%s", diff)
	}
	if got := pred.String("answer"); got != "Paris" {
		t.Errorf("answer = %q, want Paris", got)
	}
	if got, want := pred.Names(), []string{"reasoning", "answer"}; !cmp.Equal(got, want) {
		t.Errorf("Names() = %v, want %v", got, want)
	}
	reqs := model.Requests()
	if len(reqs) != 2 || !isExtract(reqs[1]) {
		t.Fatalf("requests = %d (extract last: %v), want 2", len(reqs), len(reqs) > 1 && isExtract(reqs[1]))
	}
	wantTraj := "[[ ## thought_0 ## ]]\nNothing to look up.\n\n[[ ## tool_name_0 ## ]]\nfinish\n\n[[ ## tool_args_0 ## ]]\n{}\n\n[[ ## observation_0 ## ]]\nCompleted."
	if got := trajectoryOf(reqs[1]); got != wantTraj {
		t.Errorf("extract trajectory =\n%s\nwant\n%s", got, wantTraj)
	}
}

func TestReActObservations(t *testing.T) {
	div := dspy.NewTool("div", "Divide x by y.", func(_ context.Context, a addArgs) (int, error) {
		if a.Y == 0 {
			return 0, errors.New("division by zero")
		}
		return a.X / a.Y, nil
	})
	list := dspy.NewTool("list", "", func(_ context.Context, _ struct{}) ([]string, error) {
		return []string{"first", "second"}, nil
	})
	obj := dspy.NewTool("obj", "", func(_ context.Context, _ struct{}) (map[string]any, error) {
		return map[string]any{"b": 1, "a": []int{1, 2}}, nil
	})
	tests := []struct {
		name    string
		replies []string // before finish and extract
		want    dspy.Step
	}{
		{"result", []string{stepReply("t", "div", `{"y": 2, "x": 8}`)},
			dspy.Step{Thought: "t", ToolName: "div", ToolArgs: map[string]any{"x": 8.0, "y": 2.0}, Observation: "4"}},
		{"tool error", []string{stepReply("t", "div", `{"x": 1, "y": 0}`)},
			dspy.Step{Thought: "t", ToolName: "div", ToolArgs: map[string]any{"x": 1.0, "y": 0.0}, Observation: "Execution error in div: division by zero"}},
		{"bad argument", []string{stepReply("t", "div", `{"x": "one", "y": 1}`)},
			dspy.Step{Thought: "t", ToolName: "div", ToolArgs: map[string]any{"x": "one", "y": 1.0}, Observation: `Execution error in div: argument "x": got JSON string, want integer`}},
		{"unknown argument", []string{stepReply("t", "div", `{"x": 1, "y": 1, "z": 1}`)},
			dspy.Step{Thought: "t", ToolName: "div", ToolArgs: map[string]any{"x": 1.0, "y": 1.0, "z": 1.0}, Observation: `Execution error in div: argument "z": unknown argument (the tool takes x, y)`}},
		{"missing argument", []string{stepReply("t", "div", `{"x": 1}`)},
			dspy.Step{Thought: "t", ToolName: "div", ToolArgs: map[string]any{"x": 1.0}, Observation: `Execution error in div: argument "y": missing required argument`}},
		// A name outside the Literal fails ChatAdapter's parse; the JSON
		// fallback fails too; the reply is read again to tell the agent.
		{"unknown tool", []string{
			stepReply("t", "multiply", `{"x": 1}`),
			`{"next_thought": "t", "next_tool_name": "multiply", "next_tool_args": {"x": 1}}`},
			dspy.Step{Thought: "t", ToolName: "multiply", ToolArgs: map[string]any{"x": 1.0}, Observation: `Execution error in multiply: there is no tool named "multiply"; the tools are: div, list, obj, finish`}},
		{"list result", []string{stepReply("t", "list", `{}`)},
			dspy.Step{Thought: "t", ToolName: "list", ToolArgs: map[string]any{}, Observation: "[1] «first»\n[2] «second»"}},
		{"object result", []string{stepReply("t", "obj", `{}`)},
			dspy.Step{Thought: "t", ToolName: "obj", ToolArgs: map[string]any{}, Observation: `{"a": [1, 2], "b": 1}`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			model := dspytest.NewScriptedLM(append(tc.replies, stepReply("done", "finish", "{}"), answerReply("x"))...)
			agent := dspy.NewReAct("question -> answer", []*dspy.Tool{div, list, obj})
			pred, err := agent.Call(withLM(model), dspy.Inputs{"question": "q"})
			if err != nil {
				t.Fatalf("Call: %v", err)
			}
			if len(pred.Trajectory) != 2 {
				t.Fatalf("trajectory has %d steps, want 2: %+v", len(pred.Trajectory), pred.Trajectory)
			}
			if diff := cmp.Diff(tc.want, pred.Trajectory[0]); diff != "" {
				t.Errorf("step 0 (-want +got):\n%s", diff)
			}
			reqs := model.Requests()
			traj := trajectoryOf(reqs[len(reqs)-2])
			if want := "[[ ## observation_0 ## ]]\n" + tc.want.Observation; !strings.HasSuffix(traj, want) {
				t.Errorf("next prompt's trajectory =\n%s\nwant it to end with\n%s", traj, want)
			}
		})
	}
}

func TestReActTrajectoryArgsOrder(t *testing.T) {
	// Arguments are written in the tool's declaration order, then the
	// others sorted, in json.dumps layout.
	model := dspytest.NewScriptedLM(stepReply("t", "add", `{"y": 2, "b": "é\"", "x": 1, "a": [1, {"k": null}]}`), stepReply("t", "finish", "{}"), answerReply("3"))
	agent := dspy.NewReAct("question -> answer", []*dspy.Tool{addTool()})
	if _, err := agent.Call(withLM(model), dspy.Inputs{"question": "q"}); err != nil {
		t.Fatal(err)
	}
	traj := trajectoryOf(model.Requests()[1])
	want := "[[ ## tool_args_0 ## ]]\n{\"x\": 1, \"y\": 2, \"a\": [1, {\"k\": null}], \"b\": \"é\\\"\"}\n\n"
	if !strings.Contains(traj, want) {
		t.Errorf("trajectory =\n%s\nwant it to contain\n%s", traj, want)
	}
}

func TestReActMaxIters(t *testing.T) {
	newModel := func() *dspytest.ScriptedLM {
		return dspytest.NewScriptedLMFunc(func(req *lm.Request) (dspytest.Reply, error) {
			if isExtract(req) {
				return dspytest.Reply{Text: answerReply("?")}, nil
			}
			return dspytest.Reply{Text: stepReply("again", "add", `{"x": 1, "y": 1}`)}, nil
		})
	}
	other := dspy.NewReAct("question -> answer", nil)
	tests := []struct {
		name string
		opts []dspy.ReActOption
		ctx  func(ctx context.Context, r *dspy.ReAct) context.Context
		want int
	}{
		{"default", nil, nil, dspy.DefaultMaxIters},
		{"option", []dspy.ReActOption{dspy.WithMaxIters(3)}, nil, 3},
		{"per call", []dspy.ReActOption{dspy.WithMaxIters(3)}, func(ctx context.Context, r *dspy.ReAct) context.Context { return r.WithMaxIters(ctx, 1) }, 1},
		{"per call zero", nil, func(ctx context.Context, r *dspy.ReAct) context.Context { return r.WithMaxIters(ctx, 0) }, 0},
		{"another agent's setting", []dspy.ReActOption{dspy.WithMaxIters(2)}, func(ctx context.Context, _ *dspy.ReAct) context.Context { return other.WithMaxIters(ctx, 7) }, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			model := newModel()
			agent := dspy.NewReAct("question -> answer", []*dspy.Tool{addTool()}, tc.opts...)
			ctx := withLM(model)
			if tc.ctx != nil {
				ctx = tc.ctx(ctx, agent)
			}
			pred, err := agent.Call(ctx, dspy.Inputs{"question": "q"})
			if err != nil {
				t.Fatalf("Call: %v", err)
			}
			if len(pred.Trajectory) != tc.want {
				t.Errorf("trajectory has %d steps, want %d", len(pred.Trajectory), tc.want)
			}
			if n := len(model.Requests()); n != tc.want+1 {
				t.Errorf("%d LM calls, want %d react + 1 extract", n, tc.want)
			}
		})
	}
}

func TestReActParseFailureEndsLoop(t *testing.T) {
	// As in DSPy: a reply that does not parse (nor in the JSON fallback)
	// ends the loop; the outputs are extracted from the trajectory so far.
	model := dspytest.NewScriptedLM("I will not follow the format.", "Nor in JSON.", answerReply("unknown"))
	agent := dspy.NewReAct("question -> answer", []*dspy.Tool{addTool()})
	pred, err := agent.Call(withLM(model), dspy.Inputs{"question": "q"})
	if err != nil {
		t.Fatalf("Call: %v", err)
	}
	if len(pred.Trajectory) != 0 || pred.String("answer") != "unknown" {
		t.Errorf("got trajectory %v, answer %q; want none, unknown", pred.Trajectory, pred.String("answer"))
	}
	if n := len(model.Requests()); n != 3 {
		t.Errorf("%d LM calls, want 3 (chat, JSON fallback, extract)", n)
	}
}

func TestReActErrors(t *testing.T) {
	agent := dspy.NewReAct("question -> answer", []*dspy.Tool{addTool()})
	boom := errors.New("boom")
	tests := []struct {
		name    string
		model   lm.LM
		in      dspy.Inputs
		wantErr string
		is      error
	}{
		{"missing input", dspytest.NewScriptedLM(), dspy.Inputs{}, `dspy: missing input field "question" for signature "question -> answer"`, nil},
		{"trajectory is not an input", dspytest.NewScriptedLM(), dspy.Inputs{"question": "q", "trajectory": ""}, `dspy: unknown input field "trajectory" for signature "question -> answer" (inputs are: question)`, nil},
		{"LM error", dspytest.NewScriptedLM().Push(dspytest.Reply{Err: boom}), dspy.Inputs{"question": "q"}, "boom", boom},
		{"extract error", dspytest.NewScriptedLM(stepReply("t", "finish", "{}")).Push(dspytest.Reply{Err: boom}), dspy.Inputs{"question": "q"}, "dspy: ReAct: extract: boom", boom},
		{"no LM", nil, dspy.Inputs{"question": "q"}, dspy.ErrNoLM.Error(), dspy.ErrNoLM},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			if tc.model != nil {
				ctx = withLM(tc.model)
			}
			_, err := agent.Call(ctx, tc.in)
			if err == nil || err.Error() != tc.wantErr {
				t.Fatalf("Call error = %v, want %s", err, tc.wantErr)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("errors.Is(%v, %v) = false", err, tc.is)
			}
		})
	}
}

// errOverflow is an LM error that means the prompt is too long.
var errOverflow = fmt.Errorf("prompt too long: %w", lm.ErrContextWindow)

func stepsIn(req *lm.Request) int { return strings.Count(trajectoryOf(req), "[[ ## thought_") }

func TestReActTrajectoryOverflow(t *testing.T) {
	// The model holds at most two steps: with three it overflows. It asks
	// for add five times, then finishes.
	var reactOK atomic.Int32
	model := dspytest.NewScriptedLMFunc(func(req *lm.Request) (dspytest.Reply, error) {
		if stepsIn(req) >= 3 {
			return dspytest.Reply{Err: errOverflow}, nil
		}
		if isExtract(req) {
			return dspytest.Reply{Text: answerReply("5")}, nil
		}
		if reactOK.Add(1) > 5 {
			return dspytest.Reply{Text: stepReply("done", "finish", "{}")}, nil
		}
		return dspytest.Reply{Text: stepReply("more", "add", `{"x": 1, "y": 0}`)}, nil
	})
	agent := dspy.NewReAct("question -> answer", []*dspy.Tool{addTool()})
	pred, err := agent.Call(withLM(model), dspy.Inputs{"question": "q"})
	if err != nil {
		t.Fatalf("Call: %v", err)
	}
	if len(pred.Trajectory) != 6 {
		t.Errorf("trajectory has %d steps, want all 6", len(pred.Trajectory))
	}
	// Each request's first step: the window moves by one on each overflow.
	var got []string
	for _, req := range model.Requests() {
		first := "-"
		if tr := trajectoryOf(req); tr != "" {
			first, _, _ = strings.Cut(strings.TrimPrefix(tr, "[[ ## "), " ## ]]")
		}
		kind := "react"
		if isExtract(req) {
			kind = "extract"
		}
		got = append(got, fmt.Sprintf("%s %s/%d", kind, first, stepsIn(req)))
	}
	want := []string{
		"react -/0", "react thought_0/1", "react thought_0/2",
		"react thought_0/3", "react thought_1/2", // overflow, retried without step 0
		"react thought_1/3", "react thought_2/2",
		"react thought_2/3", "react thought_3/2",
		"extract thought_3/3", "extract thought_4/2",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}

	t.Run("nothing to drop", func(t *testing.T) {
		model := dspytest.NewScriptedLM().Push(dspytest.Reply{Err: errOverflow})
		_, err := agent.Call(withLM(model), dspy.Inputs{"question": "q"})
		want := "dspy: ReAct: the prompt exceeds the context window and the trajectory has no step left to drop: prompt too long: lm: context window exceeded"
		if err == nil || err.Error() != want || !errors.Is(err, lm.ErrContextWindow) {
			t.Errorf("Call error = %v, want %s", err, want)
		}
	})
	t.Run("three attempts", func(t *testing.T) {
		// Three steps fit; then every prompt overflows, however short.
		var calls atomic.Int32
		model := dspytest.NewScriptedLMFunc(func(req *lm.Request) (dspytest.Reply, error) {
			if calls.Add(1) <= 3 {
				return dspytest.Reply{Text: stepReply("t", "add", `{"x": 1, "y": 0}`)}, nil
			}
			return dspytest.Reply{Err: errOverflow}, nil
		})
		_, err := agent.Call(agent.WithMaxIters(withLM(model), 4), dspy.Inputs{"question": "q"})
		want := "dspy: ReAct: the prompt still exceeds the context window after 3 attempts: prompt too long: lm: context window exceeded"
		if err == nil || err.Error() != want || !errors.Is(err, lm.ErrContextWindow) {
			t.Errorf("Call error = %v, want %s", err, want)
		}
		if n := calls.Load(); n != 6 {
			t.Errorf("%d LM calls, want 3 steps + 3 attempts", n)
		}
	})
}

// blockingTool returns a tool that reports when it starts and then waits
// for its ctx to end, reporting the error it saw.
func blockingTool(started chan<- struct{}, saw chan<- error) *dspy.Tool {
	return dspy.NewTool("wait", "Wait for something.", func(ctx context.Context, _ struct{}) (string, error) {
		close(started)
		<-ctx.Done()
		saw <- ctx.Err()
		return "", ctx.Err()
	})
}

func TestReActCancelReachesTool(t *testing.T) {
	for _, native := range []bool{false, true} {
		t.Run(fmt.Sprintf("native=%v", native), func(t *testing.T) {
			started, saw := make(chan struct{}), make(chan error, 1)
			var opts []dspy.ReActOption
			model := dspytest.NewScriptedLM(stepReply("wait", "wait", "{}"))
			if native {
				opts = append(opts, dspy.WithNativeTools())
				model = dspytest.NewScriptedLM().Push(dspytest.Reply{ToolCalls: []lm.ToolCall{{ID: "1", Name: "wait", Arguments: "{}"}}})
			}
			agent := dspy.NewReAct("question -> answer", []*dspy.Tool{blockingTool(started, saw)}, opts...)
			ctx := withLM(model)
			f := agent.ACall(ctx, dspy.Inputs{"question": "q"})
			select {
			case <-started:
			case <-time.After(5 * time.Second):
				t.Fatal("the tool did not start")
			}
			f.Cancel()
			if _, err := f.Await(ctx); !errors.Is(err, context.Canceled) {
				t.Errorf("Await error = %v, want context.Canceled", err)
			}
			if err := <-saw; !errors.Is(err, context.Canceled) {
				t.Errorf("the tool saw ctx.Err() = %v, want context.Canceled", err)
			}
			if n := len(model.Requests()); n != 1 {
				t.Errorf("%d LM calls, want 1: a cancelled agent stops", n)
			}
		})
	}
}

func TestReActNativeConcurrentToolCalls(t *testing.T) {
	// Each tool waits until both have started: run one after the other,
	// the first would time out.
	var startedN atomic.Int32
	both := make(chan struct{})
	rendezvous := func(name string) *dspy.Tool {
		return dspy.NewTool(name, "Look up "+name+".", func(ctx context.Context, a struct {
			N int `json:"n"`
		}) (string, error) {
			if startedN.Add(1) == 2 {
				close(both)
			}
			select {
			case <-both:
				return fmt.Sprintf("%s(%d)", name, a.N), nil
			case <-time.After(5 * time.Second):
				return "", errors.New("the other call did not start: calls do not overlap")
			case <-ctx.Done():
				return "", ctx.Err()
			}
		})
	}
	rec := &toolRecorder{}
	model := dspytest.NewScriptedLM().Push(
		dspytest.Reply{Text: "[[ ## next_thought ## ]]\nAsk both at once.\n\n[[ ## completed ## ]]", ToolCalls: []lm.ToolCall{
			{ID: "c1", Name: "a", Arguments: `{"n": 1}`},
			{ID: "c2", Name: "b", Arguments: `{"n": 2}`},
		}},
		dspytest.Reply{Text: "I have both."}, // no tool calls: finish
		dspytest.Reply{Text: answerReply("a(1) b(2)")},
	)
	agent := dspy.NewReAct("question -> answer", []*dspy.Tool{rendezvous("a"), rendezvous("b")}, dspy.WithNativeTools())
	ctx := dspy.WithSettings(withLM(model), dspy.WithTrace(rec.trace()))
	pred, err := agent.Call(ctx, dspy.Inputs{"question": "q"})
	if err != nil {
		t.Fatalf("Call: %v", err)
	}
	want := []dspy.Step{
		{Thought: "Ask both at once.", ToolName: "a", ToolArgs: map[string]any{"n": 1.0}, Observation: "a(1)"},
		{ToolName: "b", ToolArgs: map[string]any{"n": 2.0}, Observation: "b(2)"},
		{Thought: "I have both.", ToolName: "finish", ToolArgs: map[string]any{}, Observation: "Completed."},
	}
	if diff := cmp.Diff(want, pred.Trajectory); diff != "" {
		t.Errorf("trajectory (-want +got):\n%s", diff)
	}
	reqs := model.Requests()
	var names []string
	for _, s := range reqs[0].Tools {
		names = append(names, s.Name)
	}
	if !cmp.Equal(names, []string{"a", "b", "finish"}) || reqs[0].ToolChoice != "auto" {
		t.Errorf("request tools = %v, choice %q; want [a b finish], auto", names, reqs[0].ToolChoice)
	}
	if reqs[0].Tools[0].Description != "Look up a." || reqs[0].Tools[0].Parameters["required"] == nil {
		t.Errorf("tool spec = %+v", reqs[0].Tools[0])
	}
	if len(reqs[2].Tools) != 0 {
		t.Errorf("extract request carries tools %v", reqs[2].Tools)
	}
	if got := trajectoryOf(reqs[1]); !strings.Contains(got, "[[ ## tool_name_1 ## ]]\nb\n\n[[ ## tool_args_1 ## ]]\n{\"n\": 2}\n\n[[ ## observation_1 ## ]]\nb(2)") {
		t.Errorf("second prompt's trajectory:\n%s", got)
	}
	// Hooks fire per call (the order of the two calls is free), never for finish.
	ev := rec.list()
	if len(ev) != 4 || strings.Contains(strings.Join(ev, "|"), "finish") {
		t.Errorf("tool hooks = %q, want start and end of a and b only", ev)
	}
}

func TestReActNativeEdgeCases(t *testing.T) {
	model := dspytest.NewScriptedLM().Push(
		dspytest.Reply{ToolCalls: []lm.ToolCall{
			{ID: "1", Name: "add", Arguments: `{"x": 1,`},
			{ID: "2", Name: "nope", Arguments: `{}`},
			{ID: "3", Name: "add", Arguments: `{"x": 1, "y": 2}`},
			{ID: "4", Name: "finish", Arguments: ``},
		}},
		dspytest.Reply{Text: answerReply("3")},
	)
	agent := dspy.NewReAct("question -> answer", []*dspy.Tool{addTool()}, dspy.WithNativeTools())
	pred, err := agent.Call(withLM(model), dspy.Inputs{"question": "q"})
	if err != nil {
		t.Fatalf("Call: %v", err)
	}
	want := []dspy.Step{
		{ToolName: "add", Observation: "Execution error in add: the arguments are not a JSON object: unexpected end of JSON input: {\"x\": 1,"},
		{ToolName: "nope", ToolArgs: map[string]any{}, Observation: `Execution error in nope: there is no tool named "nope"; the tools are: add, finish`},
		{ToolName: "add", ToolArgs: map[string]any{"x": 1.0, "y": 2.0}, Observation: "3"},
		{ToolName: "finish", ToolArgs: map[string]any{}, Observation: "Completed."},
	}
	if diff := cmp.Diff(want, pred.Trajectory); diff != "" {
		t.Errorf("trajectory (-want +got):\n%s", diff)
	}
	if n := len(model.Requests()); n != 2 {
		t.Errorf("%d LM calls, want 2: finish among the calls ends the loop", n)
	}
}

func TestReActToolPanicIsError(t *testing.T) {
	bad := dspy.NewTool("bad", "", func(context.Context, struct{}) (int, error) { panic("tool bug") })
	for _, native := range []bool{false, true} {
		t.Run(fmt.Sprintf("native=%v", native), func(t *testing.T) {
			model := dspytest.NewScriptedLM(stepReply("use it", "bad", `{}`))
			var opts []dspy.ReActOption
			if native {
				model = dspytest.NewScriptedLM().Push(dspytest.Reply{ToolCalls: []lm.ToolCall{{Name: "bad", Arguments: "{}"}}})
				opts = append(opts, dspy.WithNativeTools())
			}
			agent := dspy.NewReAct("question -> answer", []*dspy.Tool{bad}, opts...)
			_, err := agent.Call(withLM(model), dspy.Inputs{"question": "q"})
			var pe *dspy.PanicError
			if !errors.As(err, &pe) || pe.Value != "tool bug" {
				t.Fatalf("Call() error = %v, want a *dspy.PanicError with the tool's panic", err)
			}
		})
	}
}

func TestReActToolHooks(t *testing.T) {
	rec := &toolRecorder{}
	model := dspytest.NewScriptedLM(
		stepReply("t", "add", `{"x": 1, "y": 2}`),
		stepReply("t", "add", `{"x": 3, "y": "a"}`),
		stepReply("t", "finish", "{}"),
		answerReply("3"),
	)
	agent := dspy.NewReAct("question -> answer", []*dspy.Tool{addTool()})
	ctx := dspy.WithSettings(withLM(model), dspy.WithTrace(rec.trace()))
	if _, err := agent.Call(ctx, dspy.Inputs{"question": "q"}); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"start add x=1,y=2", "end add 3",
		"start add x=3,y=a", `end add error: dspy: tool add: argument "y": got JSON string, want integer`,
	}
	if diff := cmp.Diff(want, rec.list()); diff != "" {
		t.Errorf("tool hooks (-want +got); finish must fire none:\n%s", diff)
	}
}

func TestReActPredictorPaths(t *testing.T) {
	agent := dspy.NewReAct("question -> answer", []*dspy.Tool{addTool()})
	var got []string
	for _, np := range dspy.NamedPredictors(agent) {
		got = append(got, np.Path)
	}
	if want := []string{"react", "extract.predict"}; !cmp.Equal(want, got) {
		t.Errorf("NamedPredictors paths = %v, want %v", got, want)
	}
	nps := dspy.NamedPredictors(agent)
	if nps[0].Predict != agent.ReactPredictor() || nps[1].Predict != agent.Extract().Predictor() {
		t.Error("paths do not lead to the agent's predictors")
	}
	// Inside a user's module, under its field name.
	type program struct{ Agent *dspy.ReAct }
	got = nil
	for _, np := range dspy.NamedPredictors(dspy.Module(moduleFunc{&program{agent}})) {
		got = append(got, np.Path)
	}
	if want := []string{"p.agent.react", "p.agent.extract.predict"}; !cmp.Equal(want, got) {
		t.Errorf("nested paths = %v, want %v", got, want)
	}
}

type moduleFunc struct{ P any }

func (moduleFunc) Forward(context.Context, dspy.Inputs) (*dspy.Prediction, error) { return nil, nil }

func TestReActPromptToolList(t *testing.T) {
	search := dspy.NewTool("search", "Search the web.\nReturns snippets.", func(_ context.Context, a struct {
		Query string   `json:"query" desc:"what to look for"`
		K     *int     `json:"k"`
		Sites []string `json:"sites,omitempty"`
	}) ([]string, error) {
		return nil, nil
	})
	fake := dspy.NewTool("finish", "A user tool may not be called finish.", func(context.Context, struct{}) (int, error) { return 0, nil })
	first := dspy.NewTool("calc", "old", func(context.Context, struct{}) (int, error) { return 0, nil })
	second := dspy.NewTool("calc", "new", func(context.Context, struct{}) (int, error) { return 0, nil })
	agent := dspy.NewReAct("context, question -> answer, confidence: float", []*dspy.Tool{first, nil, search, fake, second})
	var names []string
	for _, tl := range agent.Tools() {
		names = append(names, tl.Name()+":"+tl.Desc())
	}
	if want := []string{"calc:new", "search:Search the web.\nReturns snippets."}; !cmp.Equal(want, names) {
		t.Errorf("Tools() = %q, want %q", names, want)
	}
	instr := agent.ReactPredictor().Signature().Instructions()
	wantTail := strings.Join([]string{
		"(1) calc, whose description is <desc>new</desc>. It takes arguments {} in JSON format.",
		"(2) search, whose description is <desc>Search the web.  Returns snippets.</desc>. It takes arguments {'query': {'type': 'string', 'description': 'what to look for'}, 'k': {'type': ['null', 'integer']}, 'sites': {'items': {'type': 'string'}, 'type': ['null', 'array']}} in JSON format.",
		"(3) finish, whose description is <desc>Marks the task as complete. That is, signals that all infomration for producing the outputs, i.e. `answer`, `confidence`, are now available to be extracted.</desc>. It takes arguments {} in JSON format.",
	}, "\n")
	if !strings.HasSuffix(instr, wantTail) {
		t.Errorf("instructions =\n%s\nwant the tool list\n%s", instr, wantTail)
	}
	if !strings.HasPrefix(instr, "Given the fields `context`, `question`, produce the fields `answer`, `confidence`.\n\nYou are an Agent. In each episode, you will be given the fields `context`, `question` as input.") {
		t.Errorf("instructions start:\n%s", instr)
	}
	if got, want := agent.ReactPredictor().Signature().String(), "context, question, trajectory -> next_thought, next_tool_name: Literal['calc', 'search', 'finish'], next_tool_args: dict[str, Any]"; got != want {
		t.Errorf("react signature = %s, want %s", got, want)
	}
	if got, want := agent.Extract().Signature().String(), "context, question, trajectory -> reasoning, answer, confidence: float"; got != want {
		t.Errorf("extract signature = %s, want %s", got, want)
	}
	if got, want := agent.Extract().Signature().Instructions(), "Given the fields `context`, `question`, produce the fields `answer`, `confidence`."; got != want {
		t.Errorf("extract instructions = %q, want %q", got, want)
	}
	native := dspy.NewReAct("question -> answer", []*dspy.Tool{search}, dspy.WithNativeTools())
	if got, want := native.ReactPredictor().Signature().String(), "question, trajectory -> next_thought"; got != want {
		t.Errorf("native react signature = %s, want %s", got, want)
	}
}

func TestReActPredictOptions(t *testing.T) {
	// The agent's own LM wins over settings, in both modes.
	for _, native := range []bool{false, true} {
		own := dspytest.NewScriptedLM(stepReply("t", "finish", "{}"), answerReply("own"))
		opts := []dspy.ReActOption{dspy.WithPredictOptions(dspy.WithLM(own), dspy.WithTemperature(0.5))}
		if native {
			opts = append(opts, dspy.WithNativeTools())
		}
		agent := dspy.NewReAct("question -> answer", nil, opts...)
		settingsLM := dspytest.NewScriptedLM()
		pred, err := agent.Call(withLM(settingsLM), dspy.Inputs{"question": "q"})
		if err != nil {
			t.Fatalf("native=%v: Call: %v", native, err)
		}
		if pred.String("answer") != "own" || len(settingsLM.Requests()) != 0 {
			t.Errorf("native=%v: answer %q, settings LM calls %d; want own, 0", native, pred.String("answer"), len(settingsLM.Requests()))
		}
		for _, r := range own.Requests() {
			if r.Temperature == nil || *r.Temperature != 0.5 {
				t.Errorf("native=%v: request temperature = %v, want 0.5", native, r.Temperature)
			}
		}
	}
}

// BenchmarkReAct5Iters runs an agent for five tool iterations (each tool
// call waits 20 ms), a finish step and the extract step on ScriptedLM.
// overhead-µs/iter is (wall − 5×20 ms) / 5: what the framework adds per
// iteration (prompt building, parsing, hooks, the scripted LM); the
// "excl-measured-tool" figure subtracts the time really spent in the tools
// instead, which differs from 5×20 ms when timers fire late under load.
func BenchmarkReAct5Iters(b *testing.B) {
	const iters, toolWait = 5, 20 * time.Millisecond
	// On a loaded machine a 20 ms timer fires late; the time really spent in
	// the tools is measured too, for an overhead figure free of that slop.
	var inTools atomic.Int64
	slow := dspy.NewTool("lookup", "Look something up.", func(ctx context.Context, a struct {
		Key string `json:"key"`
	}) (string, error) {
		t0 := time.Now()
		defer func() { inTools.Add(int64(time.Since(t0))) }()
		t := time.NewTimer(toolWait)
		defer t.Stop()
		select {
		case <-t.C:
			return "value of " + a.Key, nil
		case <-ctx.Done():
			return "", ctx.Err()
		}
	})
	model := dspytest.NewScriptedLMFunc(func(req *lm.Request) (dspytest.Reply, error) {
		if isExtract(req) {
			return dspytest.Reply{Text: answerReply("done")}, nil
		}
		if stepsIn(req) < iters {
			return dspytest.Reply{Text: stepReply("I need another value.", "lookup", `{"key": "k"}`)}, nil
		}
		return dspytest.Reply{Text: stepReply("I have everything.", "finish", "{}")}, nil
	}).DontRecord()
	agent := dspy.NewReAct("question -> answer", []*dspy.Tool{slow})
	ctx := withLM(model)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		pred, err := agent.Call(ctx, dspy.Inputs{"question": "q"})
		if err != nil {
			b.Fatal(err)
		}
		if len(pred.Trajectory) != iters+1 {
			b.Fatalf("trajectory has %d steps, want %d", len(pred.Trajectory), iters+1)
		}
	}
	wall := time.Since(start) / time.Duration(b.N)
	b.ReportMetric(float64(wall)/float64(time.Millisecond), "wall-ms/run")
	b.ReportMetric(float64(wall-iters*toolWait)/float64(iters)/float64(time.Microsecond), "overhead-µs/iter")
	tools := time.Duration(inTools.Load()) / time.Duration(b.N)
	b.ReportMetric(float64(wall-tools)/float64(iters)/float64(time.Microsecond), "overhead-excl-measured-tool-µs/iter")
}

// A tool call's integer arguments beyond 2^53 reach the tool unrounded, with
// native tool calling and in the text protocol; smaller numbers stay
// float64, as encoding/json gives them.
func TestReActIntegerArgs(t *testing.T) {
	type args struct {
		ID int64 `json:"id"`
	}
	for _, native := range []bool{false, true} {
		t.Run(fmt.Sprintf("native=%v", native), func(t *testing.T) {
			var (
				mu  sync.Mutex
				got []int64
			)
			lookup := dspy.NewTool("lookup", "Looks an order up.", func(_ context.Context, a args) (string, error) {
				mu.Lock() // native calls of one reply run in parallel
				got = append(got, a.ID)
				mu.Unlock()
				return "shipped", nil
			})
			var opts []dspy.ReActOption
			model := dspytest.NewScriptedLM()
			if native {
				opts = append(opts, dspy.WithNativeTools())
				model.Push(dspytest.Reply{ToolCalls: []lm.ToolCall{
					{ID: "1", Name: "lookup", Arguments: `{"id": 9007199254740993}`},
					{ID: "2", Name: "lookup", Arguments: `{"id": 42}`},
				}}, dspytest.Reply{ToolCalls: []lm.ToolCall{{ID: "3", Name: "finish", Arguments: `{}`}}})
			} else {
				model.Push(dspytest.Reply{Text: stepReply("Look it up.", "lookup", `{"id": 9007199254740993}`)},
					dspytest.Reply{Text: stepReply("And the other.", "lookup", `{"id": 42}`)},
					dspytest.Reply{Text: stepReply("Done.", "finish", `{}`)})
			}
			model.Push(dspytest.Reply{Text: answerReply("shipped")})
			agent := dspy.NewReAct("question -> answer", []*dspy.Tool{lookup}, opts...)
			pred, err := agent.Call(withLM(model), dspy.Inputs{"question": "Where are orders 9007199254740993 and 42?"})
			if err != nil {
				t.Fatalf("Call: %v", err)
			}
			slices.Sort(got)
			if d := cmp.Diff([]int64{42, 9007199254740993}, got); d != "" {
				t.Errorf("ids the tool got (-want +got):\n%s", d)
			}
			if d := cmp.Diff(map[string]any{"id": int64(9007199254740993)}, pred.Trajectory[0].ToolArgs); d != "" {
				t.Errorf("first step's args (-want +got):\n%s", d)
			}
			if d := cmp.Diff(map[string]any{"id": 42.0}, pred.Trajectory[1].ToolArgs); d != "" {
				t.Errorf("second step's args (-want +got):\n%s", d)
			}
			if traj := trajectoryOf(model.Requests()[len(model.Requests())-1]); !native && !strings.Contains(traj, `{"id": 9007199254740993}`) {
				t.Errorf("the extract step's trajectory does not show the id as written:\n%s", traj)
			}
		})
	}
}
