package reliability

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/lm/anthropic"
	"github.com/godspy/dspy/lm/cache"
	"github.com/godspy/dspy/lm/history"
	"github.com/godspy/dspy/lm/openai"
	"github.com/godspy/dspy/streaming"

	"github.com/godspy/dspy/dspytest"
	dspyotel "github.com/godspy/dspy/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// canary is a fake API key no output may contain.
const canary = "sk-godspy-SECRET-canary-1234"

// evidence collects everything a program produced, to search for the key.
type evidence struct {
	mu    sync.Mutex
	where []string
	text  []string
}

func (e *evidence) add(where string, format string, args ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.where = append(e.where, where)
	e.text = append(e.text, fmt.Sprintf(format, args...))
}

// addAll records v in every way a program might print or log it.
func (e *evidence) addAll(where string, v any) {
	e.add(where+" %v", "%v", v)
	e.add(where+" %+v", "%+v", v)
	e.add(where+" %#v", "%#v", v)
	if b, err := json.Marshal(v); err == nil {
		e.add(where+" JSON", "%s", b)
	}
	if err, ok := v.(error); ok {
		for u := err; u != nil; u = unwrapOne(u) {
			e.add(where+" chain", "%s %+v", u.Error(), u)
		}
		var api *lm.APIError
		if ok := asAPI(err, &api); ok {
			e.add(where+" APIError fields", "%s|%s|%s|%s", api.Message, api.Type, api.Code, api.RequestID)
		}
	}
}

func unwrapOne(err error) error {
	if u, ok := err.(interface{ Unwrap() error }); ok {
		return u.Unwrap()
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok && len(j.Unwrap()) > 0 {
		return j.Unwrap()[0]
	}
	return nil
}

// leaks lists where the canary appears.
func (e *evidence) leaks() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for i, s := range e.text {
		if strings.Contains(s, canary) || strings.Contains(s, canary[len("sk-"):]) {
			out = append(out, fmt.Sprintf("%s: %s", e.where[i], shorten(s, 300)))
		}
	}
	return out
}

// echoProvider is a provider that echoes the credentials it receives into
// everything it sends back: error bodies (message, type, code), the
// request id header, mid-stream error events and malformed chunks.
func echoProvider(t *testing.T, anthropicWire bool) *rawServer {
	return newRawServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		key := r.Header.Get("Authorization") + r.Header.Get("X-Api-Key") + r.Header.Get("Api-Key")
		var body struct {
			Messages []struct {
				Content json.RawMessage `json:"content"`
			} `json:"messages"`
		}
		// The question names the fault to produce.
		_ = json.Unmarshal([]byte("{}"), &body)
		fault := r.URL.Query().Get("fault")
		if fault == "" {
			fault = r.Header.Get("X-Fault")
		}
		w.Header().Set("X-Request-Id", "req-"+key)
		w.Header().Set("Request-Id", "req-"+key)
		q, _ := json.Marshal("Incorrect API key provided: " + key)
		k, _ := json.Marshal(key)
		errBody := fmt.Sprintf(`{"error": {"message": %s, "type": %s, "code": %s}}`, q, k, k)
		if anthropicWire {
			errBody = fmt.Sprintf(`{"type": "error", "error": {"type": %s, "message": %s}}`, k, q)
		}
		switch fault {
		case "401", "500":
			code := 401
			if fault == "500" {
				code = 500
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(code)
			io.WriteString(w, errBody)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		if anthropicWire {
			fmt.Fprintf(w, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"model\":\"claude\",\"usage\":{\"input_tokens\":1,\"output_tokens\":0}}}\n\n")
			fmt.Fprintf(w, "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n")
			t, _ := json.Marshal(reply[:chunkBytes])
			fmt.Fprintf(w, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":%s}}\n\n", t)
			if fault == "midstream" {
				fmt.Fprintf(w, "event: error\ndata: %s\n\n", errBody)
			} else {
				fmt.Fprintf(w, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"%s\n\n", key)
			}
			return
		}
		sseWrite(w, chunkJSON(reply[:chunkBytes]))
		if fault == "midstream" {
			fmt.Fprintf(w, "event: error\ndata: %s\n\n", errBody)
			sseWrite(w, errBody)
			return
		}
		fmt.Fprintf(w, "data: {\"choices\": [{\"delta\": {\"content\": \"%s\n\n", key) // malformed, echoing the key
	})
}

// faultHeader sends X-Fault on every request, so one echo server can play
// every fault.
type faultHeader struct {
	fault string
	rt    http.RoundTripper
}

func (f faultHeader) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Fault", f.fault)
	return f.rt.RoundTrip(r)
}

// TestSecretsNeverLeak sets a recognisable fake key through the
// environment (as NewLM reads it) and through options, then runs every
// path that could carry it to someone: errors of 401 and 500 answers whose
// bodies and headers echo the key, mid-stream error events and malformed
// chunks that echo it, slog output of the program and of Handler, every
// Trace hook's payload, the SSE output of Handler for a failing run, the
// LM values themselves printed with %v, %+v and %#v, and the cache's keys
// and files. The key must appear in none of them.
func TestSecretsNeverLeak(t *testing.T) {
	for _, provider := range []string{"openai", "anthropic"} {
		t.Run(provider, func(t *testing.T) { secretsOf(t, provider) })
	}
}

func secretsOf(t *testing.T, provider string) {
	srv := echoProvider(t, provider == "anthropic")
	env := map[string]string{"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}[provider]
	t.Setenv(env, canary)
	var ev evidence

	var logs bytes.Buffer
	var logMu sync.Mutex
	logger := slog.New(slog.NewTextHandler(lockedWriter{&logs, &logMu}, &slog.HandlerOptions{Level: slog.LevelDebug, AddSource: true}))
	trace := &dspy.Trace{
		ModuleStart: func(_ context.Context, i dspy.ModuleStartInfo) { ev.addAll("ModuleStart", i) },
		ModuleEnd: func(_ context.Context, i dspy.ModuleEndInfo) {
			ev.addAll("ModuleEnd", i)
			ev.addAll("ModuleEnd.Err", i.Err)
		},
		LMStart: func(_ context.Context, i dspy.LMStartInfo) {
			ev.addAll("LMStart", i)
			ev.addAll("LMStart.Request", i.Request)
			ev.addAll("LMStart.LM", i.LM)
		},
		LMEnd:       func(_ context.Context, i dspy.LMEndInfo) { ev.addAll("LMEnd", i); ev.addAll("LMEnd.Err", i.Err) },
		FormatStart: func(_ context.Context, i dspy.FormatStartInfo) { ev.addAll("FormatStart", i) },
		FormatEnd:   func(_ context.Context, i dspy.FormatEndInfo) { ev.addAll("FormatEnd", i) },
		ParseStart:  func(_ context.Context, i dspy.ParseStartInfo) { ev.addAll("ParseStart", i) },
		ParseEnd:    func(_ context.Context, i dspy.ParseEndInfo) { ev.addAll("ParseEnd", i) },
	}

	// The provider clients themselves, printed as a program might log them.
	ev.addAll(provider+" openai.New", openai.New("m", openai.WithAPIKey(canary)))
	ev.addAll(provider+" anthropic.New", anthropic.New("m", anthropic.WithAPIKey(canary)))

	cacheDir := filepath.Join(t.TempDir(), "cache") // created by the cache
	store, err := cache.New(cache.Config{Memory: true, Disk: true, Dir: cacheDir})
	if err != nil {
		t.Fatal(err)
	}
	hist, lmHist := history.New(10_000), history.New(10_000) // global and per-LM
	sseClient := &http.Transport{}
	defer sseClient.CloseIdleConnections()

	for _, fault := range []string{"401", "500", "midstream", "malformed"} {
		tr := &http.Transport{}
		defer tr.CloseIdleConnections()
		// The key comes from the environment here, from an option below.
		model, err := dspy.NewLM(provider+"/model-x", dspy.WithBaseURL(srv.URL), dspy.WithLMHistory(lmHist),
			dspy.WithHTTPClient(&http.Client{Transport: faultHeader{fault, tr}}), dspy.WithRetry(lm.NoRetry()))
		if err != nil {
			t.Fatal(err)
		}
		optModel, err := dspy.NewLM(provider+"/model-y", dspy.WithBaseURL(srv.URL), dspy.WithAPIKey(canary),
			dspy.WithHTTPClient(&http.Client{Transport: faultHeader{fault, tr}}), dspy.WithRetry(fastRetry))
		if err != nil {
			t.Fatal(err)
		}
		cached := cache.Wrap(optModel, store, cache.WithIdentity(provider, "model-y"))
		for i, m := range []lm.LM{model, optModel, cached} {
			where := fmt.Sprintf("%s/%s/lm%d", provider, fault, i)
			ev.addAll(where+" LM value", m)
			ctx := dspy.WithSettings(t.Context(), dspy.WithTrace(trace), dspy.WithLogger(logger), dspy.WithLMHistory(hist))
			q := dspy.Inputs{"question": where}

			// Blocking and streamed Predict.
			pred, err := dspy.NewPredict("question -> answer", dspy.WithLM(m)).Call(ctx, q)
			if err == nil {
				t.Errorf("%s: Call = %v, want an error", where, pred)
			}
			ev.addAll(where+" Call error", err)
			o := streamAnswer(ctx, m)
			if o.err == nil {
				t.Errorf("%s: stream succeeded", where)
			}
			ev.addAll(where+" stream error", o.err)
			ev.add(where+" UserMessage", "%s", streaming.UserMessage(o.err))

			// The provider clients directly.
			_, err = m.Generate(t.Context(), &lm.Request{Messages: []lm.Message{{Role: lm.RoleUser, Content: where}}})
			ev.addAll(where+" Generate error", err)
			_, err = lm.Collect(m.Stream(t.Context(), &lm.Request{Messages: []lm.Message{{Role: lm.RoleUser, Content: where}}}))
			ev.addAll(where+" Stream error", err)

			// Handler: the SSE a client reads, and what it logs.
			prog := streaming.MustStreamify(dspy.NewPredict("question -> answer", dspy.WithLM(m)),
				streaming.WithListeners(streaming.NewListener("answer")))
			h := streaming.Handler(prog, streaming.WithLogger(logger))
			hs := newHandlerServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				h.ServeHTTP(w, r.WithContext(dspy.WithSettings(r.Context(), dspy.WithTrace(trace), dspy.WithLogger(logger))))
			}))
			resp, err := (&http.Client{Transport: sseClient}).Post(hs.URL, "application/json", strings.NewReader(`{"question": "`+where+`"}`))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !bytes.Contains(b, []byte("event: error")) {
				t.Errorf("%s: Handler output has no error event: %q", where, b)
			}
			ev.add(where+" Handler SSE", "%s %v", b, resp.Header)
		}
		if k, err := cached.Key(&lm.Request{Messages: []lm.Message{{Role: lm.RoleUser, Content: "q"}}}); err == nil {
			ev.add(provider+" cache key", "%s", k)
		}
	}

	// A successful call fills the cache: its files hold no key and are
	// the owner's only.
	ok := newRawServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if provider == "anthropic" {
			fmt.Fprintf(w, `{"id":"msg_1","type":"message","role":"assistant","model":"m","content":[{"type":"text","text":%q}],"stop_reason":"end_turn","usage":{"input_tokens":1,"output_tokens":1}}`, reply)
			return
		}
		fmt.Fprintf(w, `{"id":"c1","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":%q},"finish_reason":"stop"}]}`, reply)
	})
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	good, err := dspy.NewLM(provider+"/model-z", dspy.WithBaseURL(ok.URL), dspy.WithAPIKey(canary), dspy.WithHTTPClient(&http.Client{Transport: tr}))
	if err != nil {
		t.Fatal(err)
	}
	good = cache.Wrap(good, store, cache.WithIdentity(provider, "model-z"))
	ctx := dspy.WithSettings(t.Context(), dspy.WithTrace(trace), dspy.WithLogger(logger))
	if pred, err := dspy.NewPredict("question -> answer", dspy.WithLM(good)).Call(ctx, dspy.Inputs{"question": "cache me"}); err != nil || pred.Get("answer") != answer {
		t.Fatalf("good call = %v, %v", pred, err)
	}
	files := 0
	err = filepath.WalkDir(cacheDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		ev.add("cache path", "%s", path)
		if want := map[bool]fs.FileMode{true: 0o700, false: 0o600}[d.IsDir()]; fi.Mode().Perm() != want {
			t.Errorf("cache %s has mode %v, want %v", path, fi.Mode().Perm(), want)
		}
		if !d.IsDir() {
			files++
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			ev.add("cache file "+path, "%s", b)
		}
		return nil
	})
	if err != nil || files == 0 {
		t.Fatalf("cache dir: %d files, %v", files, err)
	}

	for name, h := range map[string]*history.History{"history": hist, "LM history": lmHist, "default history": dspy.CurrentLMHistory(context.Background())} {
		if h == nil {
			continue
		}
		var b bytes.Buffer
		if err := h.Inspect(&b, h.Len()); err != nil {
			t.Fatal(err)
		}
		ev.add(name+" Inspect", "%s", b.String())
		for _, e := range h.Last(h.Len()) {
			ev.addAll(name+" entry", e)
			ev.addAll(name+" entry.Err", e.Err)
		}
	}
	if hist.Len() == 0 || lmHist.Len() == 0 {
		t.Errorf("histories hold %d and %d calls: the history check saw nothing", hist.Len(), lmHist.Len())
	}

	logMu.Lock()
	ev.add("slog", "%s", logs.String())
	if !strings.Contains(logs.String(), "run failed") {
		t.Errorf("Handler logged no failed run: the log check saw nothing")
	}
	logMu.Unlock()
	for _, l := range ev.leaks() {
		t.Errorf("key leaked: %s", l)
	}
	if t.Failed() {
		return
	}
	row(t, areaSecret, provider+": fake key from the environment and from an option; provider echoes it in 401/500 bodies (message, type, code), the request-id header, a mid-stream error event and a malformed chunk",
		"absent from all outputs: errors (text, chain, `%+v`, `%#v`, APIError fields), `UserMessage`, Handler SSE and headers, slog, every Trace payload, global and per-LM history (entries and `Inspect`), the LM values printed, cache keys and files; cache files 0600 in 0700 dirs")
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func asAPI(err error, api **lm.APIError) bool { return errors.As(err, api) }

// visitErrors calls f on err and on every error below it, through
// Unwrap() error and Unwrap() []error, depth first.
func visitErrors(err error, f func(error)) {
	if err == nil {
		return
	}
	f(err)
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		visitErrors(u.Unwrap(), f)
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			visitErrors(e, f)
		}
	}
}

// headerEcho is an error of a proxy or middleware that prints the request
// headers it was given. It is a value type, so %#v would print them.
type headerEcho struct {
	Headers string
	Err     error
}

func (e headerEcho) Error() string {
	return "proxy: upstream failed for request " + e.Headers + ": " + e.Err.Error()
}
func (e headerEcho) Unwrap() error { return e.Err }

// echoBody yields first and then fails with an error echoing the headers.
type echoBody struct {
	first   []byte
	headers string
	done    bool
}

func (b *echoBody) Read(p []byte) (int, error) {
	if !b.done && len(b.first) > 0 {
		n := copy(p, b.first)
		b.first = b.first[n:]
		if len(b.first) == 0 {
			b.done = true
		}
		return n, nil
	}
	return 0, headerEcho{Headers: b.headers, Err: io.ErrUnexpectedEOF}
}

func (b *echoBody) Close() error { return nil }

// echoTransport is a RoundTripper whose errors echo the request headers,
// as a proxy, a logging middleware or a buggy custom transport may.
type echoTransport struct {
	fault     string
	anthropic bool
}

func (e echoTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	hdr := fmt.Sprintf("%v", r.Header)
	ok := func(first string) *http.Response {
		return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/event-stream"}}, Body: &echoBody{first: []byte(first), headers: hdr}, Request: r}
	}
	switch e.fault {
	case "reset": // a wrapped condition: must stay matchable
		return nil, headerEcho{Headers: hdr, Err: syscall.ECONNRESET}
	case "joined": // several causes at once, one a net error
		return nil, errors.Join(fmt.Errorf("proxy %s", hdr), &net.OpError{Op: "dial", Net: "tcp", Err: fmt.Errorf("upstream of %s: %w", hdr, syscall.ECONNREFUSED)})
	case "body":
		return ok(""), nil
	case "midstream":
		if e.anthropic {
			return ok("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"c\",\"usage\":{}}}\n\n" +
				"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n" +
				"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"par\"}}\n\n"), nil
		}
		return ok("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"par\"}}]}\n\n"), nil
	}
	panic("unknown fault " + e.fault)
}

// TestSecretsNotInErrorChains runs both providers, blocking and streaming,
// over transports whose errors echo the request headers (key included),
// then walks every error reachable from the returned one: no text, %+v or
// %#v of any of them may hold the key, and the conditions the transport
// reported (connection reset or refused, unexpected EOF, a net error, a
// stream's partial output) must still match.
func TestSecretsNotInErrorChains(t *testing.T) {
	type check func(t *testing.T, err error)
	is := func(target error) check {
		return func(t *testing.T, err error) {
			if !errors.Is(err, target) {
				t.Errorf("errors.Is(%v, %v) = false", err, target)
			}
		}
	}
	netErr := func(t *testing.T, err error) {
		var ne net.Error
		var ue *url.Error
		if !errors.As(err, &ne) || !errors.As(err, &ue) || !lm.Retryable(err) {
			t.Errorf("err = %v: want a retryable *url.Error (net.Error)", err)
		}
	}
	partial := func(t *testing.T, err error) {
		var se *lm.StreamError
		if !errors.As(err, &se) || se.Partial.Text() != "par" {
			t.Errorf("err = %v, want *lm.StreamError keeping \"par\"", err)
		}
	}
	tests := []struct {
		fault  string
		checks []check
		stream bool // only streams deliver output before the fault
	}{
		{"reset", []check{is(syscall.ECONNRESET), netErr}, false},
		{"joined", []check{is(syscall.ECONNREFUSED), netErr}, false},
		{"body", []check{is(io.ErrUnexpectedEOF)}, false},
		{"midstream", []check{is(io.ErrUnexpectedEOF), partial}, true},
	}
	for _, provider := range []string{"openai", "anthropic"} {
		for _, tt := range tests {
			for _, stream := range []bool{false, true} {
				if tt.stream && !stream {
					continue
				}
				name := fmt.Sprintf("%s/%s/stream=%v", provider, tt.fault, stream)
				t.Run(name, func(t *testing.T) {
					hc := &http.Client{Transport: echoTransport{fault: tt.fault, anthropic: provider == "anthropic"}}
					var m lm.LM
					if provider == "anthropic" {
						m = anthropic.New("m", anthropic.WithAPIKey(canary), anthropic.WithHTTPClient(hc), anthropic.WithRetry(lm.NoRetry()))
					} else {
						m = openai.New("m", openai.WithAPIKey(canary), openai.WithHTTPClient(hc), openai.WithRetry(lm.NoRetry()))
					}
					req := &lm.Request{Messages: []lm.Message{{Role: lm.RoleUser, Content: "q"}}}
					var err error
					if stream {
						_, err = lm.Collect(m.Stream(t.Context(), req))
					} else {
						_, err = m.Generate(t.Context(), req)
					}
					if err == nil {
						t.Fatal("no error")
					}
					n := 0
					visitErrors(err, func(e error) {
						n++
						for _, s := range []string{e.Error(), fmt.Sprintf("%+v", e), fmt.Sprintf("%#v", e)} {
							if strings.Contains(s, canary) || strings.Contains(s, canary[len("sk-"):]) {
								t.Errorf("key in the chain, at error %d (%T): %s", n, e, shorten(s, 300))
							}
						}
					})
					for _, c := range tt.checks {
						c(t, err)
					}
				})
			}
		}
	}
	if !t.Failed() {
		row(t, areaSecret, "both providers, blocking and streaming, over a RoundTripper whose errors echo the request headers (Authorization / x-api-key): returned from RoundTrip (wrapped reset; errors.Join with a net.OpError), and from the body read before and after the first chunk",
			"no error reachable through Unwrap / Unwrap() []error holds the key in its text, %+v or %#v; errors.Is(ECONNRESET / ECONNREFUSED / io.ErrUnexpectedEOF), errors.As(*url.Error, net.Error, *lm.StreamError) and lm.Retryable still hold")
	}
}

// TestSecretsNotInSpans runs requests through lm/openai with the fake key
// under the OpenTelemetry trace, content capture on (prompts, replies and
// tool arguments recorded): blocking and streamed calls that succeed
// against dspytest's server (which requires the key), a retried 429, and
// the echo provider's 401, 500, mid-stream and malformed answers that
// carry the key back. No exported span may hold it: not its name, an
// attribute, an event (name or attribute), a status, a link or the
// resource.
func TestSecretsNotInSpans(t *testing.T) {
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	defer tp.Shutdown(context.Background())
	trace := dspyotel.NewTrace(dspyotel.WithTracerProvider(tp), dspyotel.WithContentCapture(true))
	ctx := dspy.WithSettings(t.Context(), dspy.WithTrace(trace))

	good := dspytest.NewServer(dspytest.WithRequiredAPIKey(canary))
	defer good.Close()
	good.Enqueue(dspytest.Answer{Fault: dspytest.FaultRateLimit}, dspytest.Answer{Text: dspytest.ChatReply("answer", "fine")},
		dspytest.Answer{Text: dspytest.ChatReply("answer", "streamed fine")})
	model, err := dspy.NewLM("openai/gpt-4o-mini", dspy.WithBaseURL(good.URL()), dspy.WithAPIKey(canary), dspy.WithRetry(fastRetry))
	if err != nil {
		t.Fatal(err)
	}
	p := dspy.NewPredict("question -> answer", dspy.WithLM(model))
	if _, err := p.Call(ctx, dspy.Inputs{"question": "blocking"}); err != nil {
		t.Fatalf("blocking call with the right key: %v", err)
	}
	prog := streaming.MustStreamify(p, streaming.WithListeners(streaming.NewListener("answer")))
	for _, err := range prog.Stream(ctx, dspy.Inputs{"question": "streamed"}) {
		if err != nil {
			t.Fatalf("streamed call with the right key: %v", err)
		}
	}

	srv := echoProvider(t, false)
	for _, fault := range []string{"401", "500", "midstream", "malformed"} {
		tr := &http.Transport{}
		defer tr.CloseIdleConnections()
		m, err := dspy.NewLM("openai/model-y", dspy.WithBaseURL(srv.URL), dspy.WithAPIKey(canary),
			dspy.WithHTTPClient(&http.Client{Transport: faultHeader{fault, tr}}), dspy.WithRetry(lm.NoRetry()))
		if err != nil {
			t.Fatal(err)
		}
		p := dspy.NewPredict("question -> answer", dspy.WithLM(m))
		if _, err := p.Call(ctx, dspy.Inputs{"question": fault}); err == nil {
			t.Errorf("%s: blocking call succeeded, want the fault", fault)
		}
		prog := streaming.MustStreamify(p, streaming.WithListeners(streaming.NewListener("answer")))
		for range prog.Stream(ctx, dspy.Inputs{"question": fault + " streamed"}) {
		}
	}

	var ev evidence
	got := spans.GetSpans()
	if len(got) < 10 {
		t.Fatalf("%d spans exported, want the module and LM spans of every call", len(got))
	}
	retried := false
	for _, s := range got {
		where := "span " + s.Name
		ev.add(where+" name", "%s", s.Name)
		for _, kv := range s.Attributes {
			ev.add(where+" attribute "+string(kv.Key), "%s=%s", kv.Key, kv.Value.String())
		}
		for _, e := range s.Events {
			retried = retried || e.Name == "godspy.lm.retry"
			ev.add(where+" event "+e.Name, "%s", e.Name)
			for _, kv := range e.Attributes {
				ev.add(where+" event "+e.Name+" "+string(kv.Key), "%s=%s", kv.Key, kv.Value.String())
			}
		}
		ev.add(where+" status", "%s %s", s.Status.Code, s.Status.Description)
		for _, l := range s.Links {
			for _, kv := range l.Attributes {
				ev.add(where+" link", "%s=%s", kv.Key, kv.Value.String())
			}
		}
		for _, kv := range s.Resource.Attributes() {
			ev.add(where+" resource", "%s=%s", kv.Key, kv.Value.String())
		}
	}
	if !retried {
		t.Error("no span recorded the retry of the 429: the retry path was not exercised")
	}
	if l := ev.leaks(); len(l) > 0 {
		t.Errorf("the API key is in exported spans: %q", l)
	}
	if t.Failed() {
		return
	}
	row(t, areaSecret, "openai: the OpenTelemetry trace with content capture on; calls that succeed (blocking, streamed, after a 429) and the echo provider's 401, 500, mid-stream and malformed answers carrying the key",
		"absent from every exported span: names, attributes (prompts and replies included), events, statuses, links, resource")
}
