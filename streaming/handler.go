package streaming

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/streaming/resume"
)

// DefaultKeepAlive is the keep-alive interval of Handler and
// UIMessageHandler (WithKeepAlive).
const DefaultKeepAlive = 15 * time.Second

// HandlerOption configures Handler.
type HandlerOption interface{ applyHandler(*handlerConfig) }

type handlerConfig struct {
	maxBody      int64
	writeTimeout time.Duration
	inputs       []string
	logger       *slog.Logger
	errorDetail  bool
	keepAlive    time.Duration
	runs         *Runs // WithResume; nil: a run ends with its request
}

type handlerOptionFunc func(*handlerConfig)

func (f handlerOptionFunc) applyHandler(c *handlerConfig) { f(c) }

// WithMaxBodyBytes limits the request body; larger bodies get 413. Default 1 MiB.
func WithMaxBodyBytes(n int64) HandlerOption {
	return handlerOptionFunc(func(c *handlerConfig) { c.maxBody = n })
}

// WithWriteTimeout bounds each event's write; the deadline moves on as
// events are written (every write has at least 7/8 of d), so a long stream
// is fine but a client that stops reading is dropped. Default 30 s.
func WithWriteTimeout(d time.Duration) HandlerOption {
	return handlerOptionFunc(func(c *handlerConfig) { c.writeTimeout = d })
}

// WithInputFields declares the program's input fields, for programs whose
// signature the handler cannot see (custom modules). Predict,
// ChainOfThought and other modules with a Signature method need not.
func WithInputFields(names ...string) HandlerOption {
	return handlerOptionFunc(func(c *handlerConfig) { c.inputs = names })
}

// WithLogger sets where failed runs are logged with their full error
// (clients get only a user-facing message). Default slog.Default().
func WithLogger(l *slog.Logger) HandlerOption {
	return handlerOptionFunc(func(c *handlerConfig) { c.logger = l })
}

// WithErrorDetail adds the full text of an error to what a client is told
// (the "detail" of error payloads): the cause, such as the connection to a
// provider's address that was refused. For development servers on loopback;
// a production handler keeps the user-facing messages alone, which never
// hold internal detail. Provider errors never hold API keys, but they can
// hold addresses and provider replies.
func WithErrorDetail(on bool) HandlerOption {
	return handlerOptionFunc(func(c *handlerConfig) { c.errorDetail = on })
}

// WithKeepAlive sets how long a stream may be silent before the handler
// sends a keep-alive comment (": keep-alive"), so that proxies and load
// balancers with an idle timeout do not cut a stream while a tool or the
// LM works. Default 15 s; 0 or less sends none.
func WithKeepAlive(d time.Duration) HandlerOption {
	return handlerOptionFunc(func(c *handlerConfig) { c.keepAlive = d })
}

// Handler serves p over HTTP. A client POSTs a JSON object of inputs and
// reads a text/event-stream of events: "status" ({"message": ...}), "chunk"
// ({"predict_name", "signature_field_name", "chunk", "is_last_chunk",
// "call_id"}), "prediction" ({"prediction": {...}, "usage": {...}}, keyed as
// DSPy's streaming_response), "error" ({"error": ...}, a user-facing
// message), then "data: [DONE]"; with WithTraceEvents also "lm_start",
// "lm_end", "tool_call_start", "tool_call_delta", "tool_call_end",
// "step_start", "step_end", and "custom" for Emit. docs/sse.md specifies
// the wire format (version SSEVersion).
//
// Every event but the final "data: [DONE]" has an SSE id (1, 2, 3, ...),
// and a keep-alive comment is sent when the stream was silent for a while
// (WithKeepAlive), so that proxies with idle timeouts do not cut it.
//
// A missing or unknown input field, or one whose value does not fit the
// signature's type, is a 400 naming it (and the type wanted and what
// came); a History input may be left out (no earlier turns). A body over
// the limit is a 413. When the client goes away, the run and its LM
// requests are cancelled, unless the handler has WithResume: its runs go
// on, kept in a store, for the client to resume from any replica.
func Handler(p *Program, opts ...HandlerOption) http.Handler {
	cfg := newHandlerConfig(p, opts)
	return &handler{p: p, cfg: cfg, sig: signatureOf(p)}
}

func newHandlerConfig(p *Program, opts []HandlerOption) handlerConfig {
	cfg := handlerConfig{maxBody: 1 << 20, writeTimeout: 30 * time.Second, keepAlive: DefaultKeepAlive}
	for _, o := range opts {
		o.applyHandler(&cfg)
	}
	if cfg.logger == nil {
		cfg.logger = slog.Default()
	}
	if sig := signatureOf(p); cfg.inputs == nil && sig != nil {
		for _, f := range sig.Inputs() {
			cfg.inputs = append(cfg.inputs, f.Name)
		}
	}
	return cfg
}

// signatureOf returns the program's signature, nil when it has none.
func signatureOf(p *Program) *dspy.Signature {
	if s, ok := p.module.(interface{ Signature() *dspy.Signature }); ok {
		return s.Signature()
	}
	return nil
}

type handler struct {
	p   *Program
	cfg handlerConfig
	sig *dspy.Signature // the program's, when it has one: inputs are type-checked
}

func httpError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	b, _ := json.Marshal(map[string]string{"error": msg})
	w.Write(append(b, '\n'))
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if id := r.PathValue("id"); id != "" {
		if h.cfg.runs == nil {
			httpError(w, http.StatusNotFound, "this server keeps no streams to resume or stop")
			return
		}
		h.serveStream(w, r, id)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		httpError(w, http.StatusMethodNotAllowed, "use POST with a JSON object of inputs")
		return
	}
	in, code, msg := h.readInputs(w, r)
	if code != 0 {
		httpError(w, code, msg)
		return
	}
	if h.cfg.runs != nil && h.startResumable(w, r, in) {
		return
	}

	sw := newSSEWriter(w, h.cfg.writeTimeout, setEventStreamHeaders)
	sw.ids = true
	sw.keepAlive(h.cfg.keepAlive)
	defer sw.close()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	for ev, err := range h.p.Stream(ctx, in) {
		if err != nil {
			var ie *dspy.InputError
			if !sw.isStarted() && errors.As(err, &ie) {
				sw.close()
				httpError(w, http.StatusBadRequest, ie.Error())
				return
			}
			if r.Context().Err() != nil {
				return // the client left; nobody to tell
			}
			h.cfg.logger.ErrorContext(ctx, "streaming: run failed", "error", err)
			_ = sw.event("error", errorJSON{Error: UserMessage(err), Detail: h.cfg.detail(err)})
			break
		}
		name, payload := h.cfg.sseEvent(ev)
		if name == "" {
			continue
		}
		if err := sw.event(name, payload); err != nil {
			cancel() // the client cannot be written to: stop the run
			return
		}
	}
	_ = sw.done()
}

// setEventStreamHeaders starts a text/event-stream response.
func setEventStreamHeaders(hd http.Header) {
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-cache")
	hd.Set("X-Accel-Buffering", "no") // proxies must not buffer the stream
}

// keepAliveComment is what the writer sends when nothing was written for a
// keep-alive interval: an SSE comment, which clients ignore.
var keepAliveComment = []byte(": keep-alive\n\n")

// errWriterClosed: a write after the response was given up (the handler
// returned, or an earlier write failed).
var errWriterClosed = errors.New("streaming: response closed")

// sseWriter writes one response's server-sent events. Every event of both
// handlers goes through it: event (an id it numbers itself) or write (an
// encoded frame, with an id from a resume.Writer). It is safe for concurrent use: a
// keep-alive timer writes a comment when nothing else was written for a
// while, and the run of a resumable stream writes from its own goroutine.
type sseWriter struct {
	mu      sync.Mutex
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	headers func(http.Header)
	started bool
	closed  bool // no more writes: the handler returned, or a write failed
	ids     bool // write an id line before each event
	nextID  uint64
	retry   time.Duration // sent once, before the first event, when > 0
	last    time.Time     // of the last write
	until   time.Time     // the write deadline set last
	every   time.Duration // keep-alive interval; 0: none
	timer   *time.Timer
	pre     []byte // the id and retry lines of the event being written
	buf     bytes.Buffer
	enc     *json.Encoder // one per response: events are encoded per token
}

func newSSEWriter(w http.ResponseWriter, timeout time.Duration, headers func(http.Header)) *sseWriter {
	sw := &sseWriter{w: w, rc: http.NewResponseController(w), timeout: timeout, headers: headers}
	sw.enc = json.NewEncoder(&sw.buf)
	// Text arrives as the model wrote it: "<b>", not "\u003cb\u003e". SSE
	// data is not HTML; a page that shows it must treat it as text anyway.
	sw.enc.SetEscapeHTML(false)
	return sw
}

// keepAlive sends a comment whenever nothing was written for d, from now
// on (also before the first event: the headers go with it). close stops it.
func (sw *sseWriter) keepAlive(d time.Duration) {
	if d <= 0 {
		return
	}
	sw.mu.Lock()
	defer sw.mu.Unlock()
	sw.every, sw.last = d, time.Now()
	sw.timer = time.AfterFunc(d, sw.tick)
}

// tick is the keep-alive timer: a comment if the stream has been idle for
// the interval, and the timer set again for when it next may be.
func (sw *sseWriter) tick() {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	if sw.closed {
		return
	}
	idle := time.Since(sw.last)
	if idle >= sw.every {
		if sw.send(keepAliveComment) != nil {
			return
		}
		idle = 0
	}
	sw.timer.Reset(sw.every - idle)
}

// close gives the response up: later writes do nothing and fail. The
// handler calls it before it returns.
func (sw *sseWriter) close() {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	sw.closed = true
	if sw.timer != nil {
		sw.timer.Stop()
	}
}

// isStarted reports whether the response's headers were sent.
func (sw *sseWriter) isStarted() bool {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	return sw.started
}

// encode encodes one event without its id line and blank line: "event:
// NAME" (none when name is "") and "data:" with payload as JSON; sw.mu is
// held. Always JSON, never raw text: JSON cannot hold a line break, so a
// payload cannot end the event early. The bytes are valid until the next
// call. A resumable run encodes its events alike, with frameArena.
func (sw *sseWriter) encode(name string, payload any) ([]byte, error) {
	sw.buf.Reset()
	if name != "" {
		sw.buf.WriteString("event: ")
		sw.buf.WriteString(name)
		sw.buf.WriteByte('\n')
	}
	sw.buf.WriteString("data: ")
	if c, ok := payload.(chunkJSON); ok { // the event per token
		sw.buf.Write(appendChunkJSON(sw.buf.AvailableBuffer(), c))
		return sw.buf.Bytes(), nil
	}
	if err := sw.enc.Encode(payload); err != nil {
		return nil, err
	}
	sw.buf.Truncate(sw.buf.Len() - 1) // Encode's newline
	return sw.buf.Bytes(), nil
}

// event writes one event and flushes it; with ids on, it gets the next id
// of the response.
func (sw *sseWriter) event(name string, payload any) error {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	if sw.closed {
		return errWriterClosed
	}
	f, err := sw.encode(name, payload)
	if err != nil {
		return err
	}
	var id uint64
	if sw.ids {
		sw.nextID++
		id = sw.nextID
	}
	return sw.writeFrame(id, f)
}

// write writes an encoded frame (from a frameArena, or a stored record)
// as event id, and flushes it; id 0 writes no id line.
func (sw *sseWriter) write(id uint64, frame []byte) error {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	if sw.closed {
		return errWriterClosed
	}
	return sw.writeFrame(id, frame)
}

// writeFrame writes "id: N" (when id > 0), the frame and the blank line
// that ends an event, and flushes; sw.mu is held. frame may be sw.buf's
// bytes.
func (sw *sseWriter) writeFrame(id uint64, frame []byte) error {
	b := sw.pre[:0]
	if sw.retry > 0 && !sw.started {
		b = append(b, "retry: "...)
		b = strconv.AppendInt(b, sw.retry.Milliseconds(), 10)
		b = append(b, '\n')
	}
	if id > 0 {
		b = append(b, "id: "...)
		b = strconv.AppendUint(b, id, 10)
		b = append(b, '\n')
	}
	sw.pre = b
	return sw.send(b, frame, eventEnd)
}

var eventEnd = []byte("\n\n")

// send writes the parts of one write and flushes; sw.mu is held. A
// failed write closes the writer.
func (sw *sseWriter) send(parts ...[]byte) error {
	now := time.Now()
	sw.last = now
	if !sw.started {
		sw.started = true
		sw.headers(sw.w.Header())
		sw.w.WriteHeader(http.StatusOK)
	}
	// Moving the deadline updates a runtime timer, a cost per event that
	// shows in a busy server's profile; it is moved only when less than
	// 7/8 of the timeout is left, so every write still has at least that.
	if sw.until.Sub(now) < sw.timeout-sw.timeout/8 {
		sw.until = now.Add(sw.timeout)
		_ = sw.rc.SetWriteDeadline(sw.until) // ErrNotSupported: no deadline to extend
	}
	for _, p := range parts {
		if len(p) == 0 {
			continue
		}
		if _, err := sw.w.Write(p); err != nil {
			sw.closed = true
			return err
		}
	}
	if err := sw.rc.Flush(); err != nil {
		sw.closed = true
		return err
	}
	return nil
}

var doneFrame = []byte("data: [DONE]\n\n")

// done writes the stream's last event, "data: [DONE]", which has no id.
func (sw *sseWriter) done() error {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	if sw.closed {
		return errWriterClosed
	}
	return sw.send(doneFrame)
}

// readInputs decodes and checks the request body. code is 0 when it is fine.
func (h *handler) readInputs(w http.ResponseWriter, r *http.Request) (dspy.Inputs, int, string) {
	body := http.MaxBytesReader(w, r.Body, h.cfg.maxBody)
	dec := json.NewDecoder(body)
	dec.UseNumber()
	var raw any
	if err := dec.Decode(&raw); err != nil {
		var mbe *http.MaxBytesError
		var se *json.SyntaxError
		switch {
		case errors.As(err, &mbe):
			return nil, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is over the limit of %d bytes", h.cfg.maxBody)
		case errors.Is(err, io.EOF):
			return nil, http.StatusBadRequest, "request body is empty: send a JSON object of inputs"
		case errors.Is(err, io.ErrUnexpectedEOF):
			return nil, http.StatusBadRequest, "request body ends in the middle of its JSON: send a whole JSON object of inputs"
		case errors.As(err, &se):
			return nil, http.StatusBadRequest, fmt.Sprintf("request body is not valid JSON (%v at byte %d): send a JSON object of inputs", se, se.Offset)
		}
		return nil, http.StatusBadRequest, "request body is not valid JSON: send a JSON object of inputs"
	}
	in, ok := raw.(map[string]any)
	if !ok {
		// Say what came in JSON's terms, never as a Go type.
		return nil, http.StatusBadRequest, "request body must be a JSON object of inputs, not " + jsonKind(raw)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is over the limit of %d bytes", h.cfg.maxBody)
		}
		return nil, http.StatusBadRequest, "request body has data after the JSON object"
	}
	for k, v := range in {
		in[k] = fromJSONNumber(v)
	}
	if h.sig != nil {
		// A conversation's first turn has no history to send.
		for _, f := range h.sig.Inputs() {
			if _, ok := in[f.Name]; !ok && f.Type.Kind() == dspy.KindHistory {
				in[f.Name] = dspy.History{}
			}
		}
	}
	if h.cfg.inputs != nil {
		known := map[string]bool{}
		for _, name := range h.cfg.inputs {
			known[name] = true
			if _, ok := in[name]; !ok {
				return nil, http.StatusBadRequest, fmt.Sprintf("missing input field %q", name)
			}
		}
		for k := range in {
			if !known[k] {
				return nil, http.StatusBadRequest, fmt.Sprintf("unknown input field %q", k)
			}
		}
	}
	if h.sig != nil {
		// Wrong-typed inputs never reach the LM.
		var ie *dspy.InputError
		if err := h.sig.CheckInputs(in); errors.As(err, &ie) && ie.Want != "" {
			return nil, http.StatusBadRequest, fmt.Sprintf("input field %q must be %s, got %s", ie.Field, ie.Want, ie.Got)
		}
	}
	return dspy.Inputs(in), 0, ""
}

// jsonKind names a decoded JSON value's kind, with an article.
func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case []any:
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	}
	return "another value"
}

// UserMessage is the part of a run's error that is safe to show to the
// person who asked: the condition, never internal detail or credentials.
func UserMessage(err error) string {
	var ie *dspy.InputError
	var pe *dspy.ParseError
	switch {
	case errors.As(err, &ie):
		return ie.Error()
	case errors.Is(err, ErrShutdown):
		return "the server shut down before the answer was finished; ask again"
	case errors.Is(err, resume.ErrTooLarge):
		return "the answer grew over the server's limit for a stream"
	case errors.Is(err, resume.ErrFull):
		return "the server has no room left to keep the answer; try again shortly"
	case errors.Is(err, errStoreLost):
		return "the server lost the stream's store"
	case errors.Is(err, context.DeadlineExceeded):
		return "the request timed out"
	case errors.Is(err, context.Canceled):
		return "the request was cancelled"
	case errors.Is(err, lm.ErrRateLimited):
		return "the language model is busy (rate limited); try again shortly"
	case errors.Is(err, lm.ErrContextWindow):
		return "the input is too long for the language model"
	case errors.Is(err, lm.ErrAuth):
		return "the server could not authenticate with its language model provider"
	case errors.Is(err, lm.ErrRefusal):
		return "the language model refused to answer"
	case errors.Is(err, lm.ErrConfig):
		return "the server's language model is misconfigured (its address cannot work); tell the operator"
	case errors.As(err, &pe):
		if pe.Field != "" {
			return fmt.Sprintf("the language model's reply could not be understood (field %q)", pe.Field)
		}
		return "the language model's reply could not be understood"
	case errors.Is(err, lm.ErrServer), errors.Is(err, lm.ErrBadRequest), errors.Is(err, lm.ErrStreamIdle), errors.Is(err, lm.ErrMalformed):
		return "the language model provider failed; try again"
	}
	// A stream cut off mid-answer, or a connection to the provider that
	// failed (reset, refused, ended early), is the provider's failure too.
	var se *lm.StreamError
	if errors.As(err, &se) || errors.Is(err, io.ErrUnexpectedEOF) || lm.Retryable(err) {
		return "the language model provider failed; try again"
	}
	return "internal error"
}
