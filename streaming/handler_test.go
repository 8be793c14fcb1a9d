package streaming_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/dspytest"
	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/lm/openai"
	"github.com/godspy/dspy/streaming"
	"github.com/google/go-cmp/cmp"
)

type sseEvent struct{ id, name, data string }

func readSSE(t *testing.T, r io.Reader) []sseEvent {
	t.Helper()
	var out []sseEvent
	var cur sseEvent
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			out = append(out, cur)
			cur = sseEvent{}
		case strings.HasPrefix(line, "id: "):
			cur.id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "event: "):
			cur.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			cur.data = strings.TrimPrefix(line, "data: ")
		}
	}
	return out
}

func serve(t *testing.T, h http.Handler) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func withLM(h http.Handler, m *dspytest.ScriptedLM) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(dspy.WithSettings(r.Context(), dspy.WithLM(m))))
	})
}

func TestHandlerStreamsEvents(t *testing.T) {
	model := dspytest.NewScriptedLM(dspytest.ChatReply("reasoning", "Think.", "answer", `Say "hi" <b>`))
	model.ChunkSize = 4
	prog := streaming.MustStreamify(dspy.NewChainOfThought("question -> answer"),
		streaming.WithListeners(streaming.NewListener("answer")),
		streaming.WithStatus(customStatus{}))
	srv := serve(t, withLM(streaming.Handler(prog), model))

	resp, err := http.Post(srv.URL, "application/json", strings.NewReader(`{"question": "Hello?"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type = %q", ct)
	}
	events := readSSE(t, resp.Body)
	var names []string
	var answer string
	for _, e := range events {
		names = append(names, e.name)
		if e.name == "chunk" {
			var c struct {
				PredictName string `json:"predict_name"`
				Field       string `json:"signature_field_name"`
				Chunk       string `json:"chunk"`
				Last        bool   `json:"is_last_chunk"`
			}
			if err := json.Unmarshal([]byte(e.data), &c); err != nil {
				t.Fatal(err)
			}
			if c.PredictName != "predict" || c.Field != "answer" {
				t.Errorf("chunk %+v", c)
			}
			answer += c.Chunk
		}
	}
	if answer != `Say "hi" <b>` {
		t.Errorf("streamed answer %q", answer)
	}
	if names[0] != "status" || names[len(names)-2] != "prediction" || events[len(events)-1].data != "[DONE]" {
		t.Errorf("event names %q", names)
	}
	// Not HTML-escaped: "<b>" arrives as it was written, not as \u003cb\u003e.
	want := `{"prediction":{"reasoning":"Think.","answer":"Say \"hi\" <b>"},"usage":{"prompt_tokens":` +
		`166,"completion_tokens":21,"total_tokens":187,"cached_tokens":0,"reasoning_tokens":0}}`
	if got := events[len(events)-2].data; got != want {
		t.Errorf("prediction event\n got %s\nwant %s", got, want)
	}
}

// Inputs are checked against the signature's types before any LM call, and
// the message a client gets names the field, the type and what came, never
// a Go type.
func TestHandlerInputTypes(t *testing.T) {
	model := dspytest.Repeat(dspytest.ChatReply("answer", "ok"))
	prog := streaming.MustStreamify(dspy.NewPredict("question, n: int, tags: list[str], mode: Literal['fast', 'slow'] -> answer"),
		streaming.WithListeners(streaming.NewListener("answer")))
	srv := serve(t, withLM(streaming.Handler(prog), model))
	for _, tt := range []struct {
		name, body, msg string
	}{
		{"string for int", `{"question": "q", "n": "not a number", "tags": [], "mode": "fast"}`, `input field "n" must be int, got a string: "not a number"`},
		{"float for int", `{"question": "q", "n": 2.5, "tags": [], "mode": "fast"}`, `input field "n" must be int, got a number: 2.5`},
		{"array for str", `{"question": ["a"], "n": 1, "tags": [], "mode": "fast"}`, `input field "question" must be str, got an array`},
		{"object for list", `{"question": "q", "n": 1, "tags": {"a": 1}, "mode": "fast"}`, `input field "tags" must be list[str], got an object`},
		{"bad list item", `{"question": "q", "n": 1, "tags": ["a", 2], "mode": "fast"}`, `input field "tags" must be list[str], got an array whose item 1 is a number: 2`},
		{"null", `{"question": null, "n": 1, "tags": [], "mode": "fast"}`, `input field "question" must be str, got null`},
		{"literal", `{"question": "q", "n": 1, "tags": [], "mode": "medium"}`, `input field "mode" must be Literal['fast', 'slow'], got a string: "medium" (not one of the allowed values)`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.Post(srv.URL, "application/json", strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var got struct{ Error string }
			json.NewDecoder(resp.Body).Decode(&got)
			if resp.StatusCode != 400 || got.Error != tt.msg {
				t.Errorf("POST %s = %d %q, want 400 %q", tt.body, resp.StatusCode, got.Error, tt.msg)
			}
		})
	}
	if n := len(model.Requests()); n != 0 {
		t.Errorf("the LM got %d requests for bad inputs, want 0", n)
	}
	// A numeric string is an int, as in pydantic's lax mode.
	resp, err := http.Post(srv.URL, "application/json", strings.NewReader(`{"question": "q", "n": "7", "tags": ["x"], "mode": "slow"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("good inputs: status %d", resp.StatusCode)
	}
}

func TestHandlerBadRequests(t *testing.T) {
	prog := streaming.MustStreamify(dspy.NewPredict("question -> answer"), streaming.WithListeners(streaming.NewListener("answer")))
	srv := serve(t, withLM(streaming.Handler(prog, streaming.WithMaxBodyBytes(64)), dspytest.Repeat("unused")))
	tests := []struct {
		name, body string
		code       int
		msg        string
	}{
		{"missing field", `{}`, 400, `missing input field "question"`},
		{"unknown field", `{"question": "q", "extra": 1}`, 400, `unknown input field "extra"`},
		{"not json", `question=q`, 400, "request body is not valid JSON (invalid character 'q' looking for beginning of value at byte 1): send a JSON object of inputs"},
		{"array", `["q"]`, 400, "request body must be a JSON object of inputs, not an array"},
		{"string", `"q"`, 400, "request body must be a JSON object of inputs, not a string"},
		{"null", `null`, 400, "request body must be a JSON object of inputs, not null"},
		{"empty", ``, 400, "request body is empty: send a JSON object of inputs"},
		{"too large", `{"question": "` + strings.Repeat("x", 100) + `"}`, 413, "request body is over the limit of 64 bytes"},
		{"trailing data", `{"question": "q"} {}`, 400, "request body has data after the JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.Post(srv.URL, "application/json", strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var got struct{ Error string }
			json.NewDecoder(resp.Body).Decode(&got)
			if resp.StatusCode != tt.code || got.Error != tt.msg {
				t.Errorf("POST %s = %d %q, want %d %q", tt.body, resp.StatusCode, got.Error, tt.code, tt.msg)
			}
		})
	}
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET = %d, want 405", resp.StatusCode)
	}
}

func TestHandlerCustomModuleInputErrorIs400(t *testing.T) {
	// No declared inputs: the run's own input check answers before any
	// event is written.
	prog := streaming.MustStreamify(&pipeline{A: dspy.NewPredict("q -> answer"), B: dspy.NewChainOfThought("q -> answer")},
		streaming.WithListeners(streaming.NewListener("answer", streaming.WithPredictName("a"))))
	srv := serve(t, withLM(streaming.Handler(prog), dspytest.Repeat("unused")))
	resp, err := http.Post(srv.URL, "application/json", strings.NewReader(`{"question": "wrong name"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct{ Error string }
	json.NewDecoder(resp.Body).Decode(&got)
	if resp.StatusCode != 400 || !strings.Contains(got.Error, `missing input field "q"`) {
		t.Errorf("got %d %q, want 400 naming the field", resp.StatusCode, got.Error)
	}
}

// TestHandlerDisconnectCancelsLMRequest runs the whole path: SSE client ->
// Handler -> Predict -> OpenAI-wire client -> test LM server, and checks
// that a client leaving mid-stream reaches the LM server as a disconnect.
func TestHandlerDisconnectCancelsLMRequest(t *testing.T) {
	lmSrv := dspytest.NewServer(
		dspytest.WithAnswers(dspytest.Answer{Text: dspytest.ChatReply("answer", strings.Repeat("token ", 2000))}),
		dspytest.WithChunkBytes(6), dspytest.WithChunkDelay(2*time.Millisecond))
	defer lmSrv.Close()
	model := openai.New("test-model", openai.WithBaseURL(lmSrv.URL()), openai.WithAPIKey("sk-test"))

	prog := streaming.MustStreamify(dspy.NewPredict("question -> answer"), streaming.WithListeners(streaming.NewListener("answer")))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		streaming.Handler(prog).ServeHTTP(w, r.WithContext(dspy.WithSettings(r.Context(), dspy.WithLM(model))))
	})
	srv := serve(t, h)

	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL, strings.NewReader(`{"question": "long?"}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(resp.Body)
	for range 10 { // read a few events, then leave
		if _, err := br.ReadString('\n'); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	resp.Body.Close()

	deadline := time.Now().Add(5 * time.Second)
	for lmSrv.Disconnects() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the LM server never saw the request cancelled")
		}
		time.Sleep(5 * time.Millisecond)
	}
	for lmSrv.Active() != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := lmSrv.Active(); n != 0 {
		t.Errorf("%d LM requests still active", n)
	}
}

// A client that leaves before the first token cancels the run: the LM
// request is cancelled although the handler never wrote a byte (so no
// failed write can have noticed).
func TestHandlerDisconnectBeforeFirstToken(t *testing.T) {
	lmSrv := dspytest.NewServer(
		dspytest.WithAnswers(dspytest.Answer{Text: dspytest.ChatReply("answer", "late")}),
		dspytest.WithTimeToFirstToken(time.Minute))
	defer lmSrv.Close()
	model := openai.New("test-model", openai.WithBaseURL(lmSrv.URL()), openai.WithAPIKey("sk-test"))
	prog := streaming.MustStreamify(dspy.NewPredict("question -> answer"), streaming.WithListeners(streaming.NewListener("answer")))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		streaming.Handler(prog).ServeHTTP(w, r.WithContext(dspy.WithSettings(r.Context(), dspy.WithLM(model))))
	})
	srv := serve(t, h)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL, strings.NewReader(`{"question": "slow?"}`))
	errc := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	waitFor(t, 5*time.Second, "the LM request to arrive", func() bool { return lmSrv.Active() == 1 })
	cancel() // the client leaves; nothing has been written to it
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("client: %v, want its own cancellation", err)
	}
	waitFor(t, 5*time.Second, "the LM server to see the request cancelled", func() bool { return lmSrv.Disconnects() == 1 })
	waitFor(t, 5*time.Second, "no LM request left active", func() bool { return lmSrv.Active() == 0 })
}

// waitFor polls cond until it holds, failing with what it waited for after
// d: a bounded wait, never a hang.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", d, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestBreakCancelsHTTPStream(t *testing.T) {
	lmSrv := dspytest.NewServer(
		dspytest.WithAnswers(dspytest.Answer{Text: dspytest.ChatReply("answer", strings.Repeat("token ", 2000))}),
		dspytest.WithChunkBytes(6), dspytest.WithChunkDelay(time.Millisecond))
	defer lmSrv.Close()
	model := openai.New("test-model", openai.WithBaseURL(lmSrv.URL()), openai.WithAPIKey("sk-test"))
	prog := streaming.MustStreamify(dspy.NewPredict("question -> answer"), streaming.WithListeners(streaming.NewListener("answer")))
	ctx := dspy.WithSettings(context.Background(), dspy.WithLM(model))
	var got []string
	for ev, err := range prog.Stream(ctx, dspy.Inputs{"question": "q"}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ev.(*streaming.StreamResponse).Chunk)
		if len(got) == 5 {
			break
		}
	}
	if d := cmp.Diff(5, len(got)); d != "" {
		t.Error(d)
	}
	deadline := time.Now().Add(5 * time.Second)
	for lmSrv.Disconnects() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if lmSrv.Disconnects() == 0 {
		t.Fatal("break did not cancel the LM's HTTP request")
	}
}

// An error event says what failed in user-facing terms; the cause (here a
// refused connection to the provider's address) is added only with
// WithErrorDetail, as dspy serve does on loopback.
func TestHandlerErrorDetail(t *testing.T) {
	model := openai.New("gpt-test", openai.WithBaseURL("http://127.0.0.1:1/v1"), openai.WithAPIKey("sk-secret"), openai.WithRetry(lm.NoRetry()))
	prog := streaming.MustStreamify(dspy.NewPredict("question -> answer"), streaming.WithListeners(streaming.NewListener("answer")))
	for _, detail := range []bool{false, true} {
		t.Run(fmt.Sprint(detail), func(t *testing.T) {
			h := streaming.Handler(prog, streaming.WithErrorDetail(detail), streaming.WithLogger(slog.New(slog.DiscardHandler)))
			srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				ctx := dspy.WithSettings(r.Context(), dspy.WithLM(model))
				h.ServeHTTP(w, r.WithContext(ctx))
			}))
			resp, err := http.Post(srv.URL, "application/json", strings.NewReader(`{"question": "Hi"}`))
			if err != nil {
				t.Fatal(err)
			}
			events := readSSE(t, resp.Body)
			resp.Body.Close()
			if len(events) != 2 || events[0].name != "error" {
				t.Fatalf("events %v, want error, [DONE]", events)
			}
			var e struct{ Error, Detail string }
			if err := json.Unmarshal([]byte(events[0].data), &e); err != nil {
				t.Fatal(err)
			}
			if e.Error != "the language model provider failed; try again" {
				t.Errorf("error %q", e.Error)
			}
			if detail != strings.Contains(e.Detail, "connection refused") || detail != strings.Contains(e.Detail, "127.0.0.1:1") {
				t.Errorf("detail %q with WithErrorDetail(%v)", e.Detail, detail)
			}
			if strings.Contains(events[0].data, "sk-secret") {
				t.Errorf("the API key reached the client: %s", events[0].data)
			}
		})
	}
}

// A History input may be left out of the body: the first turn has none.
// Sent, it reaches the adapter as earlier turns.
func TestHandlerHistoryInput(t *testing.T) {
	model := dspytest.Repeat(dspytest.ChatReply("answer", "ok"))
	prog := streaming.MustStreamify(dspy.NewPredict("question, history: History -> answer"), streaming.WithListeners(streaming.NewListener("answer")))
	srv := serve(t, withLM(streaming.Handler(prog), model))
	for _, body := range []string{
		`{"question": "Why?"}`,
		`{"question": "Why?", "history": {"messages": [{"question": "What is 2+2?", "answer": "4"}]}}`,
	} {
		resp, err := http.Post(srv.URL, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		events := readSSE(t, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || events[len(events)-2].name != "prediction" {
			t.Fatalf("%s: status %d, events %v", body, resp.StatusCode, events)
		}
	}
	reqs := model.Requests()
	if n := len(reqs[0].Messages); n != 2 {
		t.Errorf("first turn: %d messages, want system and user", n)
	}
	if n := len(reqs[1].Messages); n != 4 || !strings.Contains(reqs[1].Messages[1].Content, "What is 2+2?") || reqs[1].Messages[2].Role != lm.RoleAssistant {
		t.Errorf("with history: %d messages %v, want the earlier turn as a user and an assistant message", n, reqs[1].Messages)
	}
}
