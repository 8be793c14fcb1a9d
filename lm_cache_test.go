package dspy

import (
	"context"
	"strings"
	"testing"

	"github.com/godspy/dspy/dspytest"
	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/lm/cache"
	"github.com/godspy/dspy/lm/history"
)

// findLM looks through m's wrappers (Unwrap) for an LM of type T.
func findLM[T lm.LM](m lm.LM) (T, bool) {
	for m != nil {
		if t, ok := m.(T); ok {
			return t, true
		}
		u, ok := m.(interface{ Unwrap() lm.LM })
		if !ok {
			break
		}
		m = u.Unwrap()
	}
	var zero T
	return zero, false
}

func hiRequest() *lm.Request {
	return &lm.Request{Messages: []lm.Message{{Role: lm.RoleUser, Content: "hi"}}}
}

func TestNewLMCachesByDefault(t *testing.T) {
	clearLMEnv(t)
	srv := dspytest.NewServer()
	defer srv.Close()
	ctx := t.Context()

	m, err := NewLM("openai/m", WithBaseURL(srv.URL()), WithAPIKey("sk-a"))
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := findLM[*cache.LM](m); !ok || c.Provider() != "openai" || c.Model() != "m" {
		t.Fatalf("NewLM = %T, want a cache.LM for openai/m", m)
	}
	first, _ := m.Generate(ctx, hiRequest())
	second, err := m.Generate(ctx, hiRequest())
	if err != nil || first.CacheHit || !second.CacheHit || second.Text() != first.Text() {
		t.Fatalf("default cache: first hit=%v, second hit=%v, %v", first.CacheHit, second.CacheHit, err)
	}
	if n := len(srv.Requests()); n != 1 {
		t.Errorf("server saw %d requests, want 1", n)
	}

	off, _ := NewLM("openai/m", WithBaseURL(srv.URL()), WithAPIKey("sk-a"), WithCache(nil))
	if _, ok := findLM[*cache.LM](off); ok {
		t.Error("WithCache(nil) still caches")
	}
}

func TestNewLMSharedStore(t *testing.T) {
	clearLMEnv(t)
	srv := dspytest.NewServer()
	defer srv.Close()
	ctx := t.Context()
	store := cache.NewMemory(100, 0)
	mk := func(opts ...LMOption) lm.LM {
		m, err := NewLM("openai/m", append([]LMOption{WithBaseURL(srv.URL()), WithCache(store)}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	mk(WithAPIKey("sk-one")).Generate(ctx, hiRequest())
	if r, _ := mk(WithAPIKey("sk-two")).Generate(ctx, hiRequest()); !r.CacheHit {
		t.Error("another API key missed the shared cache")
	}
	if r, _ := mk(WithAPIKey("sk-one"), WithTemperature(0.9)).Generate(ctx, hiRequest()); r.CacheHit {
		t.Error("an LM with another default temperature hit")
	}
	if r, _ := mk(WithAPIKey("sk-one"), WithMaxTokens(5)).Generate(ctx, hiRequest()); r.CacheHit {
		t.Error("an LM with another default max tokens hit")
	}
	req := hiRequest()
	req.NoCache = true
	if r, _ := mk(WithAPIKey("sk-one")).Generate(ctx, req); r.CacheHit {
		t.Error("NoCache hit")
	}
}

func TestHistoryDefaultAndScoped(t *testing.T) {
	if h := CurrentLMHistory(context.Background()); h != nil {
		t.Errorf("process default history = %v, want none (history is opt-in)", h)
	}
	var out strings.Builder
	inspectHistory(&out, 3)
	if got, want := out.String(), noHistoryHint+"\n"; got != want || !strings.Contains(got, "dspy.Configure(dspy.WithLMHistory(history.New(history.DefaultSize)))") {
		t.Errorf("InspectHistory with no history printed %q, want the hint %q", got, want)
	}

	model := cache.Wrap(dspytest.Repeat(dspytest.ChatReply("answer", "4")), cache.NewMemory(10, 0))
	h := history.New(5)
	ctx := WithSettings(t.Context(), WithLMHistory(h), WithLM(model))
	p := NewPredict("question -> answer")
	for range 2 {
		pred, err := p.Call(ctx, Inputs{"question": "2+2?"})
		if err != nil {
			t.Fatal(err)
		}
		if pred.Get("answer") != "4" {
			t.Fatalf("answer %v", pred.Get("answer"))
		}
	}
	es := h.Last(0)
	if len(es) != 2 {
		t.Fatalf("%d entries, want 2", len(es))
	}
	if es[0].CacheHit || es[0].Usage.IsZero() || !es[1].CacheHit || !es[1].Usage.IsZero() {
		t.Errorf("entries: hit %v usage %+v, then hit %v usage %+v", es[0].CacheHit, es[0].Usage, es[1].CacheHit, es[1].Usage)
	}
	if len(es[0].Messages) < 2 || !strings.Contains(es[0].Messages[len(es[0].Messages)-1].Content, "2+2?") {
		t.Errorf("entry messages %+v", es[0].Messages)
	}

	// WithLMHistory(nil) keeps none.
	off := WithSettings(ctx, WithLMHistory(nil))
	if CurrentLMHistory(off) != nil {
		t.Error("WithLMHistory(nil) left a history")
	}
	p.Call(off, Inputs{"question": "2+2?"})
	if h.Len() != 2 {
		t.Errorf("a call without history was recorded")
	}
}

func TestPredictUsageOnCacheHit(t *testing.T) {
	model := cache.Wrap(dspytest.Repeat(dspytest.ChatReply("answer", "4")), cache.NewMemory(10, 0))
	p := NewPredict("question -> answer", WithLM(model))
	ctx := t.Context()
	miss, err := p.Call(ctx, Inputs{"question": "q"})
	if err != nil || miss.Usage.IsZero() {
		t.Fatalf("miss: usage %+v, %v", miss.Usage, err)
	}
	hit, err := p.Call(ctx, Inputs{"question": "q"})
	if err != nil || !hit.Usage.IsZero() {
		t.Errorf("hit: usage %+v, %v; want zero", hit.Usage, err)
	}
}

func TestLMHistoryHasNoAPIKey(t *testing.T) {
	clearLMEnv(t)
	const key = "sk-very-secret-key"
	srv := dspytest.NewServer(dspytest.WithRequiredAPIKey(key))
	defer srv.Close()
	h := history.New(10)
	m, err := NewLM("openai/m", WithBaseURL(srv.URL()), WithAPIKey(key), WithLMHistory(h))
	if err != nil {
		t.Fatal(err)
	}
	if LMHistory(m) != h {
		t.Fatal("LMHistory does not find the LM's history")
	}
	bad, _ := NewLM("openai/m", WithBaseURL(srv.URL()), WithAPIKey("sk-wrong-key"), WithLMHistory(h), WithCache(nil))
	m.Generate(t.Context(), hiRequest())
	m.Generate(t.Context(), hiRequest())
	lm.Collect(bad.Stream(t.Context(), hiRequest()))
	if h.Len() != 3 {
		t.Fatalf("%d entries, want 3", h.Len())
	}
	es := h.Last(0)
	if es[0].CacheHit || !es[1].CacheHit || es[2].Err == nil {
		t.Errorf("entries: hit %v, %v; err %v", es[0].CacheHit, es[1].CacheHit, es[2].Err)
	}
	var b strings.Builder
	h.Inspect(&b, 0)
	for _, secret := range []string{key, "sk-wrong-key"} {
		if strings.Contains(b.String(), secret) {
			t.Errorf("history shows the API key %q:\n%s", secret, b.String())
		}
	}
	if !strings.Contains(b.String(), "User message:") || !strings.Contains(b.String(), "Response:") || !strings.Contains(b.String(), "cache hit") {
		t.Errorf("Inspect output:\n%s", b.String())
	}
	if LMHistory(dspytest.Repeat("x")) != nil {
		t.Error("LMHistory of a bare LM is not nil")
	}
}

// Two OpenAI-compatible servers that serve the same model name share a
// store but never each other's replies: the base URL is part of the key.
func TestNewLMSharedStoreKeysOnBaseURL(t *testing.T) {
	clearLMEnv(t)
	local := dspytest.NewServer(dspytest.WithResponder(func(*dspytest.ChatRequest) dspytest.Answer { return dspytest.Answer{Text: "from local vLLM"} }))
	defer local.Close()
	hosted := dspytest.NewServer(dspytest.WithResponder(func(*dspytest.ChatRequest) dspytest.Answer { return dspytest.Answer{Text: "from hosted"} }))
	defer hosted.Close()
	store := cache.NewMemory(100, 0)
	for _, tc := range []struct{ url, want string }{
		{local.URL(), "from local vLLM"}, {hosted.URL(), "from hosted"}, {local.URL() + "/", "from local vLLM"},
	} {
		m, err := NewLM("openai/same-model", WithBaseURL(tc.url), WithAPIKey("sk-x"), WithCache(store))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := m.Generate(t.Context(), hiRequest())
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.Text(); got != tc.want {
			t.Errorf("LM at %s answered %q, want %q (cache hit: %v)", tc.url, got, tc.want, resp.CacheHit)
		}
	}
	if n := len(local.Requests()) + len(hosted.Requests()); n != 2 {
		t.Errorf("servers saw %d requests, want 2 (one each; the trailing-slash URL is a hit)", n)
	}
}
