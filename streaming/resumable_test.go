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
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/dspytest"
	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/lm/openai"
	"github.com/godspy/dspy/streaming"
	"github.com/godspy/dspy/streaming/resume"
)

// wireEvent is one event as read off the wire, with its id line.
type wireEvent struct {
	ID    string // "" when the event had no id line
	Name  string
	Data  string
	Retry string
}

// eventReader reads events (comments skipped, counted) from an SSE body.
type eventReader struct {
	br       *bufio.Reader
	comments int
}

func newEventReader(r io.Reader) *eventReader { return &eventReader{br: bufio.NewReader(r)} }

// next returns the next event; io.EOF at the end of the body.
func (er *eventReader) next() (wireEvent, error) {
	var ev wireEvent
	lines := 0
	for {
		line, err := er.br.ReadString('\n')
		if err != nil {
			if err == io.EOF && line == "" {
				return ev, io.EOF
			}
			return ev, err
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if lines == 0 {
				continue
			}
			if ev.Data == "" && ev.Name == "" && ev.ID == "" && ev.Retry == "" {
				er.comments++
				lines = 0
				continue
			}
			return ev, nil
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "id: "):
			ev.ID = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "retry: "):
			ev.Retry = strings.TrimPrefix(line, "retry: ")
		case strings.HasPrefix(line, "event: "):
			ev.Name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			ev.Data = strings.TrimPrefix(line, "data: ")
		}
		lines++
	}
}

// all reads the rest of the body.
func (er *eventReader) all() ([]wireEvent, error) {
	var out []wireEvent
	for {
		ev, err := er.next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, ev)
	}
}

// resumeEnv is a Handler WithResume on a memory store, over a dspytest
// LM server whose answers stream slowly enough to be left mid-way.
type resumeEnv struct {
	lm    *dspytest.Server
	store *resume.Memory
	runs  *streaming.Runs
	srv   *httptest.Server
	logs  *strings.Builder
}

var callIDs = regexp.MustCompile(`"call_id":\d+`)

func newResumeEnv(t *testing.T, answer string, delay time.Duration, ropts []streaming.RunsOption, mopts ...resume.MemoryOption) *resumeEnv {
	t.Helper()
	lmSrv := dspytest.NewServer(dspytest.WithResponder(func(*dspytest.ChatRequest) dspytest.Answer {
		return dspytest.Answer{Text: dspytest.ChatReply("answer", answer)}
	}), dspytest.WithChunkBytes(5), dspytest.WithChunkDelay(delay))
	t.Cleanup(lmSrv.Close)
	model := openai.New("test-model", openai.WithBaseURL(lmSrv.URL()), openai.WithAPIKey("sk-test"))
	prog := streaming.MustStreamify(dspy.NewPredict("question -> answer"), streaming.WithListeners(streaming.NewListener("answer")))
	store := resume.NewMemory(mopts...)
	runs := streaming.NewRuns(store, ropts...)
	logs := &strings.Builder{}
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(writerFunc(func(b []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return logs.Write(b)
	}), nil))
	h := streaming.Handler(prog, streaming.WithResume(runs), streaming.WithLogger(logger))
	withModel := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(dspy.WithSettings(r.Context(), dspy.WithLM(model))))
	})
	mux := http.NewServeMux()
	mux.Handle("/v1/stream", withModel)
	mux.Handle("/v1/stream/{id}", withModel)
	mux.Handle("POST /v1/stream/{id}/stop", withModel)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := runs.Shutdown(ctx); err != nil {
			t.Errorf("Runs.Shutdown: %v", err)
		}
	})
	return &resumeEnv{lm: lmSrv, store: store, runs: runs, srv: srv, logs: logs}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// post starts a run; the caller closes the response.
func (e *resumeEnv) post(t *testing.T, ctx context.Context) *http.Response {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "POST", e.srv.URL+"/v1/stream", strings.NewReader(`{"question": "q?"}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("POST: %d %s", resp.StatusCode, b)
	}
	return resp
}

// get resumes stream id after lastID ("" sends no Last-Event-ID).
func (e *resumeEnv) get(t *testing.T, ctx context.Context, id, lastID string) *http.Response {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/v1/stream/"+id, nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// normalize makes events of two runs comparable: call ids (unique in the
// process) become their order of appearance, the stream id "ID".
func normalize(evs []wireEvent, streamID string) []wireEvent {
	seen := map[string]string{}
	out := make([]wireEvent, len(evs))
	for i, ev := range evs {
		ev.Data = callIDs.ReplaceAllStringFunc(ev.Data, func(s string) string {
			if _, ok := seen[s]; !ok {
				seen[s] = fmt.Sprintf(`"call_id":%d`, len(seen)+1)
			}
			return seen[s]
		})
		ev.Data = strings.ReplaceAll(ev.Data, streamID, "ID")
		ev.Retry = ""
		out[i] = ev
	}
	return out
}

func streamIDOf(t *testing.T, ev wireEvent) string {
	t.Helper()
	var s struct{ ID, URL string }
	if ev.Name != "stream" || json.Unmarshal([]byte(ev.Data), &s) != nil || s.ID == "" || s.URL != "/v1/stream/"+s.ID {
		t.Fatalf("first event %+v, want the stream event with its id and URL", ev)
	}
	return s.ID
}

// TestResumeAfterEveryEvent: a client leaves after k events, for every k,
// and resumes with Last-Event-ID k; what it read in all equals the
// uninterrupted stream, event for event, with ids 1, 2, 3, ... and the
// same stream's stored copy read from the start.
func TestResumeAfterEveryEvent(t *testing.T) {
	e := newResumeEnv(t, "The tides come from the Moon's pull on the oceans.", time.Millisecond, nil)
	resp := e.post(t, t.Context())
	if resp.Header.Get("Content-Type") != "text/event-stream" || resp.Header.Get("X-Stream-Id") == "" {
		t.Errorf("headers %v, want text/event-stream and X-Stream-Id", resp.Header)
	}
	ref, err := newEventReader(resp.Body).all()
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	refID := streamIDOf(t, ref[0])
	if ref[0].Retry != "2000" || resp.Header.Get("X-Stream-Id") != refID {
		t.Errorf("first event retry %q, header id %q; want 2000 and %q", ref[0].Retry, resp.Header.Get("X-Stream-Id"), refID)
	}
	for i, ev := range ref[:len(ref)-1] {
		if ev.ID != strconv.Itoa(i+1) {
			t.Fatalf("event %d has id %q, want %d", i, ev.ID, i+1)
		}
	}
	if last := ref[len(ref)-1]; last.ID != "" || last.Data != "[DONE]" || ref[len(ref)-2].Name != "prediction" {
		t.Fatalf("stream ends %+v, %+v; want prediction, then [DONE] without an id", ref[len(ref)-2], last)
	}
	want := normalize(ref, refID)

	// The stored copy, from the start, after the run ended.
	r0 := e.get(t, t.Context(), refID, "")
	stored, _ := newEventReader(r0.Body).all()
	r0.Body.Close()
	if diff := cmp.Diff(want, normalize(stored, refID)); diff != "" {
		t.Errorf("GET of the finished stream from the start (-want +got):\n%s", diff)
	}

	for k := 1; k < len(ref)-1; k++ {
		ctx, leave := context.WithCancel(t.Context())
		resp := e.post(t, ctx)
		er := newEventReader(resp.Body)
		var got []wireEvent
		for range k {
			ev, err := er.next()
			if err != nil {
				t.Fatalf("k=%d: %v", k, err)
			}
			got = append(got, ev)
		}
		leave()
		resp.Body.Close()
		id := streamIDOf(t, got[0])
		r := e.get(t, t.Context(), id, got[k-1].ID)
		if r.StatusCode != 200 {
			t.Fatalf("k=%d: GET %d", k, r.StatusCode)
		}
		rest, err := newEventReader(r.Body).all()
		r.Body.Close()
		if err != nil {
			t.Fatalf("k=%d: %v", k, err)
		}
		if diff := cmp.Diff(want, normalize(append(got, rest...), id)); diff != "" {
			t.Fatalf("k=%d: left after %d events and resumed (-want +got):\n%s", k, k, diff)
		}
	}
	if n := e.lm.Disconnects(); n != 0 {
		t.Errorf("%d LM requests cancelled: a client leaving must not cancel a resumable run", n)
	}
}

// TestResumeStop: a stop request ends the run: its LM request is
// cancelled, and the stream, live and stored, ends with the stopped event.
func TestResumeStop(t *testing.T) {
	e := newResumeEnv(t, strings.Repeat("token ", 2000), 2*time.Millisecond, nil)
	resp := e.post(t, t.Context())
	defer resp.Body.Close()
	er := newEventReader(resp.Body)
	first, _ := er.next()
	id := streamIDOf(t, first)
	for range 3 {
		if _, err := er.next(); err != nil {
			t.Fatal(err)
		}
	}
	sr, err := http.Post(e.srv.URL+"/v1/stream/"+id+"/stop", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(sr.Body)
	sr.Body.Close()
	if sr.StatusCode != http.StatusAccepted || !strings.Contains(string(body), id) {
		t.Fatalf("stop: %d %s, want 202 naming the stream", sr.StatusCode, body)
	}
	waitFor(t, time.Second, "the LM request to be cancelled within 1 s of the stop", func() bool { return e.lm.Disconnects() == 1 })
	rest, err := er.all()
	if err != nil {
		t.Fatal(err)
	}
	n := len(rest)
	if n < 2 || rest[n-2].Name != "stopped" || rest[n-2].Data != "{}" || rest[n-1].Data != "[DONE]" {
		t.Fatalf("the stream ends %+v, want the stopped event, then [DONE]", rest[max(0, n-3):])
	}
	stoppedID := rest[n-2].ID
	r := e.get(t, t.Context(), id, "")
	stored, _ := newEventReader(r.Body).all()
	r.Body.Close()
	m := len(stored)
	if m < 2 || stored[m-2].Name != "stopped" || stored[m-2].ID != stoppedID {
		t.Errorf("stored stream ends %+v, want the stopped event with id %s", stored[max(0, m-2):], stoppedID)
	}
	// The client saw exactly what is stored.
	all := append([]wireEvent{first}, append(mustFirst3(stored), rest...)...)
	if diff := cmp.Diff(normalize(stored, id), normalize(all, id)); diff != "" {
		t.Errorf("live and stored streams differ (-stored +live):\n%s", diff)
	}
	// DELETE is a stop too; of an ended stream it does nothing.
	req, _ := http.NewRequest("DELETE", e.srv.URL+"/v1/stream/"+id, nil)
	dr, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	dr.Body.Close()
	if dr.StatusCode != http.StatusAccepted {
		t.Errorf("DELETE of a stopped stream: %d, want 202", dr.StatusCode)
	}
}

// mustFirst3 returns events 2..4 of a stored stream (those the live
// client read after the stream event).
func mustFirst3(stored []wireEvent) []wireEvent { return stored[1:4] }

// TestResumeDetachedRunFinishes: a client that leaves before the first
// token does not cancel the run; the stream is read whole afterwards.
func TestResumeDetachedRunFinishes(t *testing.T) {
	e := newResumeEnv(t, "A short answer.", 5*time.Millisecond, nil)
	ctx, leave := context.WithCancel(t.Context())
	resp := e.post(t, ctx)
	first, err := newEventReader(resp.Body).next()
	if err != nil {
		t.Fatal(err)
	}
	leave()
	resp.Body.Close()
	id := streamIDOf(t, first)
	r := e.get(t, t.Context(), id, first.ID)
	rest, _ := newEventReader(r.Body).all()
	r.Body.Close()
	n := len(rest)
	if n < 2 || rest[n-2].Name != "prediction" || !strings.Contains(rest[n-2].Data, "A short answer.") {
		t.Fatalf("resumed stream ends %+v, want the prediction", rest[max(0, n-2):])
	}
	if rest[0].ID != "2" {
		t.Errorf("resumed after id 1, the first event has id %q, want 2", rest[0].ID)
	}
	if e.lm.Disconnects() != 0 {
		t.Error("the LM request was cancelled")
	}
}

// TestResumeErrors: the status codes of the stream URL.
func TestResumeErrors(t *testing.T) {
	e := newResumeEnv(t, "x", 0, nil)
	for _, tt := range []struct {
		method, path, lastID string
		want                 int
	}{
		{"GET", "/v1/stream/NOSUCHSTREAM", "", 404},
		{"POST", "/v1/stream/NOSUCHSTREAM/stop", "", 404},
		{"DELETE", "/v1/stream/NOSUCHSTREAM", "", 404},
		{"GET", "/v1/stream/NOSUCHSTREAM", "x7", 400},
		{"PUT", "/v1/stream/NOSUCHSTREAM", "", 405},
		{"GET", "/v1/stream", "", 405},
	} {
		req, _ := http.NewRequest(tt.method, e.srv.URL+tt.path, nil)
		if tt.lastID != "" {
			req.Header.Set("Last-Event-ID", tt.lastID)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct{ Error string }
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != tt.want || body.Error == "" {
			t.Errorf("%s %s (Last-Event-ID %q): %d %q, want %d with a message", tt.method, tt.path, tt.lastID, resp.StatusCode, body.Error, tt.want)
		}
	}
}

// TestResumeExpires: a finished stream is readable for the store's TTL,
// then a 404.
func TestResumeExpires(t *testing.T) {
	const ttl = 300 * time.Millisecond
	e := newResumeEnv(t, "Kept a while.", 0, nil, resume.WithTTL(ttl))
	resp := e.post(t, t.Context())
	evs, _ := newEventReader(resp.Body).all()
	resp.Body.Close()
	id := streamIDOf(t, evs[0])
	r := e.get(t, t.Context(), id, "")
	again, _ := newEventReader(r.Body).all()
	r.Body.Close()
	if r.StatusCode != 200 || len(again) != len(evs) {
		t.Fatalf("GET right after the end: %d, %d events, want 200 and %d", r.StatusCode, len(again), len(evs))
	}
	time.Sleep(ttl + 50*time.Millisecond)
	r = e.get(t, t.Context(), id, "")
	r.Body.Close()
	if r.StatusCode != 404 {
		t.Errorf("GET after the TTL: %d, want 404", r.StatusCode)
	}
}

// TestResumeRunsFull: over WithMaxRuns a POST is a 503 with Retry-After;
// a slot frees when a run ends.
func TestResumeRunsFull(t *testing.T) {
	e := newResumeEnv(t, strings.Repeat("token ", 300), 2*time.Millisecond, []streaming.RunsOption{streaming.WithMaxRuns(1)})
	resp := e.post(t, t.Context())
	er := newEventReader(resp.Body)
	first, _ := er.next()
	req, _ := http.NewRequest("POST", e.srv.URL+"/v1/stream", strings.NewReader(`{"question": "q?"}`))
	full, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body struct{ Error string }
	json.NewDecoder(full.Body).Decode(&body)
	full.Body.Close()
	if full.StatusCode != 503 || full.Header.Get("Retry-After") == "" || !strings.Contains(body.Error, "maximum of 1 resumable streams") {
		t.Errorf("POST over the cap: %d, Retry-After %q, %q; want 503 saying so", full.StatusCode, full.Header.Get("Retry-After"), body.Error)
	}
	// The first client leaving does not free its slot: the run goes on.
	resp.Body.Close()
	if e.runs.Len() != 1 {
		t.Errorf("Runs.Len() = %d after the client left, want 1", e.runs.Len())
	}
	sr, err := http.Post(e.srv.URL+"/v1/stream/"+streamIDOf(t, first)+"/stop", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	sr.Body.Close()
	waitFor(t, 5*time.Second, "the stopped run to free its slot", func() bool { return e.runs.Len() == 0 })
	resp = e.post(t, t.Context())
	resp.Body.Close()
}

// TestResumeShutdown: Runs.Shutdown cancels detached runs (their LM
// requests too), ends their streams with an error saying so, and refuses
// new runs.
func TestResumeShutdown(t *testing.T) {
	e := newResumeEnv(t, strings.Repeat("token ", 2000), 2*time.Millisecond, nil)
	var ids []string
	for range 3 {
		ctx, leave := context.WithCancel(t.Context())
		resp := e.post(t, ctx)
		first, _ := newEventReader(resp.Body).next()
		leave()
		resp.Body.Close()
		ids = append(ids, streamIDOf(t, first))
	}
	waitFor(t, 5*time.Second, "the three LM requests", func() bool { return e.lm.Active() == 3 })
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := e.runs.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if e.runs.Len() != 0 {
		t.Errorf("%d runs left after Shutdown", e.runs.Len())
	}
	waitFor(t, 5*time.Second, "the LM requests to be cancelled", func() bool { return e.lm.Disconnects() == 3 && e.lm.Active() == 0 })
	for _, id := range ids {
		r := e.get(t, t.Context(), id, "")
		evs, _ := newEventReader(r.Body).all()
		r.Body.Close()
		n := len(evs)
		if n < 2 || evs[n-2].Name != "error" || !strings.Contains(evs[n-2].Data, "the server shut down before the answer was finished") {
			t.Errorf("stream %s ends %+v, want the shutdown error", id, evs[max(0, n-2):])
		}
	}
	req, _ := http.NewRequest("POST", e.srv.URL+"/v1/stream", strings.NewReader(`{"question": "q?"}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Errorf("POST after Shutdown: %d, want 503", resp.StatusCode)
	}
}

// panicStore panics in the third Append of a stream.
type panicStore struct {
	resume.Store
}

type panicWriter struct {
	resume.Writer
	n int
}

func (s panicStore) Create(ctx context.Context, id string) (resume.Writer, error) {
	w, err := s.Store.Create(ctx, id)
	if err != nil {
		return nil, err
	}
	return &panicWriter{Writer: w}, nil
}

func (w *panicWriter) Append(ctx context.Context, data []byte) (uint64, error) {
	if w.n++; w.n == 3 {
		panic("store exploded")
	}
	return w.Writer.Append(ctx, data)
}

// TestResumePanicInStore: a panic on the run's goroutine outside the
// program (here in the store) ends the stream with an internal error,
// stored too; the process goes on.
func TestResumePanicInStore(t *testing.T) {
	lmSrv := dspytest.NewServer(dspytest.WithAnswers(dspytest.Answer{Text: dspytest.ChatReply("answer", "one two three four five")}),
		dspytest.WithChunkBytes(4))
	defer lmSrv.Close()
	model := openai.New("m", openai.WithBaseURL(lmSrv.URL()), openai.WithAPIKey("sk-test"))
	prog := streaming.MustStreamify(dspy.NewPredict("question -> answer"), streaming.WithListeners(streaming.NewListener("answer")))
	mem := resume.NewMemory()
	runs := streaming.NewRuns(panicStore{mem})
	defer runs.Shutdown(context.Background())
	h := streaming.Handler(prog, streaming.WithResume(runs), streaming.WithLogger(slog.New(slog.DiscardHandler)))
	srv := serve(t, withLMServer(h, model))
	resp, err := http.Post(srv.URL+"/v1/stream", "application/json", strings.NewReader(`{"question": "q?"}`))
	if err != nil {
		t.Fatal(err)
	}
	evs, _ := newEventReader(resp.Body).all()
	resp.Body.Close()
	n := len(evs)
	if n < 2 || evs[n-2].Name != "error" || evs[n-2].Data != `{"error":"internal error"}` || evs[n-1].Data != "[DONE]" {
		t.Fatalf("stream ends %+v, want the internal error, then [DONE]", evs[max(0, n-3):])
	}
	id := streamIDOf(t, evs[0])
	var last resume.Record
	for r, err := range resume.Follow(t.Context(), mem, id, 0) {
		if err != nil {
			t.Fatal(err)
		}
		last = r
	}
	if last.End != resume.EndFailed || !strings.Contains(string(last.Data), "internal error") {
		t.Errorf("stored terminal record %v %q, want failed with the internal error", last.End, last.Data)
	}
}

func withLMServer(h http.Handler, m lm.LM) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(dspy.WithSettings(r.Context(), dspy.WithLM(m))))
	})
}

// syncRecorder is a ResponseWriter safe to read while a handler writes.
type syncRecorder struct {
	mu     sync.Mutex
	header http.Header
	code   int
	body   strings.Builder
	writes []time.Time
}

func (r *syncRecorder) Header() http.Header { return r.header }
func (r *syncRecorder) WriteHeader(c int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.code = c
}
func (r *syncRecorder) Write(b []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writes = append(r.writes, time.Now())
	return r.body.Write(b)
}
func (r *syncRecorder) Flush() {}
func (r *syncRecorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.body.String()
}

// slowModule answers after a pause, as an LM that thinks or a long tool
// call does.
type slowModule struct{ d time.Duration }

func (m slowModule) Forward(ctx context.Context, in dspy.Inputs) (*dspy.Prediction, error) {
	select {
	case <-time.After(m.d):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return dspy.NewPrediction([]string{"answer"}, map[string]any{"answer": "late"}), nil
}

// TestKeepAlive: a stream silent for 40 s gets a keep-alive comment at
// 15 s and 30 s (the default interval, on a synctest clock), before its
// first event too; events reset the interval. Both handlers, with and
// without resumption.
func TestKeepAlive(t *testing.T) {
	prog := streaming.MustStreamify(slowModule{40 * time.Second})
	for _, tt := range []struct {
		name   string
		handle func(runs *streaming.Runs) http.Handler
		body   string
		path   string
	}{
		{"Handler", func(*streaming.Runs) http.Handler {
			return streaming.Handler(prog, streaming.WithInputFields("question"))
		}, `{"question": "q"}`, "/"},
		{"Handler WithResume", func(runs *streaming.Runs) http.Handler {
			return streaming.Handler(prog, streaming.WithInputFields("question"), streaming.WithResume(runs))
		}, `{"question": "q"}`, "/v1/stream"},
		{"UIMessageHandler", func(*streaming.Runs) http.Handler {
			return streaming.UIMessageHandler(prog, streaming.WithInputFields("question"))
		}, `{"messages": [{"id": "1", "role": "user", "parts": [{"type": "text", "text": "q"}]}]}`, "/"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				runs := streaming.NewRuns(resume.NewMemory())
				h := tt.handle(runs)
				rec := &syncRecorder{header: http.Header{}}
				req := httptest.NewRequest("POST", tt.path, strings.NewReader(tt.body))
				start := time.Now()
				h.ServeHTTP(rec, req)
				runs.Shutdown(context.Background())
				out := rec.String()
				if got := strings.Count(out, ": keep-alive\n\n"); got != 2 {
					t.Errorf("%d keep-alive comments in a 40 s stream, want 2 (at 15 s and 30 s):\n%s", got, out)
				}
				var at []time.Duration
				for i, w := range rec.writes {
					if i > 0 && w.Equal(rec.writes[i-1]) {
						continue // parts of one event
					}
					at = append(at, w.Sub(start))
				}
				if tt.name == "Handler WithResume" {
					at = at[1:] // the stream event, at once
				}
				want := []time.Duration{15 * time.Second, 30 * time.Second, 40 * time.Second}
				if len(at) < 3 || !cmp.Equal(at[:3], want) {
					t.Errorf("writes at %v, want keep-alives at 15 s and 30 s, then the answer at 40 s", at)
				}
			})
		})
	}
}

// TestKeepAliveOff: WithKeepAlive(0) sends none.
func TestKeepAliveOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		prog := streaming.MustStreamify(slowModule{40 * time.Second})
		rec := &syncRecorder{header: http.Header{}}
		streaming.Handler(prog, streaming.WithInputFields("question"), streaming.WithKeepAlive(0)).
			ServeHTTP(rec, httptest.NewRequest("POST", "/", strings.NewReader(`{"question": "q"}`)))
		if strings.Contains(rec.String(), "keep-alive") {
			t.Errorf("a keep-alive with WithKeepAlive(0):\n%s", rec.String())
		}
	})
}

// failingStore fails: Create when failCreate, and every Append after the
// first appends of a stream.
type failingStore struct {
	resume.Store
	failCreate atomic.Bool
	appends    atomic.Int64
}

type failingWriter struct {
	resume.Writer
	left int
}

var errStoreDown = errors.New("store down")

func (s *failingStore) Create(ctx context.Context, id string) (resume.Writer, error) {
	if s.failCreate.Load() {
		return nil, errStoreDown
	}
	w, err := s.Store.Create(ctx, id)
	if err != nil {
		return nil, err
	}
	return &failingWriter{Writer: w, left: int(s.appends.Load())}, nil
}

func (w *failingWriter) Append(ctx context.Context, data []byte) (uint64, error) {
	if w.left <= 0 {
		return 0, errStoreDown
	}
	w.left--
	return w.Writer.Append(ctx, data)
}

// TestResumeStoreFails: a store that fails mid-run gives the stream up
// (followers are told it was lost) while the client that started it gets
// every event and the end; a store that cannot create a stream serves the
// run without resumption.
func TestResumeStoreFails(t *testing.T) {
	lmSrv := dspytest.NewServer(dspytest.WithResponder(func(*dspytest.ChatRequest) dspytest.Answer {
		return dspytest.Answer{Text: dspytest.ChatReply("answer", "one two three four five six seven eight nine ten")}
	}), dspytest.WithChunkBytes(4), dspytest.WithChunkDelay(5*time.Millisecond))
	defer lmSrv.Close()
	model := openai.New("m", openai.WithBaseURL(lmSrv.URL()), openai.WithAPIKey("sk-test"))
	prog := streaming.MustStreamify(dspy.NewPredict("question -> answer"), streaming.WithListeners(streaming.NewListener("answer")))
	mem := resume.NewMemory()
	fs := &failingStore{Store: mem}
	fs.appends.Store(4)
	runs := streaming.NewRuns(fs)
	defer runs.Shutdown(context.Background())
	h := withLMServer(streaming.Handler(prog, streaming.WithResume(runs), streaming.WithLogger(slog.New(slog.DiscardHandler))), model)
	mux := http.NewServeMux()
	mux.Handle("/v1/stream", h)
	mux.Handle("/v1/stream/{id}", h)
	srv := serve(t, mux)

	resp, err := http.Post(srv.URL+"/v1/stream", "application/json", strings.NewReader(`{"question": "q?"}`))
	if err != nil {
		t.Fatal(err)
	}
	er := newEventReader(resp.Body)
	first, _ := er.next()
	id := streamIDOf(t, first)
	follow, err := http.Get(srv.URL + "/v1/stream/" + id)
	if err != nil {
		t.Fatal(err)
	}
	rest, _ := er.all()
	resp.Body.Close()
	all := append([]wireEvent{first}, rest...)
	n := len(all)
	if n < 3 || all[n-2].Name != "prediction" || all[n-1].Data != "[DONE]" {
		t.Fatalf("the client's stream ends %+v, want the prediction, [DONE]", all[max(0, n-2):])
	}
	for i, ev := range all[:n-1] {
		if ev.ID != strconv.Itoa(i+1) {
			t.Fatalf("event %d has id %q, want %d: ids go on without the store", i, ev.ID, i+1)
		}
	}
	fw, _ := newEventReader(follow.Body).all()
	follow.Body.Close()
	m := len(fw)
	if m < 2 || fw[m-2].Name != "error" || fw[m-2].ID != "" || !strings.Contains(fw[m-2].Data, "stopped before it finished") || fw[m-1].Data != "[DONE]" {
		t.Errorf("the follower's stream ends %+v, want the lost-stream error, [DONE]", fw[max(0, m-2):])
	}
	if m-2 != 4 {
		t.Errorf("the follower got %d events before the error, want the 4 stored", m-2)
	}

	// A client that left, then the store failed: nobody can read the
	// rest, so the run is cancelled.
	lmLong := dspytest.NewServer(dspytest.WithAnswers(dspytest.Answer{Text: dspytest.ChatReply("answer", strings.Repeat("word ", 2000))}),
		dspytest.WithChunkBytes(5), dspytest.WithChunkDelay(2*time.Millisecond))
	defer lmLong.Close()
	longModel := openai.New("m", openai.WithBaseURL(lmLong.URL()), openai.WithAPIKey("sk-test"))
	fs.appends.Store(20)
	h2 := withLMServer(streaming.Handler(prog, streaming.WithResume(runs), streaming.WithLogger(slog.New(slog.DiscardHandler))), longModel)
	srv2 := serve(t, h2)
	ctx, leave := context.WithCancel(t.Context())
	req, _ := http.NewRequestWithContext(ctx, "POST", srv2.URL, strings.NewReader(`{"question": "q?"}`))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	newEventReader(resp.Body).next()
	leave()
	resp.Body.Close()
	waitFor(t, 5*time.Second, "the run whose store failed after its client left to be cancelled", func() bool { return lmLong.Disconnects() == 1 })

	fs.failCreate.Store(true)
	resp, err = http.Post(srv.URL+"/v1/stream", "application/json", strings.NewReader(`{"question": "q?"}`))
	if err != nil {
		t.Fatal(err)
	}
	evs, _ := newEventReader(resp.Body).all()
	resp.Body.Close()
	k := len(evs)
	if resp.Header.Get("X-Stream-Id") != "" || k < 2 || evs[0].Name == "stream" || evs[k-2].Name != "prediction" || evs[0].Retry != "" {
		t.Errorf("with Create failing: X-Stream-Id %q, events %+v ... %+v; want the run served whole, not resumable", resp.Header.Get("X-Stream-Id"), evs[0], evs[max(0, k-2):])
	}
}

// TestKeepAliveFollower: a client resuming a silent run gets keep-alives
// too.
func TestKeepAliveFollower(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		prog := streaming.MustStreamify(slowModule{40 * time.Second})
		runs := streaming.NewRuns(resume.NewMemory())
		h := streaming.Handler(prog, streaming.WithInputFields("question"), streaming.WithResume(runs))
		post := &syncRecorder{header: http.Header{}}
		done := make(chan struct{})
		go func() {
			defer close(done)
			h.ServeHTTP(post, httptest.NewRequest("POST", "/v1/stream", strings.NewReader(`{"question": "q"}`)))
		}()
		synctest.Wait() // the stream event is written, the run waits
		id := post.Header().Get("X-Stream-Id")
		get := &syncRecorder{header: http.Header{}}
		req := httptest.NewRequest("GET", "/v1/stream/"+id, nil)
		req.SetPathValue("id", id)
		req.Header.Set("Last-Event-ID", "1")
		h.ServeHTTP(get, req)
		<-done
		runs.Shutdown(context.Background())
		out := get.String()
		if got := strings.Count(out, ": keep-alive\n\n"); got != 2 {
			t.Errorf("%d keep-alive comments to the follower of a 40 s silent run, want 2:\n%s", got, out)
		}
		if !strings.Contains(out, "id: 2\nevent: prediction\n") || !strings.HasSuffix(out, "data: [DONE]\n\n") {
			t.Errorf("the follower's stream:\n%s\nwant the prediction as event 2, then [DONE]", out)
		}
	})
}

// explodingModule panics mid-run.
type explodingModule struct{}

func (explodingModule) Forward(ctx context.Context, in dspy.Inputs) (*dspy.Prediction, error) {
	streaming.Emit(ctx, "progress", 1)
	panic("module exploded")
}

// TestResumeProgramPanics: a program that panics in a detached run ends
// its stream with the internal error (a *dspy.PanicError from Stream),
// stored for every reader; the process goes on.
func TestResumeProgramPanics(t *testing.T) {
	prog := streaming.MustStreamify(explodingModule{})
	mem := resume.NewMemory()
	runs := streaming.NewRuns(mem)
	defer runs.Shutdown(context.Background())
	srv := serve(t, streaming.Handler(prog, streaming.WithInputFields("question"), streaming.WithResume(runs),
		streaming.WithLogger(slog.New(slog.DiscardHandler))))
	resp, err := http.Post(srv.URL+"/v1/stream", "application/json", strings.NewReader(`{"question": "q"}`))
	if err != nil {
		t.Fatal(err)
	}
	evs, _ := newEventReader(resp.Body).all()
	resp.Body.Close()
	want := []wireEvent{
		{ID: "2", Name: "custom", Data: `{"predict_name":"","call_id":0,"name":"progress","data":1}`},
		{ID: "3", Name: "error", Data: `{"error":"internal error"}`},
		{Data: "[DONE]"},
	}
	if len(evs) != 4 {
		t.Fatalf("events %+v", evs)
	}
	got := evs[1:]
	got[0].Data = callIDs.ReplaceAllString(got[0].Data, `"call_id":0`)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stream of a panicking program (-want +got):\n%s", diff)
	}
	var last resume.Record
	for r, err := range resume.Follow(t.Context(), mem, streamIDOf(t, evs[0]), 0) {
		if err != nil {
			t.Fatal(err)
		}
		last = r
	}
	if last.End != resume.EndFailed || string(last.Data) != "event: error\ndata: {\"error\":\"internal error\"}" {
		t.Errorf("stored end %v %q, want the failed record with the internal error", last.End, last.Data)
	}
}
