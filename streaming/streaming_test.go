package streaming_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/dspytest"
	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/streaming"
	"github.com/google/go-cmp/cmp"
)

// collect drains a stream into a compact text log and the final prediction.
func collect(t *testing.T, seq func(func(streaming.Event, error) bool)) (log []string, fields map[string]string, final *dspy.Prediction, err error) {
	t.Helper()
	fields = map[string]string{}
	for ev, e := range seq {
		if e != nil {
			err = e
			log = append(log, "error: "+e.Error())
			continue
		}
		switch ev := ev.(type) {
		case *streaming.StreamResponse:
			key := ev.PredictName + "/" + ev.SignatureFieldName
			fields[key] += ev.Chunk
			if ev.IsLastChunk {
				log = append(log, "last "+key)
			}
		case *streaming.StatusMessage:
			log = append(log, "status "+ev.Message)
		case *streaming.Final:
			final = ev.Prediction
			log = append(log, "final")
		case *streaming.RawChunk:
			log = append(log, "raw")
		}
	}
	return
}

func lmCtx(m lm.LM) context.Context {
	return dspy.WithSettings(context.Background(), dspy.WithLM(m))
}

func TestStreamChainOfThought(t *testing.T) {
	reply := dspytest.ChatReply("reasoning", "The moon pulls [[ the ]] sea.", "answer", "Gravity of the moon — 月 🌊")
	model := dspytest.NewScriptedLM(reply)
	model.ChunkSize = 3
	prog, err := streaming.Streamify(dspy.NewChainOfThought("question -> answer"),
		streaming.WithListeners(streaming.NewListener("answer"), streaming.NewListener("reasoning")))
	if err != nil {
		t.Fatal(err)
	}
	log, fields, final, err := collect(t, prog.Stream(lmCtx(model), dspy.Inputs{"question": "What causes tides?"}))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"predict/reasoning": "The moon pulls [[ the ]] sea.",
		"predict/answer":    "Gravity of the moon — 月 🌊",
	}
	if d := cmp.Diff(want, fields); d != "" {
		t.Errorf("streamed fields (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"last predict/reasoning", "last predict/answer", "final"}, log); d != "" {
		t.Errorf("event log (-want +got):\n%s", d)
	}
	if final.Get("answer") != want["predict/answer"] {
		t.Errorf("final answer %q", final.Get("answer"))
	}
}

func TestStreamifyBindingErrors(t *testing.T) {
	prog := &pipeline{A: dspy.NewPredict("q -> answer"), B: dspy.NewChainOfThought("q -> answer")}
	tests := []struct {
		name    string
		l       streaming.Listener
		wantErr error
		wantMsg string
	}{
		{"ambiguous", streaming.NewListener("answer"), streaming.ErrFieldNotUnique,
			"streaming: field is not unique in the program: Signature field answer is not unique in the program, cannot automatically determine which predictor to use for streaming. Please specify the predictor to listen to (one of: a, b.predict)"},
		{"absent", streaming.NewListener("summary"), streaming.ErrFieldNotFound,
			"streaming: field not found in the program: Signature field summary is not a field of any predictor in the program, cannot automatically determine which predictor to use for streaming"},
		{"bad path", streaming.NewListener("answer", streaming.WithPredictName("c")), streaming.ErrFieldNotFound,
			`streaming: field not found in the program: no predictor at path "c" (the program's predictors are: a, b.predict)`},
		{"path ok", streaming.NewListener("answer", streaming.WithPredictName("b")), nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := streaming.Streamify(prog, streaming.WithListeners(tt.l))
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("Streamify error = %v, want %v", err, tt.wantErr)
			}
			if err != nil && err.Error() != tt.wantMsg {
				t.Errorf("error text\n got %s\nwant %s", err, tt.wantMsg)
			}
		})
	}
}

// pipeline runs A then B on the same question.
type pipeline struct {
	A *dspy.Predict
	B *dspy.ChainOfThought
}

func (p *pipeline) Forward(ctx context.Context, in dspy.Inputs) (*dspy.Prediction, error) {
	if _, err := p.A.Call(ctx, in); err != nil {
		return nil, err
	}
	return p.B.Call(ctx, in)
}

func TestStreamPathBindingThroughCustomModule(t *testing.T) {
	model := dspytest.NewScriptedLM(
		dspytest.ChatReply("answer", "from A"),
		dspytest.ChatReply("reasoning", "think", "answer", "from B"),
	)
	prog := streaming.MustStreamify(&pipeline{A: dspy.NewPredict("q -> answer"), B: dspy.NewChainOfThought("q -> answer")},
		streaming.WithListeners(streaming.NewListener("answer", streaming.WithPredictName("b.predict"))))
	_, fields, _, err := collect(t, prog.Stream(lmCtx(model), dspy.Inputs{"q": "?"}))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(map[string]string{"b.predict/answer": "from B"}, fields); d != "" {
		t.Errorf("fields (-want +got):\n%s", d)
	}
}

// gatherer runs its predictor on several questions concurrently.
type gatherer struct {
	P *dspy.Predict
	n int
}

func (g *gatherer) Forward(ctx context.Context, in dspy.Inputs) (*dspy.Prediction, error) {
	var futs []*dspy.Future[*dspy.Prediction]
	for range g.n {
		futs = append(futs, g.P.ACall(ctx, in))
	}
	preds, err := dspy.Gather(ctx, futs...)
	if err != nil {
		return nil, err
	}
	return preds[0], nil
}

func TestConcurrentCallsKeptApart(t *testing.T) {
	// Each call answers with its own text; WithAllowReuse every call
	// streams, and chunks of different calls never mix.
	var mu sync.Mutex
	n := 0
	model := dspytest.NewScriptedLMFunc(func(*lm.Request) (dspytest.Reply, error) {
		mu.Lock()
		defer mu.Unlock()
		n++
		return dspytest.Reply{Text: dspytest.ChatReply("answer", strings.Repeat(string(rune('a'+n)), 40))}, nil
	})
	model.ChunkSize = 2
	model.ChunkDelay = time.Microsecond
	prog := streaming.MustStreamify(&gatherer{P: dspy.NewPredict("q -> answer"), n: 4},
		streaming.WithListeners(streaming.NewListener("answer", streaming.WithAllowReuse())))
	byCall := map[uint64]string{}
	lasts := map[uint64]int{}
	for ev, err := range prog.Stream(lmCtx(model), dspy.Inputs{"q": "?"}) {
		if err != nil {
			t.Fatal(err)
		}
		if sr, ok := ev.(*streaming.StreamResponse); ok {
			byCall[sr.CallID] += sr.Chunk
			if sr.IsLastChunk {
				lasts[sr.CallID]++
			}
		}
	}
	if len(byCall) != 4 {
		t.Fatalf("chunks from %d calls, want 4", len(byCall))
	}
	for id, text := range byCall {
		if len(text) != 40 || strings.Count(text, text[:1]) != 40 || lasts[id] != 1 {
			t.Errorf("call %d streamed %q with %d last chunks; want 40 equal letters and one last chunk", id, text, lasts[id])
		}
	}
}

func TestWithoutReuseOnlyFirstOccurrence(t *testing.T) {
	model := dspytest.Repeat(dspytest.ChatReply("answer", "same"))
	prog := streaming.MustStreamify(&gatherer{P: dspy.NewPredict("q -> answer"), n: 3},
		streaming.WithListeners(streaming.NewListener("answer")))
	for range 2 { // fresh state on every Stream call
		_, fields, _, err := collect(t, prog.Stream(lmCtx(model), dspy.Inputs{"q": "?"}))
		if err != nil {
			t.Fatal(err)
		}
		if fields["self/answer"] != "" || fields["p/answer"] != "same" {
			t.Errorf("fields = %v, want exactly one occurrence of p/answer", fields)
		}
	}
}

func TestBreakCancelsRun(t *testing.T) {
	model := dspytest.Repeat(dspytest.ChatReply("answer", strings.Repeat("word ", 500)))
	model.ChunkSize = 5
	model.ChunkDelay = time.Millisecond
	prog := streaming.MustStreamify(dspy.NewPredict("q -> answer"), streaming.WithListeners(streaming.NewListener("answer")))
	got := 0
	start := time.Now()
	for ev, err := range prog.Stream(lmCtx(model), dspy.Inputs{"q": "?"}) {
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := ev.(*streaming.StreamResponse); ok {
			got++
			if got == 3 {
				break // on an ordinary event: no later yield may happen
			}
		}
	}
	if time.Since(start) > 2*time.Second {
		t.Errorf("break took %v: the run was not cancelled", time.Since(start))
	}
	// goleak in TestMain checks that the run's goroutines ended.
}

func TestMidStreamErrorIsLast(t *testing.T) {
	boom := errors.New("connection reset")
	model := dspytest.NewScriptedLM().Push(dspytest.Reply{
		Text: dspytest.ChatReply("answer", "partial answer that gets cut"), Err: boom, StreamErrAfter: 30,
	})
	model.ChunkSize = 5
	prog := streaming.MustStreamify(dspy.NewPredict("q -> answer"), streaming.WithListeners(streaming.NewListener("answer")))
	var events []streaming.Event
	var gotErr error
	for ev, err := range prog.Stream(lmCtx(model), dspy.Inputs{"q": "?"}) {
		if gotErr != nil {
			t.Fatal("element after the error")
		}
		if err != nil {
			gotErr = err
			continue
		}
		events = append(events, ev)
	}
	if !errors.Is(gotErr, boom) {
		t.Fatalf("error = %v, want %v", gotErr, boom)
	}
	var se *lm.StreamError
	if !errors.As(gotErr, &se) || !strings.HasPrefix(se.Partial.Text(), "[[ ## answer ## ]]") {
		t.Errorf("error %v does not keep the partial text", gotErr)
	}
	text := ""
	for _, ev := range events {
		sr := ev.(*streaming.StreamResponse)
		text += sr.Chunk
		if sr.IsLastChunk {
			t.Error("a cut-off field got IsLastChunk")
		}
	}
	if !strings.HasPrefix("partial answer that gets cut", text) || text == "" {
		t.Errorf("delivered %q, want a prefix of the answer", text)
	}
}

func TestChanDeliversEventsAndErrors(t *testing.T) {
	model := dspytest.NewScriptedLM(dspytest.ChatReply("answer", "hello"))
	prog := streaming.MustStreamify(dspy.NewPredict("q -> answer"), streaming.WithListeners(streaming.NewListener("answer")))
	var text string
	var final *dspy.Prediction
	for ev := range prog.Chan(lmCtx(model), dspy.Inputs{"q": "?"}) {
		switch e := ev.(type) {
		case *streaming.StreamResponse:
			text += e.Chunk
		case *streaming.Final:
			final = e.Prediction
		case *streaming.ErrorEvent:
			t.Fatal(e.Err)
		}
	}
	if text != "hello" || final.Get("answer") != "hello" {
		t.Errorf("text %q final %v", text, final)
	}

	// The script is empty now: the error arrives as the last event.
	var last streaming.Event
	for ev := range prog.Chan(lmCtx(model), dspy.Inputs{"q": "?"}) {
		last = ev
	}
	if e, ok := last.(*streaming.ErrorEvent); !ok || !errors.Is(e.Err, dspytest.ErrScriptExhausted) {
		t.Errorf("last event = %#v, want ErrorEvent(ErrScriptExhausted)", last)
	}
}

// Cancelling ctx stops a Chan run: the channel closes promptly, after at
// most a few more events, and any error it reports is the cancellation.
func TestChanCancel(t *testing.T) {
	const total = 5000
	model := dspytest.Repeat(dspytest.ChatReply("answer", strings.Repeat("x", total)))
	model.ChunkSize = 1
	prog := streaming.MustStreamify(dspy.NewPredict("q -> answer"), streaming.WithListeners(streaming.NewListener("answer")))
	ctx, cancel := context.WithCancel(lmCtx(model))
	defer cancel()
	ch := prog.Chan(ctx, dspy.Inputs{"q": "?"})
	if _, ok := (<-ch).(*streaming.StreamResponse); !ok {
		t.Fatal("first event is not a chunk")
	}
	cancel()
	after := 0
	timeout := time.After(5 * time.Second)
	for open := true; open; {
		select {
		case ev, ok := <-ch:
			if !ok {
				open = false
				break
			}
			after++
			switch e := ev.(type) {
			case *streaming.ErrorEvent:
				if !errors.Is(e.Err, context.Canceled) {
					t.Errorf("ErrorEvent %v, want the cancellation", e.Err)
				}
			case *streaming.Final:
				t.Error("a cancelled run delivered its Final prediction")
			}
		case <-timeout:
			t.Fatalf("the channel was not closed 5 s after cancel (%d events since)", after)
		}
	}
	if after > 8 {
		t.Errorf("%d events arrived after cancel (of %d): the run went on", after, total)
	}
}

func TestNoListenersPassRawChunks(t *testing.T) {
	model := dspytest.NewScriptedLM(dspytest.ChatReply("answer", "hi"))
	model.ChunkSize = 4
	prog := streaming.MustStreamify(dspy.NewPredict("q -> answer"))
	var raw strings.Builder
	for ev, err := range prog.Stream(lmCtx(model), dspy.Inputs{"q": "?"}) {
		if err != nil {
			t.Fatal(err)
		}
		if rc, ok := ev.(*streaming.RawChunk); ok {
			raw.WriteString(rc.Chunk.Text)
		}
	}
	if raw.String() != dspytest.ChatReply("answer", "hi") {
		t.Errorf("raw text %q", raw.String())
	}
}

func TestNativeReasoningStreamsAsReasoning(t *testing.T) {
	model := dspytest.NewScriptedLM().Push(dspytest.Reply{Reasoning: "Let me think about tides.", Text: dspytest.ChatReply("answer", "The moon")})
	model.ChunkSize = 4
	prog := streaming.MustStreamify(dspy.NewPredict("q -> answer"),
		streaming.WithListeners(streaming.NewListener("reasoning"), streaming.NewListener("answer")))
	log, fields, _, err := collect(t, prog.Stream(lmCtx(model), dspy.Inputs{"q": "?"}))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"self/reasoning": "Let me think about tides.", "self/answer": "The moon"}
	if d := cmp.Diff(want, fields); d != "" {
		t.Errorf("fields (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"last self/reasoning", "last self/answer", "final"}, log); d != "" {
		t.Errorf("log (-want +got):\n%s", d)
	}
}

// agentish calls a tool, then its predictor.
type agentish struct {
	P    *dspy.Predict
	tool *dspy.Tool
}

func (a *agentish) Forward(ctx context.Context, in dspy.Inputs) (*dspy.Prediction, error) {
	if _, err := a.tool.Call(ctx, map[string]any{"query": "tides"}); err != nil {
		return nil, err
	}
	return a.P.Call(ctx, in)
}

func TestStatusMessagesArriveWhenHooksFire(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		type args struct {
			Query string `json:"query"`
		}
		search := dspy.NewTool("search", "Search the web.", func(ctx context.Context, a args) (string, error) {
			select {
			case <-time.After(time.Second):
				return "found", nil
			case <-ctx.Done():
				return "", ctx.Err()
			}
		})
		model := dspytest.NewScriptedLM(dspytest.ChatReply("answer", "ok"))
		prog := streaming.MustStreamify(&agentish{P: dspy.NewPredict("q -> answer"), tool: search},
			streaming.WithListeners(streaming.NewListener("answer")))
		var times []time.Duration
		var msgs []string
		start := time.Now()
		for ev, err := range prog.Stream(lmCtx(model), dspy.Inputs{"q": "?"}) {
			if err != nil {
				t.Fatal(err)
			}
			if sm, ok := ev.(*streaming.StatusMessage); ok {
				msgs = append(msgs, sm.Message)
				times = append(times, time.Since(start))
			}
		}
		want := []string{"Calling tool search...", "Tool calling finished! Querying the LLM with tool calling results..."}
		if d := cmp.Diff(want, msgs); d != "" {
			t.Fatalf("status messages (-want +got):\n%s", d)
		}
		if times[1]-times[0] < time.Second {
			t.Errorf("start and end messages arrived %v apart, want >= 1s (not batched)", times[1]-times[0])
		}
	})
}

type customStatus struct{ streaming.DefaultStatus }

func (customStatus) LMStart(dspy.LMStartInfo) string { return "Thinking..." }
func (customStatus) ToolStart(i dspy.ToolStartInfo) string {
	return "Using " + i.Tool.Name()
}

func TestCustomStatusProviderAndFinishSilent(t *testing.T) {
	finish := dspy.NewTool("finish", "done", func(context.Context, map[string]any) (string, error) { return "Completed.", nil })
	model := dspytest.NewScriptedLM(dspytest.ChatReply("answer", "ok"))
	prog := streaming.MustStreamify(&agentish{P: dspy.NewPredict("q -> answer"), tool: finish},
		streaming.WithListeners(streaming.NewListener("answer")), streaming.WithStatus(customStatus{}))
	log, _, _, err := collect(t, prog.Stream(lmCtx(model), dspy.Inputs{"q": "?"}))
	if err != nil {
		t.Fatal(err)
	}
	// No message for the finish tool; the predictor is field P of agentish.
	if d := cmp.Diff([]string{"status Thinking...", "last p/answer", "final"}, log); d != "" {
		t.Errorf("log (-want +got):\n%s", d)
	}
}

type panicModule struct{ P *dspy.Predict }

func (m *panicModule) Forward(ctx context.Context, in dspy.Inputs) (*dspy.Prediction, error) {
	if _, err := m.P.Call(ctx, in); err != nil {
		return nil, err
	}
	panic("module bug")
}

// A panic in the program is the stream's last element, a *dspy.PanicError,
// on the run goroutine (a custom module), on the inline path (a Predict
// whose adapter panics) and through Chan; the process goes on.
func TestStreamPanicIsLastError(t *testing.T) {
	reply := dspytest.ChatReply("answer", "fine")
	for _, tc := range []struct {
		name string
		prog *streaming.Program
		want string
	}{
		{"run goroutine", streaming.MustStreamify(&panicModule{P: dspy.NewPredict("q -> answer")}, streaming.WithListeners(streaming.NewListener("answer"))), "module bug"},
		{"inline", streaming.MustStreamify(dspy.NewPredict("q -> answer", dspy.WithAdapter(panicAdapter{})), streaming.WithListeners(streaming.NewListener("answer"))), "adapter bug"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var last error
			events := 0
			for ev, err := range tc.prog.Stream(lmCtx(dspytest.Repeat(reply)), dspy.Inputs{"q": "?"}) {
				if err != nil {
					last = err
					continue
				}
				events++
				_ = ev
			}
			var pe *dspy.PanicError
			if !errors.As(last, &pe) || pe.Value != tc.want {
				t.Fatalf("last element = %v, want a *dspy.PanicError(%q)", last, tc.want)
			}
			if events == 0 {
				t.Error("no event before the panic: the answer streamed first")
			}
			var ee *streaming.ErrorEvent
			for ev := range tc.prog.Chan(lmCtx(dspytest.Repeat(reply)), dspy.Inputs{"q": "?"}) {
				if e, ok := ev.(*streaming.ErrorEvent); ok {
					ee = e
				}
			}
			if ee == nil || !errors.As(ee.Err, &pe) {
				t.Errorf("Chan: last event %v, want an *ErrorEvent with the PanicError", ee)
			}
		})
	}
}

// panicAdapter parses like ChatAdapter but panics in Parse: the program
// panics after its answer streamed.
type panicAdapter struct{ dspy.ChatAdapter }

func (panicAdapter) Parse(*dspy.Signature, string) (map[string]any, error) { panic("adapter bug") }

// A panic in the consumer's own loop body is the consumer's: it is not
// turned into an error (it reaches the consumer's deferred recover, stack
// intact), also on the inline path, where the body runs inside the program.
func TestStreamConsumerPanicPropagates(t *testing.T) {
	prog := streaming.MustStreamify(dspy.NewPredict("q -> answer"), streaming.WithListeners(streaming.NewListener("answer")))
	got := func() (r any) {
		defer func() { r = recover() }()
		for ev, err := range prog.Stream(lmCtx(dspytest.Repeat(dspytest.ChatReply("answer", "fine"))), dspy.Inputs{"q": "?"}) {
			if err != nil {
				t.Errorf("stream error %v: the consumer's panic became an error", err)
				return nil
			}
			if _, ok := ev.(*streaming.StreamResponse); ok {
				panic("consumer bug")
			}
		}
		return nil
	}()
	if got != "consumer bug" {
		t.Fatalf("recovered %v, want the consumer's own panic", got)
	}
}
