package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// newTestServer serves the default program on the demo LM; it returns the
// server and its log.
func newTestServer(t *testing.T, delay time.Duration, debug bool) (*httptest.Server, *server, *syncBuffer) {
	t.Helper()
	pf := programFlags{module: "cot", signature: "question -> answer", lmName: "demo", adapter: "chat", demoDelay: delay, timeout: time.Minute}
	prog, err := buildProgram(pf, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	s := newServer(prog, slog.New(slog.NewTextHandler(logs, nil)), debug)
	ts := httptest.NewServer(s.handler())
	t.Cleanup(ts.Close)
	return ts, s, logs
}

// syncBuffer is a bytes.Buffer safe for a logger and a test at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type sseEvent struct{ id, event, data string }

// readSSE reads events until [DONE] or the end of the body.
func readSSE(t *testing.T, body io.Reader) []sseEvent {
	t.Helper()
	var events []sseEvent
	var cur sseEvent
	sc := bufio.NewScanner(body)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			events = append(events, cur)
			if cur.data == "[DONE]" {
				return events
			}
			cur = sseEvent{}
		case strings.HasPrefix(line, "event: "):
			cur.event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			cur.data = strings.TrimPrefix(line, "data: ")
		}
	}
	return events
}

func TestServeStream(t *testing.T) {
	ts, s, logs := newTestServer(t, 0, false)
	res, err := http.Post(ts.URL+"/v1/stream", "application/json", strings.NewReader(`{"question": "What causes ocean tides?"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); res.StatusCode != 200 || ct != "text/event-stream" {
		t.Fatalf("status %d, Content-Type %q; want 200 text/event-stream", res.StatusCode, ct)
	}
	events := readSSE(t, res.Body)
	kinds := map[string]int{}
	var answer strings.Builder
	for i, ev := range events {
		kinds[ev.event]++
		switch ev.event {
		case "chunk":
			var c struct {
				Field string `json:"signature_field_name"`
				Chunk string `json:"chunk"`
			}
			if err := json.Unmarshal([]byte(ev.data), &c); err != nil {
				t.Fatalf("chunk %q: %v", ev.data, err)
			}
			if c.Field == "answer" {
				answer.WriteString(c.Chunk)
			}
		case "prediction":
			var p struct {
				Prediction map[string]string `json:"prediction"`
			}
			if err := json.Unmarshal([]byte(ev.data), &p); err != nil {
				t.Fatalf("prediction %q: %v", ev.data, err)
			}
			if p.Prediction["answer"] != answer.String() || answer.Len() == 0 {
				t.Errorf("prediction answer %q, streamed %q", p.Prediction["answer"], answer.String())
			}
			if i != len(events)-2 {
				t.Errorf("prediction is event %d of %d, want the one before [DONE]", i, len(events))
			}
		}
	}
	if events[0].event != "status" || kinds["chunk"] < 10 || kinds["prediction"] != 1 || events[len(events)-1].data != "[DONE]" {
		t.Errorf("events: first %+v, kinds %v, last %+v", events[0], kinds, events[len(events)-1])
	}
	waitFor(t, "the run to be counted", func() bool { return s.stats.completed.Load() == 1 })
	if !strings.Contains(logs.String(), "run finished") {
		t.Errorf("log %q lacks run finished", logs.String())
	}
}

func TestServeBadInput(t *testing.T) {
	ts, _, _ := newTestServer(t, 0, false)
	res, err := http.Post(ts.URL+"/v1/stream", "application/json", strings.NewReader(`{"topic": "x"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 400 || !strings.Contains(string(body), `missing input field \"question\"`) {
		t.Errorf("got %d %s; want 400 naming the missing field", res.StatusCode, body)
	}
}

func TestServePageAndInfo(t *testing.T) {
	ts, _, _ := newTestServer(t, 0, false)
	for _, tc := range []struct{ path, ctype, contains string }{
		{"/", "text/html; charset=utf-8", "<title>godspy</title>"},
		{"/app.js", "text/javascript; charset=utf-8", "new AbortController()"},
		{"/style.css", "text/css; charset=utf-8", ".turn"},
		{"/v1/info", "application/json", `"demo":true`},
	} {
		res, err := http.Get(ts.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != tc.ctype || !strings.Contains(string(body), tc.contains) {
			t.Errorf("GET %s = %d %q, body has %q: %v; want 200 %q", tc.path, res.StatusCode, res.Header.Get("Content-Type"), tc.contains, strings.Contains(string(body), tc.contains), tc.ctype)
		}
		if tc.path == "/" && !strings.Contains(res.Header.Get("Content-Security-Policy"), "default-src 'self'") {
			t.Errorf("GET / has no Content-Security-Policy")
		}
	}
	for path, want := range map[string]int{"/debug/stats": 404, "/nope": 404} {
		res, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("GET %s = %d, want %d", path, res.StatusCode, want)
		}
	}
	res, err := http.Post(ts.URL+"/", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST / = %d, want 405", res.StatusCode)
	}
}

// A client that goes away mid-stream cancels the run, and the server says
// so in its log and its counters.
func TestServeClientCancel(t *testing.T) {
	ts, s, logs := newTestServer(t, 5*time.Millisecond, true)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", ts.URL+"/v1/stream", strings.NewReader(`{"question": "Explain tides in detail"}`))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() && !strings.HasPrefix(sc.Text(), "event: chunk") {
	}
	cancel()
	res.Body.Close()
	waitFor(t, "the server to count the cancelled run", func() bool { return s.stats.cancelled.Load() == 1 })
	if !strings.Contains(logs.String(), `msg="run cancelled"`) {
		t.Errorf("log %q lacks run cancelled", logs.String())
	}
	res, err = http.Get(ts.URL + "/debug/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var stats map[string]int
	json.NewDecoder(res.Body).Decode(&stats)
	if stats["cancelled"] != 1 || stats["started"] != 1 || stats["completed"] != 0 {
		t.Errorf("/debug/stats = %v, want started 1, cancelled 1, completed 0", stats)
	}
}

// serve shuts down when its context ends, ending the streams in flight.
func TestServeShutdown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	stdout := &syncBuffer{}
	stderr := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--lm", "demo", "--demo-delay", "20ms"}, stdout, stderr, noEnv)
	}()
	var url string
	waitFor(t, "the server to say where it listens", func() bool {
		_, rest, ok := strings.Cut(stdout.String(), "http://")
		url, _, _ = strings.Cut(rest, "/")
		return ok
	})
	if !strings.Contains(firstLine(stdout.String()), "demo LM") {
		t.Errorf("first line %q does not name the demo LM", firstLine(stdout.String()))
	}
	if _, _, err := net.SplitHostPort(url); err != nil {
		t.Fatalf("address %q: %v", url, err)
	}
	res, err := http.Post("http://"+url+"/v1/stream", "application/json", strings.NewReader(`{"question": "Explain tides in detail"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	br := bufio.NewReader(res.Body)
	if _, err := br.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Errorf("serve exited %d, stderr %q", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not shut down within 10 s")
	}
	io.Copy(io.Discard, br) // the stream in flight has ended
	if !strings.Contains(stderr.String(), "shutting down") {
		t.Errorf("stderr %q lacks shutting down", stderr.String())
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// serve's program: by default "question, history: History -> answer",
// with the trace events on; /v1/info names the History input; /api/chat
// speaks the AI SDK's protocol; a question without history is fine.
func TestServeChat(t *testing.T) {
	fs := newFlagSet("serve", "serve", io.Discard)
	var pf programFlags
	pf.register(fs, chatSignature)
	if err := fs.Parse(nil); err != nil || pf.signature != chatSignature {
		t.Fatalf("serve's default signature %q (%v), want %q", pf.signature, err, chatSignature)
	}
	pf = programFlags{module: "react", signature: chatSignature, lmName: "demo", adapter: "chat", tools: "calculator", timeout: time.Minute, traceEvents: true}
	prog, err := buildProgram(pf, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	s := newServer(prog, slog.New(slog.DiscardHandler), false)
	ts := httptest.NewServer(s.handler())
	defer ts.Close()

	res, err := http.Get(ts.URL + "/v1/info")
	if err != nil {
		t.Fatal(err)
	}
	var info programInfo
	json.NewDecoder(res.Body).Decode(&info)
	res.Body.Close()
	if info.History != "history" || info.Signature != "question, history: History -> answer" {
		t.Errorf("/v1/info history %q, signature %q", info.History, info.Signature)
	}

	res, err = http.Post(ts.URL+"/v1/stream", "application/json", strings.NewReader(`{"question": "What is 2+3*4?"}`))
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, ev := range readSSE(t, res.Body) {
		if ev.event != "chunk" && ev.event != "status" && (len(kinds) == 0 || kinds[len(kinds)-1] != ev.event) {
			kinds = append(kinds, ev.event)
		}
	}
	res.Body.Close()
	want := []string{"step_start", "lm_start", "lm_end", "tool_call_start", "tool_call_end", "step_end",
		"step_start", "lm_start", "lm_end", "step_end", "lm_start", "lm_end", "prediction", ""}
	if d := cmp.Diff(want, kinds); d != "" {
		t.Errorf("/v1/stream events (-want +got):\n%s", d)
	}

	body := `{"id": "c", "messages": [{"id": "1", "role": "user", "parts": [{"type": "text", "text": "What is 2+3*4?"}]}], "trigger": "submit-message"}`
	res, err = http.Post(ts.URL+"/api/chat", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.Header.Get("X-Vercel-Ai-Ui-Message-Stream") != "v1" || !strings.Contains(string(b), `"type":"tool-output-available"`) ||
		!strings.HasSuffix(string(b), "data: [DONE]\n\n") {
		t.Errorf("/api/chat: %v\n%s", res.Header, b)
	}
	waitFor(t, "both runs to be counted", func() bool { return s.stats.completed.Load() == 2 })
}

// On loopback serve tells the page why a run failed; elsewhere only the
// user-facing message goes out.
func TestServeErrorDetail(t *testing.T) {
	for _, tc := range []struct {
		addr string
		want bool
	}{{"127.0.0.1:8080", true}, {"[::1]:8080", true}, {"0.0.0.0:8080", false}, {"[::]:8080", false}, {"192.0.2.1:80", false}} {
		a, err := net.ResolveTCPAddr("tcp", tc.addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := isLoopback(a); got != tc.want {
			t.Errorf("isLoopback(%s) = %v, want %v", tc.addr, got, tc.want)
		}
	}
	t.Setenv("OPENAI_API_KEY", "sk-test") // NewLM reads it
	env := func(k string) string {
		if k == "OPENAI_API_KEY" {
			return "sk-test"
		}
		return ""
	}
	pf := programFlags{module: "predict", signature: askSignature, lmName: "openai/gpt-test", baseURL: "http://127.0.0.1:1/v1", adapter: "chat", timeout: time.Minute}
	prog, err := buildProgram(pf, env)
	if err != nil {
		t.Fatal(err)
	}
	for _, detail := range []bool{false, true} {
		s := newServer(prog, slog.New(slog.DiscardHandler), false)
		s.errorDetail = detail
		ts := httptest.NewServer(s.handler())
		res, err := http.Post(ts.URL+"/v1/stream", "application/json", strings.NewReader(`{"question": "Hi"}`))
		if err != nil {
			t.Fatal(err)
		}
		events := readSSE(t, res.Body)
		res.Body.Close()
		ts.Close()
		var e struct{ Error, Detail string }
		for _, ev := range events {
			if ev.event == "error" {
				json.Unmarshal([]byte(ev.data), &e)
			}
		}
		if e.Error != "the language model provider failed; try again" || strings.Contains(e.Detail, "connection refused") != detail {
			t.Errorf("errorDetail %v: error %q, detail %q", detail, e.Error, e.Detail)
		}
	}
}
