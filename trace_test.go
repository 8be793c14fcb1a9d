package dspy

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godspy/dspy/dspytest"
	"github.com/godspy/dspy/lm"
	"github.com/google/go-cmp/cmp"
)

// recorder is a Trace that logs hook names with their call ids.
type recorder struct {
	mu     sync.Mutex
	events []string
	ids    map[string][2]uint64
}

func (r *recorder) add(name string, c CallInfo) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, name)
	if r.ids == nil {
		r.ids = map[string][2]uint64{}
	}
	r.ids[fmt.Sprintf("%s#%d", name, len(r.events))] = [2]uint64{c.ID, c.ParentID}
}

func (r *recorder) trace(prefix string) *Trace {
	return &Trace{
		ModuleStart: func(_ context.Context, i ModuleStartInfo) { r.add(prefix+"module start", i.CallInfo) },
		ModuleEnd:   func(_ context.Context, i ModuleEndInfo) { r.add(prefix+"module end", i.CallInfo) },
		FormatStart: func(_ context.Context, i FormatStartInfo) { r.add(prefix+"format start", i.CallInfo) },
		FormatEnd:   func(_ context.Context, i FormatEndInfo) { r.add(prefix+"format end", i.CallInfo) },
		LMStart:     func(_ context.Context, i LMStartInfo) { r.add(prefix+"lm start", i.CallInfo) },
		LMEnd:       func(_ context.Context, i LMEndInfo) { r.add(prefix+"lm end", i.CallInfo) },
		ParseStart:  func(_ context.Context, i ParseStartInfo) { r.add(prefix+"parse start", i.CallInfo) },
		ParseEnd:    func(_ context.Context, i ParseEndInfo) { r.add(prefix+"parse end", i.CallInfo) },
		ToolStart:   func(_ context.Context, i ToolStartInfo) { r.add(prefix+"tool start", i.CallInfo) },
		ToolEnd:     func(_ context.Context, i ToolEndInfo) { r.add(prefix+"tool end", i.CallInfo) },
	}
}

func TestTraceOrderChainOfThought(t *testing.T) {
	rec := &recorder{}
	model := dspytest.NewScriptedLM(dspytest.ChatReply("reasoning", "r", "answer", "a"))
	ctx := WithSettings(context.Background(), WithLM(model), WithTrace(rec.trace("")))
	if _, err := NewChainOfThought("question -> answer").Call(ctx, Inputs{"question": "q"}); err != nil {
		t.Fatal(err)
	}
	// The order DSPy's callbacks see for ChainOfThought.
	want := []string{
		"module start", "module start", "format start", "format end", "lm start", "lm end",
		"parse start", "parse end", "module end", "module end",
	}
	if d := cmp.Diff(want, rec.events); d != "" {
		t.Errorf("hook order (-want +got):\n%s", d)
	}
	outer, inner := rec.ids["module start#1"], rec.ids["module start#2"]
	if outer[1] != 0 || inner[1] != outer[0] {
		t.Errorf("call ids: outer %v inner %v; want inner's parent = outer's id and outer's parent 0", outer, inner)
	}
	if lmCall := rec.ids["lm start#5"]; lmCall[1] != inner[0] {
		t.Errorf("LM call parent = %d, want the Predict call %d", lmCall[1], inner[0])
	}
}

func TestTracesCompose(t *testing.T) {
	rec := &recorder{}
	model := dspytest.Repeat(dspytest.ChatReply("answer", "a"))
	ctx := WithSettings(context.Background(), WithLM(model), WithTrace(rec.trace("A ")))
	ctx = WithSettings(ctx, WithTrace(&Trace{ModuleStart: func(_ context.Context, i ModuleStartInfo) { rec.add("B module start", i.CallInfo) }}))
	if _, err := NewPredict("question -> answer").Call(ctx, Inputs{"question": "q"}); err != nil {
		t.Fatal(err)
	}
	if len(rec.events) < 2 || rec.events[0] != "A module start" || rec.events[1] != "B module start" {
		t.Errorf("events = %q, want A's hook then B's", rec.events)
	}

	both := (&Trace{LMStart: func(context.Context, LMStartInfo) { rec.add("C", CallInfo{}) }}).
		Compose(&Trace{LMStart: func(context.Context, LMStartInfo) { rec.add("D", CallInfo{}) }})
	rec.events = nil
	both.LMStart(context.Background(), LMStartInfo{})
	if d := cmp.Diff([]string{"C", "D"}, rec.events); d != "" {
		t.Errorf("Compose order (-want +got):\n%s", d)
	}
}

func TestTraceHookPanicIsRecovered(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	model := dspytest.Repeat(dspytest.ChatReply("answer", "fine"))
	ctx := WithSettings(context.Background(), WithLM(model), WithLogger(logger),
		WithTrace(&Trace{LMStart: func(context.Context, LMStartInfo) { panic("hook bug") }}))
	pred, err := NewPredict("question -> answer").Call(ctx, Inputs{"question": "q"})
	if err != nil || pred.Get("answer") != "fine" {
		t.Fatalf("Call = %v, %v; want the program to run despite the hook", pred, err)
	}
	if !strings.Contains(logs.String(), "hook bug") {
		t.Errorf("log %q does not mention the panic", logs.String())
	}
}

// pipeline is a custom module: analyze then summarize.
type pipeline struct {
	analyze   *Predict
	Summarize *ChainOfThought
}

func (p *pipeline) Forward(ctx context.Context, in Inputs) (*Prediction, error) {
	a, err := p.analyze.Call(ctx, Inputs{"text": in["text"]})
	if err != nil {
		return nil, err
	}
	return p.Summarize.Call(ctx, Inputs{"analysis": a.Get("analysis")})
}

func TestUsageTrackingSumsNestedCalls(t *testing.T) {
	model := dspytest.NewScriptedLM().Push(
		dspytest.Reply{Text: dspytest.ChatReply("analysis", "A"), Usage: usage(10, 5)},
		dspytest.Reply{Text: dspytest.ChatReply("reasoning", "R", "summary", "S"), Usage: usage(20, 7)},
	)
	p := &pipeline{analyze: NewPredict("text -> analysis"), Summarize: NewChainOfThought("analysis -> summary")}
	ctx := WithSettings(context.Background(), WithLM(model), WithUsageTracking(true))
	pred, err := Call(ctx, p, Inputs{"text": "t"})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(usage(30, 12), pred.Usage); d != "" {
		t.Errorf("Usage (-want +got):\n%s", d)
	}
}

func TestNamedPredictors(t *testing.T) {
	type withSlice struct {
		Steps []Module
		extra map[string]*Predict
	}
	p := &pipeline{analyze: NewPredict("text -> analysis"), Summarize: NewChainOfThought("analysis -> summary")}
	tests := []struct {
		name string
		m    Module
		want []string
	}{
		{"bare predict", NewPredict("a -> b"), []string{"self"}},
		{"chain of thought", NewChainOfThought("a -> b"), []string{"predict"}},
		{"custom module, unexported and exported fields", p, []string{"analyze", "summarize.predict"}},
		{"slice and map", moduleFunc{&withSlice{
			Steps: []Module{NewPredict("a -> b"), NewChainOfThought("b -> c")},
			extra: map[string]*Predict{"z": NewPredict("x -> y"), "a": NewPredict("x -> y")},
		}}, []string{"inner.steps[0]", "inner.steps[1].predict", "inner.extra[a]", "inner.extra[z]"}},
		{"explicit names", named{p}, []string{"first", "second.predict"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, np := range NamedPredictors(tt.m) {
				got = append(got, np.Path)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("NamedPredictors paths (-want +got):\n%s", d)
			}
		})
	}
}

type moduleFunc struct{ inner any }

func (moduleFunc) Forward(context.Context, Inputs) (*Prediction, error) { return nil, nil }

type named struct{ p *pipeline }

func (named) Forward(context.Context, Inputs) (*Prediction, error) { return nil, nil }
func (n named) Submodules() []NamedModule {
	return []NamedModule{{"first", n.p.analyze}, {"second", n.p.Summarize}}
}

// A native-tools ReAct run: each iteration is a step whose LM call and tool
// calls are nested in it, tool hooks carry the LM's tool-call id, and the
// step's end lists the trajectory entries it added.
func TestTraceReActSteps(t *testing.T) {
	type ev struct {
		Name       string
		Index      int
		ToolCallID string
		Parent     string // the event name of the parent call
		Steps      int
		Done       bool
	}
	var (
		mu     sync.Mutex
		events []ev
		names  = map[uint64]string{}
	)
	add := func(e ev, c CallInfo) {
		mu.Lock()
		defer mu.Unlock()
		e.Parent = names[c.ParentID]
		if _, ok := names[c.ID]; !ok {
			names[c.ID] = e.Name
		}
		events = append(events, e)
	}
	tr := &Trace{
		StepStart: func(_ context.Context, i StepStartInfo) { add(ev{Name: "step", Index: i.Index}, i.CallInfo) },
		StepEnd: func(_ context.Context, i StepEndInfo) {
			add(ev{Name: "step end", Index: i.Index, Steps: len(i.Steps), Done: i.Done}, i.CallInfo)
		},
		ModuleStart: func(_ context.Context, i ModuleStartInfo) {
			add(ev{Name: fmt.Sprintf("module %T", i.Module)}, i.CallInfo)
		},
		LMStart: func(_ context.Context, i LMStartInfo) { add(ev{Name: "lm"}, i.CallInfo) },
		ToolStart: func(_ context.Context, i ToolStartInfo) {
			add(ev{Name: "tool " + i.Tool.Name(), ToolCallID: i.ToolCallID}, i.CallInfo)
		},
		ToolEnd: func(_ context.Context, i ToolEndInfo) {
			if i.Duration <= 0 {
				t.Errorf("ToolEnd %s: Duration = %v, want > 0", i.Tool.Name(), i.Duration)
			}
			add(ev{Name: "tool end", ToolCallID: i.ToolCallID}, i.CallInfo)
		},
	}
	add2 := NewTool("add", "", func(_ context.Context, a struct{ X, Y int }) (int, error) { return a.X + a.Y, nil })
	model := dspytest.NewScriptedLM().Push(
		dspytest.Reply{ToolCalls: []lm.ToolCall{{ID: "call_1", Name: "add", Arguments: `{"X":1,"Y":2}`}}},
		dspytest.Reply{ToolCalls: []lm.ToolCall{{ID: "call_2", Name: "finish", Arguments: `{}`}}},
		dspytest.Reply{Text: dspytest.ChatReply("reasoning", "r", "answer", "3")},
	)
	agent := NewReAct("question -> answer", []*Tool{add2}, WithNativeTools())
	ctx := WithSettings(context.Background(), WithLM(model), WithTrace(tr))
	if _, err := agent.Call(ctx, Inputs{"question": "1+2?"}); err != nil {
		t.Fatal(err)
	}
	want := []ev{
		{Name: "module *dspy.ReAct"},
		{Name: "step", Index: 0, Parent: "module *dspy.ReAct"},
		{Name: "module *dspy.Predict", Parent: "step"},
		{Name: "lm", Parent: "module *dspy.Predict"},
		{Name: "tool add", ToolCallID: "call_1", Parent: "step"},
		{Name: "tool end", ToolCallID: "call_1", Parent: "step"},
		{Name: "step end", Index: 0, Steps: 1, Parent: "module *dspy.ReAct"},
		{Name: "step", Index: 1, Parent: "module *dspy.ReAct"},
		{Name: "module *dspy.Predict", Parent: "step"},
		{Name: "lm", Parent: "module *dspy.Predict"},
		{Name: "step end", Index: 1, Steps: 1, Done: true, Parent: "module *dspy.ReAct"},
		{Name: "module *dspy.ChainOfThought", Parent: "module *dspy.ReAct"}, // extract
		{Name: "module *dspy.Predict", Parent: "module *dspy.ChainOfThought"},
		{Name: "lm", Parent: "module *dspy.Predict"},
	}
	if d := cmp.Diff(want, events); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
}

// LMEnd reports the call's duration and, for a stream, the time to the
// first chunk.
func TestTraceLMTimings(t *testing.T) {
	var got []LMEndInfo
	tr := &Trace{LMEnd: func(_ context.Context, i LMEndInfo) { got = append(got, i) }}
	model := dspytest.NewScriptedLM(dspytest.ChatReply("answer", "a"))
	model.Latency = 5 * time.Millisecond
	ctx := WithSettings(context.Background(), WithLM(model), WithTrace(tr))
	if _, err := NewPredict("question -> answer").Call(ctx, Inputs{"question": "q"}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Duration < 5*time.Millisecond || got[0].FirstChunk != 0 {
		t.Fatalf("blocking call: LMEnd = %+v, want Duration >= 5ms and FirstChunk 0", got)
	}
}
