package openai_test

import (
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/lm/cache"
	"github.com/godspy/dspy/lm/history"
	"github.com/godspy/dspy/streaming"
)

// responsesServer answers POST /v1/responses with body, written in small
// random pieces, and keeps the request bodies; any other path is a 404.
func responsesServer(t *testing.T, body []byte) (*httptest.Server, func() [][]byte) {
	var mu sync.Mutex
	var reqs [][]byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		reqs = append(reqs, b)
		mu.Unlock()
		if r.URL.Path != "/v1/responses" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		rc := http.NewResponseController(w)
		rng := rand.New(rand.NewPCG(uint64(len(reqs)), 2))
		for rest := body; len(rest) > 0; {
			n := min(len(rest), 1+rng.IntN(40))
			w.Write(rest[:n])
			rc.Flush()
			rest = rest[n:]
		}
	}))
	t.Cleanup(srv.Close)
	return srv, func() [][]byte {
		mu.Lock()
		defer mu.Unlock()
		return append([][]byte(nil), reqs...)
	}
}

// TestResponsesPredictStreamify runs a dspy.Predict with the JSON adapter,
// selected by NewLM as "openai/responses/gpt-4o", through
// streaming.Streamify against a server replaying a real Responses stream
// (gpt-4o's structured output {"title":"THE NAME OF THE WIND",…}): the
// listener's chunks of the title are the stream's deltas of the title, and
// the final prediction has every field parsed.
func TestResponsesPredictStreamify(t *testing.T) {
	srv, requests := responsesServer(t, readResponses(t, "openai_gpt-4o_json-schema-text.sse"))
	hist := history.New(4)
	model, err := dspy.NewLM("openai/responses/gpt-4o", dspy.WithBaseURL(srv.URL+"/v1"), dspy.WithAPIKey("sk-test"), dspy.WithCache(nil), dspy.WithLMHistory(hist))
	if err != nil {
		t.Fatal(err)
	}
	ctx := dspy.WithSettings(context.Background(), dspy.WithLM(model), dspy.WithAdapter(dspy.JSONAdapter{}))
	prog := streaming.MustStreamify(dspy.NewPredict("question -> title: str, author: dict[str, str], rating: int"),
		streaming.WithListeners(streaming.NewListener("title")))

	type chunk struct {
		Field, Chunk string
		Last         bool
	}
	var chunks []chunk
	var final *dspy.Prediction
	for ev, err := range prog.Stream(ctx, dspy.Inputs{"question": "Please recommend the most popular book by Patrick Rothfuss"}) {
		if err != nil {
			t.Fatal(err)
		}
		switch e := ev.(type) {
		case *streaming.StreamResponse:
			chunks = append(chunks, chunk{e.SignatureFieldName, e.Chunk, e.IsLastChunk})
		case *streaming.Final:
			final = e.Prediction
		}
	}
	want := []chunk{
		{"title", "THE", false}, {"title", " NAME", false}, {"title", " OF", false}, {"title", " THE", false}, {"title", " WIND", false},
		{"title", "", true},
	}
	if diff := cmp.Diff(want, chunks); diff != "" {
		t.Errorf("streamed chunks: -want +got\n%s", diff)
	}
	if final == nil {
		t.Fatal("no Final event")
	}
	got := map[string]any{"title": final.Get("title"), "author": final.Get("author"), "rating": final.Get("rating")}
	wantPred := map[string]any{"title": "THE NAME OF THE WIND", "author": map[string]any{"first_name": "Patrick", "last_name": "Rothfuss"}, "rating": 7}
	if diff := cmp.Diff(wantPred, got); diff != "" {
		t.Errorf("prediction: -want +got\n%s", diff)
	}
	if e := hist.Last(1); len(e) != 1 || !e[0].Stream || e[0].Usage != (lm.Usage{PromptTokens: 166, CompletionTokens: 30, TotalTokens: 196}) || e[0].Model != "gpt-4o" {
		t.Errorf("history %+v, want the streamed call with the recorded usage", e)
	}

	// What the Predict sent: a Responses streaming request with the
	// adapter's system and user messages and its structured-output format.
	reqs := requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	var body struct {
		Model  string `json:"model"`
		Stream bool   `json:"stream"`
		Store  *bool  `json:"store"`
		Input  []struct {
			Role    string `json:"role"`
			Content []struct {
				Type string `json:"type"`
			} `json:"content"`
		} `json:"input"`
		Text struct {
			Format struct {
				Type string `json:"type"`
			} `json:"format"`
		} `json:"text"`
	}
	if err := json.Unmarshal(reqs[0], &body); err != nil {
		t.Fatal(err)
	}
	if body.Model != "gpt-4o" || !body.Stream || body.Store == nil || *body.Store || len(body.Input) != 2 ||
		body.Input[0].Role != "system" || body.Input[1].Role != "user" || body.Input[1].Content[0].Type != "input_text" || body.Text.Format.Type == "" {
		t.Errorf("request %s", reqs[0])
	}
}

// TestNewLMResponses: "openai/responses/MODEL" selects the Responses API
// with the model's own name on the wire; "openai/MODEL" stays on chat
// completions; the two share no cache entries in one store.
func TestNewLMResponses(t *testing.T) {
	var paths []string
	var mu sync.Mutex
	text := readResponses(t, "openai_gpt-4o_text_blocking.json")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b struct{ Model string }
		json.NewDecoder(r.Body).Decode(&b)
		mu.Lock()
		paths = append(paths, r.URL.Path+" "+b.Model)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/v1/responses" {
			w.Write(text)
			return
		}
		io.WriteString(w, `{"id":"c","model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"chat"},"finish_reason":"stop"}]}`)
	}))
	defer srv.Close()
	store := cache.NewMemory(100, 1<<20)
	opts := []dspy.LMOption{dspy.WithBaseURL(srv.URL + "/v1"), dspy.WithAPIKey("sk-test"), dspy.WithCache(store)}
	resp, err := dspy.NewLM("openai/responses/gpt-4o", opts...)
	if err != nil {
		t.Fatal(err)
	}
	chat, err := dspy.NewLM("openai/gpt-4o", opts...)
	if err != nil {
		t.Fatal(err)
	}
	req := &lm.Request{Messages: []lm.Message{{Role: lm.RoleUser, Content: "What is 4200 + 42?"}}}
	for range 2 {
		for _, m := range []lm.LM{resp, chat} {
			if _, err := m.Generate(t.Context(), req); err != nil {
				t.Fatal(err)
			}
		}
	}
	r1, _ := resp.Generate(t.Context(), req)
	r2, _ := chat.Generate(t.Context(), req)
	if r1.Text() != "4200 + 42 equals 4242." || r2.Text() != "chat" || !r1.CacheHit || !r2.CacheHit {
		t.Errorf("responses %q (hit %v), chat %q (hit %v)", r1.Text(), r1.CacheHit, r2.Text(), r2.CacheHit)
	}
	if diff := cmp.Diff([]string{"/v1/responses gpt-4o", "/v1/chat/completions gpt-4o"}, paths); diff != "" {
		t.Errorf("requests: -want +got\n%s", diff)
	}
	if p, m := lm.Identify(resp); p != "openai" || m != "gpt-4o" {
		t.Errorf("Identify = %q, %q", p, m)
	}
}
