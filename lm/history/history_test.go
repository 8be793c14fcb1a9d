package history_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godspy/dspy/dspytest"
	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/lm/history"
)

func TestRing(t *testing.T) {
	h := history.New(3)
	if h.Cap() != 3 || h.Len() != 0 || len(h.Last(5)) != 0 {
		t.Fatalf("new history: cap %d len %d", h.Cap(), h.Len())
	}
	for i := range 5 {
		h.Add(history.Entry{Model: fmt.Sprint(i)})
	}
	var got []string
	for _, e := range h.Last(0) {
		got = append(got, e.Model)
	}
	if strings.Join(got, ",") != "2,3,4" {
		t.Errorf("Last(0) = %v, want 2,3,4 (oldest first)", got)
	}
	if l := h.Last(2); len(l) != 2 || l[0].Model != "3" || l[1].Model != "4" {
		t.Errorf("Last(2) = %+v", l)
	}
	h.Clear()
	if h.Len() != 0 {
		t.Errorf("Len after Clear = %d", h.Len())
	}
	if history.New(0).Cap() != history.DefaultSize {
		t.Error("New(0) does not use DefaultSize")
	}
}

func TestConcurrentAdd(t *testing.T) {
	h := history.New(10)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				h.Add(history.Entry{})
				h.Last(3)
			}
		})
	}
	wg.Wait()
	if h.Len() != 10 {
		t.Errorf("Len = %d", h.Len())
	}
}

func TestPrint(t *testing.T) {
	e := history.Entry{
		Time:     time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		Provider: "openai", Model: "gpt-4o-mini",
		Messages: []lm.Message{
			{Role: lm.RoleSystem, Content: "Your input fields are: question"},
			{Role: lm.RoleUser, Content: "[[ ## question ## ]]\nWhat is 2+2?"},
		},
		Response: &lm.Response{Choices: []lm.Choice{
			{Message: lm.Message{Role: lm.RoleAssistant, Content: "[[ ## answer ## ]]\n4\n\n[[ ## completed ## ]]", ToolCalls: []lm.ToolCall{{ID: "c1", Name: "add", Arguments: `{"a":2}`}}}},
			{Message: lm.Message{Content: "other"}},
		}},
		Usage:   lm.Usage{PromptTokens: 20, CompletionTokens: 7},
		Latency: 1500 * time.Millisecond,
	}
	hit := e
	hit.CacheHit, hit.Usage, hit.Latency, hit.Stream = true, lm.Usage{}, 12*time.Microsecond, true
	failed := e
	failed.Response, failed.Err = nil, errors.New("lm: rate limited")

	var b strings.Builder
	if err := history.Print(&b, []history.Entry{e, hit, failed}); err != nil {
		t.Fatal(err)
	}
	want := `


[2025-01-02T03:04:05Z] openai/gpt-4o-mini · 1.5s · 20 prompt + 7 completion tokens

System message:

Your input fields are: question

User message:

[[ ## question ## ]]
What is 2+2?

Response:

[[ ## answer ## ]]
4

[[ ## completed ## ]]
Tool call: add({"a":2}) [c1]

	 (and 1 other completions)





[2025-01-02T03:04:05Z] openai/gpt-4o-mini · stream · 12µs · cache hit

System message:

Your input fields are: question

User message:

[[ ## question ## ]]
What is 2+2?

Response:

[[ ## answer ## ]]
4

[[ ## completed ## ]]
Tool call: add({"a":2}) [c1]

	 (and 1 other completions)





[2025-01-02T03:04:05Z] openai/gpt-4o-mini · 1.5s · 20 prompt + 7 completion tokens

System message:

Your input fields are: question

User message:

[[ ## question ## ]]
What is 2+2?

Response:

Error: lm: rate limited


`
	if got := b.String(); got != want {
		t.Errorf("Print =\n%s\nwant\n%s", got, want)
	}
}

// named gives a ScriptedLM an identity.
type named struct{ *dspytest.ScriptedLM }

func (named) Provider() string { return "scripted" }
func (named) Model() string    { return "m1" }

func TestRecorder(t *testing.T) {
	ctx := t.Context()
	h := history.New(10)
	boom := errors.New("boom")
	inner := dspytest.NewScriptedLM("hello there", "streamed reply", "cut").Push(dspytest.Reply{Err: boom})
	r := history.Record(named{inner}, h)
	if r.History() != h || r.Unwrap() == nil {
		t.Fatal("accessors")
	}
	req := &lm.Request{Messages: []lm.Message{{Role: lm.RoleUser, Content: "hi"}}}

	if _, err := r.Generate(ctx, req); err != nil {
		t.Fatal(err)
	}
	if _, err := lm.Collect(r.Stream(ctx, req)); err != nil {
		t.Fatal(err)
	}
	for range r.Stream(ctx, req) {
		break
	}
	r.Generate(ctx, req)

	es := h.Last(0)
	if len(es) != 4 {
		t.Fatalf("%d entries, want 4", len(es))
	}
	g := es[0]
	if g.Provider != "scripted" || g.Model != "m1" || g.Stream || g.Response.Text() != "hello there" || g.Usage.IsZero() || g.Err != nil || len(g.Messages) != 1 || g.Latency <= 0 {
		t.Errorf("generate entry: %+v", g)
	}
	s := es[1]
	if !s.Stream || s.Response.Text() != "streamed reply" || s.Err != nil || s.Usage.IsZero() {
		t.Errorf("stream entry: %+v", s)
	}
	if b := es[2]; !errors.Is(b.Err, history.ErrStopped) || b.Response == nil {
		t.Errorf("stopped stream entry: err %v", b.Err)
	}
	if f := es[3]; !errors.Is(f.Err, boom) || f.Response != nil {
		t.Errorf("failed entry: %+v", f)
	}

	// The entry keeps its own copy of the messages.
	req.Messages[0].Content = "changed"
	if h.Last(0)[0].Messages[0].Content != "hi" {
		t.Error("entry shares the request's messages")
	}
}

func TestRecorderCacheHit(t *testing.T) {
	h := history.New(10)
	hit := lmFunc(func(ctx context.Context, req *lm.Request) (*lm.Response, error) {
		return &lm.Response{Choices: []lm.Choice{{Message: lm.Message{Content: "x"}}}, CacheHit: true}, nil
	})
	history.Record(hit, h).Generate(t.Context(), &lm.Request{})
	if e := h.Last(1)[0]; !e.CacheHit {
		t.Errorf("entry %+v, want CacheHit", e)
	}
}

type lmFunc func(ctx context.Context, req *lm.Request) (*lm.Response, error)

func (f lmFunc) Generate(ctx context.Context, req *lm.Request) (*lm.Response, error) {
	return f(ctx, req)
}

func (f lmFunc) Stream(ctx context.Context, req *lm.Request) iter.Seq2[lm.Chunk, error] {
	r, _ := f(ctx, req)
	return lm.StreamFromResponse(ctx, r, 0)
}
