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
	"time"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/lm"
)

// HandlerOption configures Handler.
type HandlerOption interface{ applyHandler(*handlerConfig) }

type handlerConfig struct {
	maxBody      int64
	writeTimeout time.Duration
	inputs       []string
	logger       *slog.Logger
}

type handlerOptionFunc func(*handlerConfig)

func (f handlerOptionFunc) applyHandler(c *handlerConfig) { f(c) }

// WithMaxBodyBytes limits the request body; larger bodies get 413. Default 1 MiB.
func WithMaxBodyBytes(n int64) HandlerOption {
	return handlerOptionFunc(func(c *handlerConfig) { c.maxBody = n })
}

// WithWriteTimeout bounds each event's write; the deadline is extended before
// every event, so a long stream is fine but a client that stops reading is
// dropped. Default 30 s.
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

// Handler serves p over HTTP. A client POSTs a JSON object of inputs and
// reads a text/event-stream of events: "status" ({"message": ...}), "chunk"
// ({"predict_name", "signature_field_name", "chunk", "is_last_chunk"}),
// "prediction" ({"prediction": {...}}, as DSPy's streaming_response keys
// it), "error" ({"error": ...}, a user-facing message only), then
// "data: [DONE]". A missing or unknown input field, or one whose value does
// not fit the signature's type, is a 400 naming it (and the type wanted and
// what came); a body over the limit is a 413. When the client goes away, the run and its
// LM requests are cancelled.
func Handler(p *Program, opts ...HandlerOption) http.Handler {
	cfg := handlerConfig{maxBody: 1 << 20, writeTimeout: 30 * time.Second}
	for _, o := range opts {
		o.applyHandler(&cfg)
	}
	if cfg.logger == nil {
		cfg.logger = slog.Default()
	}
	var sig *dspy.Signature
	if s, ok := p.module.(interface{ Signature() *dspy.Signature }); ok {
		sig = s.Signature()
	}
	if cfg.inputs == nil && sig != nil {
		for _, f := range sig.Inputs() {
			cfg.inputs = append(cfg.inputs, f.Name)
		}
	}
	return &handler{p: p, cfg: cfg, sig: sig}
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

	ctx := r.Context()
	rc := http.NewResponseController(w)
	started := false
	start := func() {
		started = true
		hd := w.Header()
		hd.Set("Content-Type", "text/event-stream")
		hd.Set("Cache-Control", "no-cache")
		hd.Set("X-Accel-Buffering", "no") // proxies must not buffer the stream
		w.WriteHeader(http.StatusOK)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf) // one per response: events are encoded per token
	write := func(event string, payload any) error {
		if !started {
			start()
		}
		buf.Reset()
		if event != "" {
			buf.WriteString("event: ")
			buf.WriteString(event)
			buf.WriteByte('\n')
		}
		buf.WriteString("data: ")
		if s, ok := payload.(string); ok {
			buf.WriteString(s)
		} else if err := enc.Encode(payload); err != nil {
			return err
		} else {
			buf.Truncate(buf.Len() - 1) // Encode's newline
		}
		buf.WriteString("\n\n")
		_ = rc.SetWriteDeadline(time.Now().Add(h.cfg.writeTimeout)) // ErrNotSupported: no deadline to extend
		if _, err := w.Write(buf.Bytes()); err != nil {
			return err
		}
		return rc.Flush()
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for ev, err := range h.p.Stream(ctx, in) {
		if err != nil {
			var ie *dspy.InputError
			if !started && errors.As(err, &ie) {
				httpError(w, http.StatusBadRequest, ie.Error())
				return
			}
			if r.Context().Err() != nil {
				return // the client left; nobody to tell
			}
			h.cfg.logger.ErrorContext(ctx, "streaming: run failed", "error", err)
			_ = write("error", map[string]string{"error": UserMessage(err)})
			break
		}
		var werr error
		switch e := ev.(type) {
		case *StatusMessage:
			werr = write("status", map[string]string{"message": e.Message})
		case *StreamResponse:
			werr = write("chunk", chunkJSON{e.PredictName, e.SignatureFieldName, e.Chunk, e.IsLastChunk})
		case *Final:
			werr = write("prediction", map[string]any{"prediction": e.Prediction})
		case *RawChunk:
			werr = write("raw", rawJSON{e.PredictName, e.Chunk.Text, e.Chunk.Reasoning})
		}
		if werr != nil {
			cancel() // the client cannot be written to: stop the run
			return
		}
	}
	_ = write("", "[DONE]")
}

type chunkJSON struct {
	PredictName        string `json:"predict_name"`
	SignatureFieldName string `json:"signature_field_name"`
	Chunk              string `json:"chunk"`
	IsLastChunk        bool   `json:"is_last_chunk"`
}

type rawJSON struct {
	PredictName string `json:"predict_name"`
	Text        string `json:"text,omitempty"`
	Reasoning   string `json:"reasoning,omitempty"`
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
		if n, ok := v.(json.Number); ok {
			if i, err := n.Int64(); err == nil {
				in[k] = int(i)
			} else if f, err := n.Float64(); err == nil {
				in[k] = f
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
