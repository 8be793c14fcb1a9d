package cache_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/godspy/dspy/dspytest"
	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/lm/cache"
	"github.com/godspy/dspy/lm/openai"
)

func ptr[T any](v T) *T { return &v }

// baseRequest sets every field that enters the key.
func baseRequest() *lm.Request {
	return &lm.Request{
		Messages: []lm.Message{
			{Role: lm.RoleSystem, Content: "be brief"},
			{Role: lm.RoleUser, Content: "hi", Name: "bob"},
			{Role: lm.RoleAssistant, Content: "", Reasoning: "r", ToolCalls: []lm.ToolCall{{ID: "c1", Name: "f", Arguments: `{"a":1}`}}},
			{Role: lm.RoleTool, Content: "42", ToolCallID: "c1"},
		},
		Temperature:    ptr(0.5),
		TopP:           ptr(0.9),
		MaxTokens:      100,
		N:              1,
		Stop:           []string{"END"},
		Seed:           ptr(int64(7)),
		ResponseFormat: &lm.ResponseFormat{Type: "json_schema", Name: "out", Schema: map[string]any{"type": "object"}, Strict: true},
		Tools:          []lm.ToolSpec{{Name: "f", Description: "does f", Parameters: map[string]any{"type": "object", "properties": map[string]any{"a": map[string]any{"type": "integer"}}}}},
		ToolChoice:     "auto",
		Extra:          map[string]any{"reasoning_effort": "low", "n2": 1.5},
		RolloutID:      "",
	}
}

func TestKeyChangesWithEveryParameter(t *testing.T) {
	c := cache.Wrap(dspytest.Repeat("x"), cache.NewMemory(10, 0), cache.WithIdentity("openai", "gpt-4o-mini"))
	base, err := c.Key(baseRequest())
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := c.Key(baseRequest()); again != base {
		t.Fatalf("Key is not deterministic: %s then %s", base, again)
	}
	tests := []struct {
		name string
		edit func(r *lm.Request)
	}{
		{"model", func(r *lm.Request) { r.Model = "gpt-4o" }},
		{"message role", func(r *lm.Request) { r.Messages[1].Role = lm.RoleSystem }},
		{"message content", func(r *lm.Request) { r.Messages[1].Content = "hello" }},
		{"message name", func(r *lm.Request) { r.Messages[1].Name = "alice" }},
		{"message reasoning", func(r *lm.Request) { r.Messages[2].Reasoning = "s" }},
		{"tool call id", func(r *lm.Request) { r.Messages[2].ToolCalls[0].ID = "c2" }},
		{"tool call name", func(r *lm.Request) { r.Messages[2].ToolCalls[0].Name = "g" }},
		{"tool call args", func(r *lm.Request) { r.Messages[2].ToolCalls[0].Arguments = `{"a":2}` }},
		{"tool call id of result", func(r *lm.Request) { r.Messages[3].ToolCallID = "c2" }},
		{"extra message", func(r *lm.Request) { r.Messages = append(r.Messages, lm.Message{Role: lm.RoleUser}) }},
		{"content moved between messages", func(r *lm.Request) { r.Messages[0].Content, r.Messages[1].Content = "be briefhi", "" }},
		{"temperature", func(r *lm.Request) { r.Temperature = ptr(0.6) }},
		{"temperature unset", func(r *lm.Request) { r.Temperature = nil }},
		{"top_p", func(r *lm.Request) { r.TopP = ptr(0.8) }},
		{"max tokens", func(r *lm.Request) { r.MaxTokens = 101 }},
		{"n", func(r *lm.Request) { r.N = 2 }},
		{"stop", func(r *lm.Request) { r.Stop = []string{"STOP"} }},
		{"stop added", func(r *lm.Request) { r.Stop = append(r.Stop, "") }},
		{"seed", func(r *lm.Request) { r.Seed = ptr(int64(8)) }},
		{"seed unset", func(r *lm.Request) { r.Seed = nil }},
		{"response format type", func(r *lm.Request) { r.ResponseFormat.Type = "json_object" }},
		{"response format name", func(r *lm.Request) { r.ResponseFormat.Name = "o" }},
		{"response format schema", func(r *lm.Request) { r.ResponseFormat.Schema = map[string]any{"type": "array"} }},
		{"response format strict", func(r *lm.Request) { r.ResponseFormat.Strict = false }},
		{"response format unset", func(r *lm.Request) { r.ResponseFormat = nil }},
		{"tool name", func(r *lm.Request) { r.Tools[0].Name = "g" }},
		{"tool description", func(r *lm.Request) { r.Tools[0].Description = "does g" }},
		{"tool parameters", func(r *lm.Request) { r.Tools[0].Parameters = map[string]any{"type": "object"} }},
		{"tools unset", func(r *lm.Request) { r.Tools = nil }},
		{"tool choice", func(r *lm.Request) { r.ToolChoice = "required" }},
		{"extra value", func(r *lm.Request) { r.Extra["reasoning_effort"] = "high" }},
		{"extra key", func(r *lm.Request) { r.Extra["x"] = true }},
		{"extra empty", func(r *lm.Request) { r.Extra = map[string]any{} }},
		{"extra unset", func(r *lm.Request) { r.Extra = nil }},
		{"rollout id", func(r *lm.Request) { r.RolloutID = "1" }},
	}
	seen := map[string]string{base: "base"}
	for _, tt := range tests {
		r := baseRequest()
		tt.edit(r)
		k, err := c.Key(r)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if prev, dup := seen[k]; dup {
			t.Errorf("changing %s keys like %s", tt.name, prev)
		}
		seen[k] = tt.name
	}

	// NoCache does not change the key; provider, model and salt do.
	r := baseRequest()
	r.NoCache = true
	if k, _ := c.Key(r); k != base {
		t.Error("NoCache changed the key")
	}
	for _, o := range []cache.Option{cache.WithIdentity("groq", "gpt-4o-mini"), cache.WithIdentity("openai", "gpt-4.1"), cache.WithSalt("temperature=1")} {
		other := cache.Wrap(dspytest.Repeat("x"), cache.NewMemory(10, 0), cache.WithIdentity("openai", "gpt-4o-mini"), o)
		if k, _ := other.Key(baseRequest()); k == base {
			t.Errorf("identity or salt change %v kept the key", o)
		}
	}
}

func TestKeyMapOrderIndependent(t *testing.T) {
	c := cache.Wrap(dspytest.Repeat("x"), cache.NewMemory(10, 0))
	a, b := baseRequest(), baseRequest()
	a.Extra = map[string]any{"a": 1, "b": map[string]any{"y": 1, "x": 2}, "c": 3}
	b.Extra = map[string]any{"c": 3, "b": map[string]any{"x": 2, "y": 1}, "a": 1}
	ka, _ := c.Key(a)
	kb, _ := c.Key(b)
	if ka != kb {
		t.Error("equal Extra maps key differently")
	}
}

func TestUnencodableExtraBypassesCache(t *testing.T) {
	inner := dspytest.Repeat("x")
	var reported atomic.Int32
	c := cache.Wrap(inner, cache.NewMemory(10, 0), cache.WithErrorFunc(func(error) { reported.Add(1) }))
	req := baseRequest()
	req.Extra = map[string]any{"f": func() {}}
	for range 2 {
		r, err := c.Generate(t.Context(), req)
		if err != nil || r.CacheHit {
			t.Fatalf("Generate = %+v, %v", r, err)
		}
	}
	if n := len(inner.Requests()); n != 2 {
		t.Errorf("inner LM called %d times, want 2", n)
	}
	if reported.Load() != 2 {
		t.Errorf("OnError called %d times, want 2", reported.Load())
	}
}

// counting counts the calls that reach the LM it wraps.
type counting struct {
	lm.LM
	gen, stream atomic.Int32
}

func (c *counting) Generate(ctx context.Context, req *lm.Request) (*lm.Response, error) {
	c.gen.Add(1)
	return c.LM.Generate(ctx, req)
}

func (c *counting) Stream(ctx context.Context, req *lm.Request) iter.Seq2[lm.Chunk, error] {
	c.stream.Add(1)
	return c.LM.Stream(ctx, req)
}

func echoLM() *dspytest.ScriptedLM {
	return dspytest.NewScriptedLMFunc(func(req *lm.Request) (dspytest.Reply, error) {
		return dspytest.Reply{Text: "echo: " + req.Messages[len(req.Messages)-1].Content, Usage: lm.Usage{PromptTokens: 10, CompletionTokens: 5, TotalTokens: 15}}, nil
	})
}

func userReq(s string) *lm.Request {
	return &lm.Request{Messages: []lm.Message{{Role: lm.RoleUser, Content: s}}}
}

func TestGenerateHitMiss(t *testing.T) {
	inner := &counting{LM: echoLM()}
	c := cache.Wrap(inner, cache.NewMemory(100, 0))
	ctx := t.Context()

	first, err := c.Generate(ctx, userReq("a"))
	if err != nil || first.CacheHit || first.Usage.TotalTokens != 15 {
		t.Fatalf("miss: %+v, %v", first, err)
	}
	second, err := c.Generate(ctx, userReq("a"))
	if err != nil {
		t.Fatal(err)
	}
	if !second.CacheHit || !second.Usage.IsZero() {
		t.Errorf("hit: CacheHit=%v Usage=%+v, want true and zero", second.CacheHit, second.Usage)
	}
	want := *first
	want.Usage, want.CacheHit = lm.Usage{}, true
	if d := cmp.Diff(&want, second); d != "" {
		t.Errorf("hit differs from the original (-want +got):\n%s", d)
	}
	if inner.gen.Load() != 1 {
		t.Errorf("inner calls = %d, want 1", inner.gen.Load())
	}

	// A different request misses; RolloutID asks for a fresh sample.
	c.Generate(ctx, userReq("b"))
	r := userReq("a")
	r.RolloutID = "2"
	if got, _ := c.Generate(ctx, r); got.CacheHit {
		t.Error("RolloutID change hit the cache")
	}
	if inner.gen.Load() != 3 {
		t.Errorf("inner calls = %d, want 3", inner.gen.Load())
	}

	// NoCache: neither read nor written.
	r = userReq("c")
	r.NoCache = true
	c.Generate(ctx, r)
	if got, _ := c.Generate(ctx, userReq("c")); got.CacheHit {
		t.Error("a NoCache call was stored")
	}
	r = userReq("a")
	r.NoCache = true
	if got, _ := c.Generate(ctx, r); got.CacheHit {
		t.Error("a NoCache call was answered from the cache")
	}
}

func TestErrorsAreNotCached(t *testing.T) {
	boom := errors.New("boom")
	inner := dspytest.NewScriptedLM().Push(dspytest.Reply{Err: boom}, dspytest.Reply{Text: "ok"})
	c := cache.Wrap(inner, cache.NewMemory(10, 0))
	if _, err := c.Generate(t.Context(), userReq("a")); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if r, err := c.Generate(t.Context(), userReq("a")); err != nil || r.CacheHit || r.Text() != "ok" {
		t.Fatalf("after an error: %+v, %v", r, err)
	}
}

func TestDisabled(t *testing.T) {
	inner := &counting{LM: echoLM()}
	store := cache.NewMemory(10, 0)
	c := cache.Wrap(inner, store, cache.WithoutCaching())
	for range 2 {
		c.Generate(t.Context(), userReq("a"))
		lm.Collect(c.Stream(t.Context(), userReq("a")))
	}
	if inner.gen.Load() != 2 || inner.stream.Load() != 2 || store.Len() != 0 {
		t.Errorf("disabled cache: %d generate, %d stream calls, %d entries", inner.gen.Load(), inner.stream.Load(), store.Len())
	}
}

// TestAPIKeyChangeHits: two clients of one server that differ only in
// their API key share entries.
func TestAPIKeyChangeHits(t *testing.T) {
	srv := dspytest.NewServer()
	defer srv.Close()
	store := cache.NewMemory(10, 0)
	ctx := t.Context()
	a := cache.Wrap(openai.New("m", openai.WithBaseURL(srv.URL()), openai.WithAPIKey("sk-one"), openai.WithHTTPClient(srv.Client())), store)
	b := cache.Wrap(openai.New("m", openai.WithBaseURL(srv.URL()), openai.WithAPIKey("sk-two"), openai.WithHTTPClient(srv.Client())), store)
	if a.Provider() == "" || a.Model() != "m" {
		t.Errorf("identity from the client = %q/%q", a.Provider(), a.Model())
	}
	if _, err := a.Generate(ctx, userReq("hi")); err != nil {
		t.Fatal(err)
	}
	r, err := b.Generate(ctx, userReq("hi"))
	if err != nil || !r.CacheHit {
		t.Fatalf("other key: %+v, %v; want a hit", r, err)
	}
	if n := len(srv.Requests()); n != 1 {
		t.Errorf("server saw %d requests, want 1", n)
	}
	// A different model on the same server misses.
	cm := cache.Wrap(openai.New("m2", openai.WithBaseURL(srv.URL()), openai.WithAPIKey("sk-one"), openai.WithHTTPClient(srv.Client())), store)
	if r, _ := cm.Generate(ctx, userReq("hi")); r.CacheHit {
		t.Error("another model hit")
	}
}

func collect(t *testing.T, seq iter.Seq2[lm.Chunk, error]) ([]lm.Chunk, *lm.Response) {
	t.Helper()
	var chunks []lm.Chunk
	var acc lm.Accumulator
	for c, err := range seq {
		if err != nil {
			t.Fatal(err)
		}
		chunks = append(chunks, c)
		acc.Add(c)
	}
	r := acc.Response()
	return chunks, &r
}

func TestStreamHitReplays(t *testing.T) {
	text := strings.Repeat("héllo wörld ", 10)
	inner := &counting{LM: dspytest.NewScriptedLM(text)}
	c := cache.Wrap(inner, cache.NewMemory(10, 0), cache.WithReplayChunkSize(8))
	ctx := t.Context()
	missChunks, miss := collect(t, c.Stream(ctx, userReq("q")))
	if miss.CacheHit || miss.Text() != text {
		t.Fatalf("miss: hit=%v text=%q", miss.CacheHit, miss.Text())
	}
	hitChunks, hit := collect(t, c.Stream(ctx, userReq("q")))
	if !hit.CacheHit || hit.Text() != text || !hit.Usage.IsZero() {
		t.Fatalf("hit: hit=%v usage=%+v text=%q", hit.CacheHit, hit.Usage, hit.Text())
	}
	if len(hitChunks) < len(text)/8 {
		t.Errorf("replayed in %d chunks, want about %d", len(hitChunks), len(text)/8+1)
	}
	for _, ch := range hitChunks {
		if !ch.CacheHit || len(ch.Text) > 8 {
			t.Errorf("replayed chunk %+v", ch)
		}
	}
	if len(missChunks) == 0 || missChunks[0].CacheHit {
		t.Error("a live chunk says CacheHit")
	}
	// Generate hits what Stream stored.
	if r, _ := c.Generate(ctx, userReq("q")); !r.CacheHit || r.Text() != text {
		t.Errorf("Generate after Stream: hit=%v", r.CacheHit)
	}
	if inner.stream.Load() != 1 || inner.gen.Load() != 0 {
		t.Errorf("inner calls: %d stream, %d generate", inner.stream.Load(), inner.gen.Load())
	}

	// Without replay: one content chunk and the final one.
	one := cache.Wrap(inner, c.Store(), cache.WithoutReplay())
	chunks, r := collect(t, one.Stream(ctx, userReq("q")))
	if len(chunks) != 2 || chunks[0].Text != text || r.Text() != text {
		t.Errorf("without replay: %d chunks", len(chunks))
	}
}

func TestStreamStoresOnlyComplete(t *testing.T) {
	boom := errors.New("boom")
	ctx := t.Context()

	t.Run("error mid-stream", func(t *testing.T) {
		inner := dspytest.NewScriptedLM().Push(dspytest.Reply{Text: "abcdefghijkl", Err: boom, StreamErrAfter: 4})
		store := cache.NewMemory(10, 0)
		c := cache.Wrap(inner, store)
		var err error
		for _, e := range c.Stream(ctx, userReq("q")) {
			if e != nil {
				err = e
			}
		}
		if !errors.Is(err, boom) {
			t.Fatalf("err = %v", err)
		}
		if store.Len() != 0 {
			t.Error("a failed stream was stored")
		}
	})

	t.Run("consumer break", func(t *testing.T) {
		inner := dspytest.NewScriptedLM("abcdefghijkl")
		store := cache.NewMemory(10, 0)
		c := cache.Wrap(inner, store)
		n := 0
		for _, err := range c.Stream(ctx, userReq("q")) {
			if err != nil {
				t.Fatal(err)
			}
			n++
			if n == 2 {
				break
			}
		}
		if store.Len() != 0 {
			t.Error("a stream cut short by break was stored")
		}
	})

	t.Run("break on a replay", func(t *testing.T) {
		c := cache.Wrap(dspytest.Repeat("abcdefghijklmnopqrstuvwxyz"), cache.NewMemory(10, 0), cache.WithReplayChunkSize(2))
		collect(t, c.Stream(ctx, userReq("q")))
		n := 0
		for range c.Stream(ctx, userReq("q")) {
			n++
			if n == 3 {
				break
			}
		}
		if n != 3 {
			t.Errorf("n = %d", n)
		}
	})

	t.Run("cancelled", func(t *testing.T) {
		inner := dspytest.NewScriptedLM("abcdefghijkl")
		store := cache.NewMemory(10, 0)
		c := cache.Wrap(inner, store)
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		var err error
		for _, e := range c.Stream(cctx, userReq("q")) {
			cancel()
			if e != nil {
				err = e
			}
		}
		if err == nil {
			t.Error("no error after cancel")
		}
		if store.Len() != 0 {
			t.Error("a cancelled stream was stored")
		}
	})
}

// failingStore fails every operation.
type failingStore struct{}

func (failingStore) Get(context.Context, string) ([]byte, bool, error) {
	return nil, false, errors.New("get failed")
}
func (failingStore) Set(context.Context, string, []byte) error { return errors.New("set failed") }

func TestStoreFailureDoesNotFailCalls(t *testing.T) {
	var errs []string
	c := cache.Wrap(echoLM(), failingStore{}, cache.WithErrorFunc(func(err error) { errs = append(errs, err.Error()) }))
	if r, err := c.Generate(t.Context(), userReq("a")); err != nil || r.Text() != "echo: a" {
		t.Fatalf("Generate = %+v, %v", r, err)
	}
	if _, r := collect(t, c.Stream(t.Context(), userReq("a"))); r.Text() != "echo: a" {
		t.Fatalf("Stream text %q", r.Text())
	}
	if want := []string{"get failed", "set failed", "get failed", "set failed"}; !cmp.Equal(want, errs) {
		t.Errorf("reported %v, want %v", errs, want)
	}
}

func TestCorruptValueIsAMiss(t *testing.T) {
	store := cache.NewMemory(10, 0)
	c := cache.Wrap(echoLM(), store)
	k, _ := c.Key(userReq("a"))
	store.Set(t.Context(), k, []byte("garbage"))
	if r, err := c.Generate(t.Context(), userReq("a")); err != nil || r.CacheHit || r.Text() != "echo: a" {
		t.Fatalf("Generate = %+v, %v", r, err)
	}
	if r, _ := c.Generate(t.Context(), userReq("a")); !r.CacheHit {
		t.Error("the good reply did not replace the corrupt entry")
	}
}

func TestCodecRoundTrip(t *testing.T) {
	r := &lm.Response{
		ID: "id", Model: "m",
		Choices: []lm.Choice{
			{Message: lm.Message{Role: lm.RoleAssistant, Content: "héllo", Reasoning: "think", ToolCalls: []lm.ToolCall{{ID: "1", Name: "f", Arguments: "{}"}}, Name: "n"}, FinishReason: "tool_calls"},
			{Message: lm.Message{Role: lm.RoleAssistant, Content: ""}, FinishReason: "stop"},
		},
		Usage: lm.Usage{PromptTokens: 1, CompletionTokens: 2, TotalTokens: 3, CachedTokens: 4, ReasoningTokens: 5},
	}
	b := cache.EncodeResponse(r)
	got, err := cache.DecodeResponse(b)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(r, got); d != "" {
		t.Errorf("round trip (-want +got):\n%s", d)
	}
	for i := range len(b) {
		if _, err := cache.DecodeResponse(b[:i]); !errors.Is(err, cache.ErrCorrupt) {
			t.Errorf("truncated to %d: err = %v", i, err)
		}
	}
	if _, err := cache.DecodeResponse(append(b, 0)); !errors.Is(err, cache.ErrCorrupt) {
		t.Errorf("trailing byte: err = %v", err)
	}
}

func FuzzDecodeResponse(f *testing.F) {
	f.Add(cache.EncodeResponse(&lm.Response{ID: "x", Choices: []lm.Choice{{Message: lm.Message{Content: "hi"}}}}))
	f.Add([]byte{1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := cache.DecodeResponse(b)
		if err != nil {
			return
		}
		// What decodes survives a round trip.
		again, err := cache.DecodeResponse(cache.EncodeResponse(r))
		if err != nil {
			t.Fatalf("re-encoded response does not decode: %v", err)
		}
		if d := cmp.Diff(r, again); d != "" {
			t.Errorf("round trip (-first +second):\n%s", d)
		}
	})
}

func ExampleWrap() {
	model := dspytest.Repeat("Paris")
	cached := cache.Wrap(model, cache.NewMemory(1000, 64<<20))
	req := &lm.Request{Messages: []lm.Message{{Role: lm.RoleUser, Content: "Capital of France?"}}}
	for range 2 {
		r, _ := cached.Generate(context.Background(), req)
		fmt.Println(r.Text(), r.CacheHit, r.Usage.TotalTokens)
	}
	// Output:
	// Paris false 7
	// Paris true 0
}

type endpointLM struct {
	lm.LM
	url string
}

func (e endpointLM) BaseURL() string { return e.url }

// The endpoint enters the key: found on the wrapped LM, or given.
func TestKeyEndpoint(t *testing.T) {
	key := func(m lm.LM, opts ...cache.Option) string {
		k, err := cache.Wrap(m, cache.NewMemory(1, 0), opts...).Key(baseRequest())
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	a := key(endpointLM{echoLM(), "http://a/v1"})
	if b := key(endpointLM{echoLM(), "http://b/v1"}); a == b {
		t.Error("LMs at different endpoints share a key")
	}
	if same := key(endpointLM{echoLM(), "http://a/v1/"}); a != same {
		t.Error("a trailing slash changed the key")
	}
	if given := key(echoLM(), cache.WithEndpoint("http://a/v1")); a != given {
		t.Error("WithEndpoint and a discovered BaseURL of the same URL give different keys")
	}
	if none := key(echoLM()); none == a {
		t.Error("an LM with no endpoint shares a key with one at http://a/v1")
	}
}
