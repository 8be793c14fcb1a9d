package streaming_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/dspytest"
	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/lm/openai"
	"github.com/godspy/dspy/streaming"
)

// ev is a stream event normalised for comparison: call ids become their
// order of first appearance (#1, #2, ...), consecutive chunks of one field
// occurrence and consecutive argument deltas of one tool call are joined,
// and durations are reduced to whether they are positive.
type ev struct {
	Kind  string
	Path  string
	Call  int
	Tool  string
	ID    string // tool call id; "call_#N" when made from the call's id
	Text  string // chunk text, arguments, result, status message
	Index int
	Done  bool
	Model string
	// Finish is the LM's finish reason.
	Finish string
	Usage  lm.Usage
	Timed  bool // every duration of the event is > 0
	Err    string
}

type normaliser struct {
	calls  map[uint64]int
	out    []ev
	deltas int // ToolCallDelta events with text, before joining
}

func (n *normaliser) call(id uint64) int {
	if id == 0 {
		return 0
	}
	if n.calls == nil {
		n.calls = map[uint64]int{}
	}
	if _, ok := n.calls[id]; !ok {
		n.calls[id] = len(n.calls) + 1
	}
	return n.calls[id]
}

func (n *normaliser) toolID(id string, call uint64) string {
	if id == "call_"+strconv.FormatUint(call, 10) {
		return "call_#" + strconv.Itoa(n.call(call))
	}
	return id
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func (n *normaliser) add(e streaming.Event) {
	last := func() *ev {
		if len(n.out) == 0 {
			return nil
		}
		return &n.out[len(n.out)-1]
	}
	switch e := e.(type) {
	case *streaming.StreamResponse:
		c := n.call(e.CallID)
		if l := last(); l != nil && l.Kind == "chunk" && l.Call == c && l.Tool == e.SignatureFieldName && !l.Done {
			l.Text += e.Chunk
			l.Done = e.IsLastChunk
			return
		}
		n.out = append(n.out, ev{Kind: "chunk", Path: e.PredictName, Call: c, Tool: e.SignatureFieldName, Text: e.Chunk, Done: e.IsLastChunk})
	case *streaming.StatusMessage:
		n.out = append(n.out, ev{Kind: "status", Text: e.Message})
	case *streaming.LMStart:
		n.out = append(n.out, ev{Kind: "lm_start", Path: e.PredictName, Call: n.call(e.CallID), Model: e.Model})
	case *streaming.LMEnd:
		n.out = append(n.out, ev{Kind: "lm_end", Path: e.PredictName, Call: n.call(e.CallID), Model: e.Model, Finish: e.FinishReason,
			Usage: e.Usage, Timed: e.Duration > 0 && e.FirstChunk > 0 && e.FirstChunk <= e.Duration, Err: errText(e.Err), Done: e.CacheHit})
	case *streaming.ToolCallDelta:
		if e.ArgsDelta != "" {
			n.deltas++
		}
		c := n.call(e.CallID)
		id := n.toolID(e.ToolCallID, e.CallID)
		if l := last(); l != nil && l.Kind == "tool_call_delta" && l.ID == id {
			l.Text += e.ArgsDelta
			return
		}
		n.out = append(n.out, ev{Kind: "tool_call_delta", Path: e.PredictName, Call: c, Tool: e.ToolName, ID: id, Text: e.ArgsDelta})
	case *streaming.ToolCallStart:
		args, _ := json.Marshal(e.Args)
		n.out = append(n.out, ev{Kind: "tool_call_start", Path: e.PredictName, Call: n.call(e.CallID), Tool: e.ToolName, ID: n.toolID(e.ToolCallID, e.CallID), Text: string(args)})
	case *streaming.ToolCallEnd:
		n.out = append(n.out, ev{Kind: "tool_call_end", Path: e.PredictName, Call: n.call(e.CallID), Tool: e.ToolName, ID: n.toolID(e.ToolCallID, e.CallID),
			Text: fmt.Sprint(e.Result), Timed: e.Duration > 0, Err: errText(e.Err)})
	case *streaming.StepStart:
		n.out = append(n.out, ev{Kind: "step_start", Path: e.PredictName, Call: n.call(e.CallID), Index: e.Index})
	case *streaming.StepEnd:
		n.out = append(n.out, ev{Kind: "step_end", Path: e.PredictName, Call: n.call(e.CallID), Index: e.Index, Done: e.Done, Err: errText(e.Err)})
	case *streaming.Custom:
		data, _ := json.Marshal(e.Data)
		n.out = append(n.out, ev{Kind: "custom", Path: e.PredictName, Call: n.call(e.CallID), Tool: e.Name, Text: string(data)})
	case *streaming.Final:
		n.out = append(n.out, ev{Kind: "final", Text: e.Prediction.String("answer"), Usage: e.Prediction.Usage})
	case *streaming.RawChunk:
		n.out = append(n.out, ev{Kind: "raw", Path: e.PredictName, Call: n.call(e.CallID)})
	default:
		n.out = append(n.out, ev{Kind: fmt.Sprintf("unknown %T", e)})
	}
}

type mathArgs struct {
	A int `json:"a"`
	B int `json:"b"`
}

func mathTools() []*dspy.Tool {
	return []*dspy.Tool{
		dspy.NewTool("add", "Add two integers.", func(_ context.Context, a mathArgs) (int, error) { return a.A + a.B, nil }),
		dspy.NewTool("mul", "Multiply two integers.", func(_ context.Context, a mathArgs) (int, error) { return a.A * a.B, nil }),
	}
}

func agentProgram(t *testing.T, native bool, opts ...streaming.Option) *streaming.Program {
	t.Helper()
	var ro []dspy.ReActOption
	if native {
		ro = append(ro, dspy.WithNativeTools())
	}
	agent := dspy.NewReAct("question -> answer", mathTools(), ro...)
	return streaming.MustStreamify(agent, append([]streaming.Option{
		streaming.WithListeners(
			streaming.NewListener("next_thought", streaming.WithAllowReuse()),
			streaming.NewListener("answer", streaming.WithPredictName("extract")),
		),
	}, opts...)...)
}

func normalise(t *testing.T, seq func(func(streaming.Event, error) bool)) []ev {
	t.Helper()
	return normaliseAll(t, seq).out
}

func normaliseAll(t *testing.T, seq func(func(streaming.Event, error) bool)) *normaliser {
	t.Helper()
	n := &normaliser{}
	for e, err := range seq {
		if err != nil {
			t.Fatalf("stream: %v", err)
		}
		n.add(e)
	}
	return n
}

var (
	stepUsage    = []lm.Usage{{PromptTokens: 10, CompletionTokens: 5, TotalTokens: 15}, {PromptTokens: 20, CompletionTokens: 6, TotalTokens: 26}, {PromptTokens: 30, CompletionTokens: 7, TotalTokens: 37}}
	extractUsage = lm.Usage{PromptTokens: 40, CompletionTokens: 8, TotalTokens: 48}
	totalUsage   = lm.Usage{PromptTokens: 100, CompletionTokens: 26, TotalTokens: 126}
)

const (
	statusStart = "Calling tool %s..."
	statusEnd   = "Tool calling finished! Querying the LLM with tool calling results..."
)

// TestTraceEventsReActText: a text-protocol ReAct run with two tool calls
// streams, in order, each step's start, its LM call (with usage), the tool
// call's start (arguments) and end (result, duration) and the step's end;
// then the extract call and a Final with the usage of all four LM calls.
func TestTraceEventsReActText(t *testing.T) {
	model := dspytest.NewScriptedLM()
	model.Latency = time.Millisecond // a time to first token that is surely > 0
	model.ChunkSize = 5
	model.Push(
		dspytest.Reply{Text: dspytest.ChatReply("next_thought", "Add first.", "next_tool_name", "add", "next_tool_args", `{"a": 2, "b": 3}`), Usage: stepUsage[0]},
		dspytest.Reply{Text: dspytest.ChatReply("next_thought", "Now multiply.", "next_tool_name", "mul", "next_tool_args", `{"a": 5, "b": 4}`), Usage: stepUsage[1]},
		dspytest.Reply{Text: dspytest.ChatReply("next_thought", "Done.", "next_tool_name", "finish", "next_tool_args", `{}`), Usage: stepUsage[2]},
		dspytest.Reply{Text: dspytest.ChatReply("reasoning", "Read it.", "answer", "20"), Usage: extractUsage},
	)
	prog := agentProgram(t, false, streaming.WithTraceEvents())
	got := normalise(t, prog.Stream(lmCtx(model), dspy.Inputs{"question": "(2+3)*4?"}))

	stop := func(call int, u lm.Usage) ev {
		return ev{Kind: "lm_end", Path: "react", Call: call, Finish: "stop", Usage: u, Timed: true}
	}
	want := []ev{
		{Kind: "step_start", Path: "react", Call: 1, Index: 0},
		{Kind: "lm_start", Path: "react", Call: 2},
		{Kind: "chunk", Path: "react", Call: 2, Tool: "next_thought", Text: "Add first.", Done: true},
		stop(2, stepUsage[0]),
		{Kind: "tool_call_start", Path: "react", Call: 3, Tool: "add", ID: "call_#3", Text: `{"a":2,"b":3}`},
		{Kind: "status", Text: fmt.Sprintf(statusStart, "add")},
		{Kind: "tool_call_end", Path: "react", Call: 3, Tool: "add", ID: "call_#3", Text: "5", Timed: true},
		{Kind: "status", Text: statusEnd},
		{Kind: "step_end", Path: "react", Call: 1, Index: 0},

		{Kind: "step_start", Path: "react", Call: 4, Index: 1},
		{Kind: "lm_start", Path: "react", Call: 5},
		{Kind: "chunk", Path: "react", Call: 5, Tool: "next_thought", Text: "Now multiply.", Done: true},
		stop(5, stepUsage[1]),
		{Kind: "tool_call_start", Path: "react", Call: 6, Tool: "mul", ID: "call_#6", Text: `{"a":5,"b":4}`},
		{Kind: "status", Text: fmt.Sprintf(statusStart, "mul")},
		{Kind: "tool_call_end", Path: "react", Call: 6, Tool: "mul", ID: "call_#6", Text: "20", Timed: true},
		{Kind: "status", Text: statusEnd},
		{Kind: "step_end", Path: "react", Call: 4, Index: 1},

		{Kind: "step_start", Path: "react", Call: 7, Index: 2},
		{Kind: "lm_start", Path: "react", Call: 8},
		{Kind: "chunk", Path: "react", Call: 8, Tool: "next_thought", Text: "Done.", Done: true},
		stop(8, stepUsage[2]),
		{Kind: "step_end", Path: "react", Call: 7, Index: 2, Done: true},

		{Kind: "lm_start", Path: "extract.predict", Call: 9},
		{Kind: "chunk", Path: "extract.predict", Call: 9, Tool: "answer", Text: "20", Done: true},
		{Kind: "lm_end", Path: "extract.predict", Call: 9, Finish: "stop", Usage: extractUsage, Timed: true},
		{Kind: "final", Text: "20", Usage: totalUsage},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
}

// TestTraceEventsReActNative: with native tool calling, the arguments
// stream as deltas while the LM writes them (the provider's own fragments,
// through lm/openai), before the reply's LMEnd; the tool then starts with
// the parsed arguments under the LM's tool-call id. ReAct's finish call
// streams nothing.
func TestTraceEventsReActNative(t *testing.T) {
	thought := func(s string) string { return dspytest.ChatReply("next_thought", s) }
	u := func(x lm.Usage) *lm.Usage { return &x }
	srv := dspytest.NewServer(dspytest.WithChunkBytes(6), dspytest.WithAnswers(
		dspytest.Answer{Text: thought("Add first."), ToolCalls: []lm.ToolCall{{ID: "call_add", Name: "add", Arguments: `{"a": 2, "b": 3}`}}, Usage: u(stepUsage[0])},
		dspytest.Answer{Text: thought("Now multiply."), ToolCalls: []lm.ToolCall{{ID: "call_mul", Name: "mul", Arguments: `{"a": 5, "b": 4}`}}, Usage: u(stepUsage[1])},
		dspytest.Answer{Text: thought("Done."), ToolCalls: []lm.ToolCall{{ID: "call_fin", Name: "finish", Arguments: `{}`}}, Usage: u(stepUsage[2])},
		dspytest.Answer{Text: dspytest.ChatReply("reasoning", "Read it.", "answer", "20"), Usage: u(extractUsage)},
	))
	defer srv.Close()
	model := openai.New("gpt-test", openai.WithBaseURL(srv.URL()), openai.WithAPIKey("sk-test"))
	prog := agentProgram(t, true, streaming.WithTraceEvents())
	norm := normaliseAll(t, prog.Stream(lmCtx(model), dspy.Inputs{"question": "(2+3)*4?"}))
	got := norm.out

	lmEnd := func(path string, call int, finish string, u lm.Usage) ev {
		return ev{Kind: "lm_end", Path: path, Call: call, Model: "gpt-test", Finish: finish, Usage: u, Timed: true}
	}
	want := []ev{
		{Kind: "step_start", Path: "react", Call: 1, Index: 0},
		{Kind: "lm_start", Path: "react", Call: 2, Model: "gpt-test"},
		{Kind: "chunk", Path: "react", Call: 2, Tool: "next_thought", Text: "Add first.", Done: true},
		{Kind: "tool_call_delta", Path: "react", Call: 2, Tool: "add", ID: "call_add", Text: `{"a": 2, "b": 3}`},
		lmEnd("react", 2, "tool_calls", stepUsage[0]),
		{Kind: "tool_call_start", Path: "react", Call: 3, Tool: "add", ID: "call_add", Text: `{"a":2,"b":3}`},
		{Kind: "tool_call_end", Path: "react", Call: 3, Tool: "add", ID: "call_add", Text: "5", Timed: true},
		{Kind: "step_end", Path: "react", Call: 1, Index: 0},

		{Kind: "step_start", Path: "react", Call: 4, Index: 1},
		{Kind: "lm_start", Path: "react", Call: 5, Model: "gpt-test"},
		{Kind: "chunk", Path: "react", Call: 5, Tool: "next_thought", Text: "Now multiply.", Done: true},
		{Kind: "tool_call_delta", Path: "react", Call: 5, Tool: "mul", ID: "call_mul", Text: `{"a": 5, "b": 4}`},
		lmEnd("react", 5, "tool_calls", stepUsage[1]),
		{Kind: "tool_call_start", Path: "react", Call: 6, Tool: "mul", ID: "call_mul", Text: `{"a":5,"b":4}`},
		{Kind: "tool_call_end", Path: "react", Call: 6, Tool: "mul", ID: "call_mul", Text: "20", Timed: true},
		{Kind: "step_end", Path: "react", Call: 4, Index: 1},

		{Kind: "step_start", Path: "react", Call: 7, Index: 2},
		{Kind: "lm_start", Path: "react", Call: 8, Model: "gpt-test"},
		{Kind: "chunk", Path: "react", Call: 8, Tool: "next_thought", Text: "Done.", Done: true},
		lmEnd("react", 8, "tool_calls", stepUsage[2]),
		{Kind: "step_end", Path: "react", Call: 7, Index: 2, Done: true},

		{Kind: "lm_start", Path: "extract.predict", Call: 9, Model: "gpt-test"},
		{Kind: "chunk", Path: "extract.predict", Call: 9, Tool: "answer", Text: "20", Done: true},
		lmEnd("extract.predict", 9, "stop", extractUsage),
		{Kind: "final", Text: "20", Usage: totalUsage},
	}
	// Status messages are left out here: the text test pins their place.
	var noStatus []ev
	for _, e := range got {
		if e.Kind != "status" {
			noStatus = append(noStatus, e)
		}
	}
	if d := cmp.Diff(want, noStatus); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
	// The deltas are the provider's 6-byte fragments, not one piece: two
	// calls of 16 bytes each.
	if norm.deltas != 6 {
		t.Errorf("%d argument deltas, want 6 (3 fragments per call)", norm.deltas)
	}
}

// Without WithTraceEvents a stream has DSPy's events only, and the Final's
// usage is still the sum of the run's LM calls.
func TestTraceEventsOffByDefault(t *testing.T) {
	model := dspytest.NewScriptedLM()
	model.Push(
		dspytest.Reply{Text: dspytest.ChatReply("next_thought", "Add.", "next_tool_name", "add", "next_tool_args", `{"a": 2, "b": 3}`), Usage: stepUsage[0]},
		dspytest.Reply{Text: dspytest.ChatReply("next_thought", "Done.", "next_tool_name", "finish", "next_tool_args", `{}`), Usage: stepUsage[1]},
		dspytest.Reply{Text: dspytest.ChatReply("reasoning", "Read it.", "answer", "5"), Usage: extractUsage},
	)
	got := normalise(t, agentProgram(t, false).Stream(lmCtx(model), dspy.Inputs{"question": "2+3?"}))
	want := []ev{
		{Kind: "chunk", Path: "react", Call: 1, Tool: "next_thought", Text: "Add.", Done: true},
		{Kind: "status", Text: fmt.Sprintf(statusStart, "add")},
		{Kind: "status", Text: statusEnd},
		{Kind: "chunk", Path: "react", Call: 2, Tool: "next_thought", Text: "Done.", Done: true},
		{Kind: "chunk", Path: "extract.predict", Call: 3, Tool: "answer", Text: "5", Done: true},
		{Kind: "final", Text: "5", Usage: stepUsage[0].Add(stepUsage[1]).Add(extractUsage)},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
}

// A tool's error ends its call with Err set; an LM error is the LMEnd's
// Err, and a cache hit is reported.
func TestTraceEventsErrors(t *testing.T) {
	failing := dspy.NewTool("lookup", "Look a word up.", func(context.Context, struct {
		Word string `json:"word"`
	}) (string, error) {
		return "", errors.New("dictionary offline")
	})
	model := dspytest.NewScriptedLM()
	model.Push(
		dspytest.Reply{Text: dspytest.ChatReply("next_thought", "Look.", "next_tool_name", "lookup", "next_tool_args", `{"word": "tide"}`)},
		dspytest.Reply{Err: errors.New("boom")},
	)
	agent := dspy.NewReAct("question -> answer", []*dspy.Tool{failing})
	prog := streaming.MustStreamify(agent, streaming.WithTraceEvents())
	var n normaliser
	var runErr error
	for e, err := range prog.Stream(lmCtx(model), dspy.Inputs{"question": "tide?"}) {
		if err != nil {
			runErr = err
			break
		}
		if _, raw := e.(*streaming.RawChunk); !raw {
			n.add(e)
		}
	}
	if runErr == nil || !strings.Contains(runErr.Error(), "boom") {
		t.Fatalf("run error %v, want boom", runErr)
	}
	var kinds []string
	for _, e := range n.out {
		switch e.Kind {
		case "tool_call_end":
			if e.Err != "dictionary offline" {
				t.Errorf("tool_call_end Err %q", e.Err)
			}
		case "lm_end":
			if e.Call == 5 && e.Err != "boom" {
				t.Errorf("second lm_end Err %q, want boom", e.Err)
			}
		}
		kinds = append(kinds, e.Kind)
	}
	want := []string{"step_start", "lm_start", "lm_end", "tool_call_start", "status", "tool_call_end", "status", "step_end",
		"step_start", "lm_start", "lm_end", "step_end"}
	if d := cmp.Diff(want, kinds); d != "" {
		t.Errorf("kinds (-want +got):\n%s", d)
	}
}

type progress struct {
	Done, Of int
}

// Emit sends a Custom event into the running stream, attributed to the
// tool call it came from; outside a stream it does nothing.
func TestEmit(t *testing.T) {
	steps := dspy.NewTool("count", "Count to n.", func(ctx context.Context, a struct {
		N int `json:"n"`
	}) (int, error) {
		for i := 1; i <= a.N; i++ {
			streaming.Emit(ctx, "progress", progress{i, a.N})
		}
		return a.N, nil
	})
	// Outside a stream: a no-op, the tool works as before.
	if res, err := steps.Call(context.Background(), map[string]any{"n": 2}); err != nil || res != 2 {
		t.Fatalf("Call outside a stream = %v, %v", res, err)
	}
	streaming.Emit(context.Background(), "progress", 1) // no stream, no panic

	for _, events := range []bool{false, true} {
		t.Run(fmt.Sprintf("traceEvents=%v", events), func(t *testing.T) {
			model := dspytest.NewScriptedLM(
				dspytest.ChatReply("next_thought", "Count.", "next_tool_name", "count", "next_tool_args", `{"n": 2}`),
				dspytest.ChatReply("next_thought", "Done.", "next_tool_name", "finish", "next_tool_args", `{}`),
				dspytest.ChatReply("reasoning", "Counted.", "answer", "2"),
			)
			var opts []streaming.Option
			if events {
				opts = append(opts, streaming.WithTraceEvents())
			}
			prog := streaming.MustStreamify(dspy.NewReAct("question -> answer", []*dspy.Tool{steps}),
				append(opts, streaming.WithListeners(streaming.NewListener("answer", streaming.WithPredictName("extract"))))...)
			var customs []*streaming.Custom
			var toolCall uint64
			for e, err := range prog.Stream(lmCtx(model), dspy.Inputs{"question": "count"}) {
				if err != nil {
					t.Fatal(err)
				}
				switch e := e.(type) {
				case *streaming.Custom:
					customs = append(customs, e)
				case *streaming.ToolCallStart:
					toolCall = e.CallID
				}
			}
			if len(customs) != 2 {
				t.Fatalf("%d custom events, want 2", len(customs))
			}
			for i, c := range customs {
				want := &streaming.Custom{PredictName: "react", CallID: customs[0].CallID, Name: "progress", Data: progress{i + 1, 2}}
				if d := cmp.Diff(want, c); d != "" {
					t.Errorf("custom %d (-want +got):\n%s", i, d)
				}
			}
			if events && customs[0].CallID != toolCall {
				t.Errorf("custom CallID %d, want the tool call's %d", customs[0].CallID, toolCall)
			}
		})
	}
}
