package dspytest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/godspy/dspy/lm"
)

// Server is an OpenAI-compatible HTTP server for tests, examples and
// benchmarks. It serves POST /v1/chat/completions (blocking, and SSE with
// OpenAI's exact chunk JSON) and GET /v1/models. Answers come from a queue
// of Answers, else from a responder function, else from FieldResponder,
// which fills every output field a DSPy-style prompt asks for. It records
// the requests it receives. Safe for concurrent use.
type Server struct {
	srv  *httptest.Server
	cfg  serverConfig
	done chan struct{} // closed by Close, ends stalled handlers

	mu       sync.Mutex
	queue    []Answer
	requests []RecordedRequest

	disconnects atomic.Int64
	active      atomic.Int64
}

// Answer is one reply of the Server.
type Answer struct {
	Text      string
	Reasoning string // sent as reasoning_content
	ToolCalls []lm.ToolCall
	// FinishReason defaults to "stop", or "tool_calls" when ToolCalls is set.
	FinishReason string
	// Usage defaults to an estimate (four bytes a token).
	Usage *lm.Usage
	// Fault, if set, makes the server misbehave instead of (or while)
	// answering.
	Fault Fault
	// RetryAfter is sent with FaultRateLimit (as Retry-After-Ms and
	// Retry-After); default 10 ms.
	RetryAfter time.Duration
}

// Fault is a failure the Server produces on demand.
type Fault int

// Faults. "First chunk" is the first content chunk of a stream; a blocking
// call meets the stream faults as a broken or bad body.
const (
	NoFault Fault = iota
	// FaultRateLimit answers 429 with Retry-After.
	FaultRateLimit
	// FaultServerError answers 500.
	FaultServerError
	// FaultResetBeforeFirstChunk drops the connection (TCP reset) before
	// any response.
	FaultResetBeforeFirstChunk
	// FaultResetAfterFirstChunk sends the first chunk, then resets.
	FaultResetAfterFirstChunk
	// FaultStall sends the first chunk, then nothing until the client
	// leaves.
	FaultStall
	// FaultMalformedChunk sends the first chunk, then a chunk that is not
	// JSON.
	FaultMalformedChunk
	// FaultErrorChunk sends the first chunk, then a chunk with a top-level
	// "error" object (as OpenRouter does), then [DONE].
	FaultErrorChunk
)

// RecordedRequest is a request the Server received.
type RecordedRequest struct {
	Path   string
	Header http.Header
	// Raw is the body as sent; Body is it decoded.
	Raw  []byte
	Body ChatRequest
}

// ChatRequest is the part of a chat-completions body the Server reads.
type ChatRequest struct {
	Model         string        `json:"model"`
	Messages      []ChatMessage `json:"messages"`
	Stream        bool          `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	ResponseFormat json.RawMessage `json:"response_format"`
	Tools          json.RawMessage `json:"tools"`
	ToolChoice     json.RawMessage `json:"tool_choice"`
	Temperature    *float64        `json:"temperature"`
	MaxTokens      int             `json:"max_tokens"`
	N              int             `json:"n"`
	Stop           json.RawMessage `json:"stop"`
	Seed           *int64          `json:"seed"`
	// Extra holds every body field, for asserting provider-specific ones.
	Extra map[string]json.RawMessage `json:"-"`
}

// ChatMessage is one message of a ChatRequest. Content is the text of a
// string content or the concatenated text parts of an array content.
type ChatMessage struct {
	Role       string          `json:"role"`
	Content    string          `json:"-"`
	ToolCallID string          `json:"tool_call_id"`
	RawContent json.RawMessage `json:"content"`
}

// ServerOption configures NewServer.
type ServerOption interface{ applyServer(*serverConfig) }

type serverOptionFunc func(*serverConfig)

func (f serverOptionFunc) applyServer(c *serverConfig) { f(c) }

type serverConfig struct {
	respond    func(*ChatRequest) Answer
	chunkBytes int
	chunkWords int
	ttft       time.Duration
	delay      time.Duration
	apiKey     string
	model      string
	noRecord   bool
	queue      []Answer
}

// WithAnswers queues answers, used in order before the responder.
func WithAnswers(a ...Answer) ServerOption {
	return serverOptionFunc(func(c *serverConfig) {
		c.queue = append(c.queue, a...)
	})
}

// WithResponder answers every unscripted request with f.
func WithResponder(f func(*ChatRequest) Answer) ServerOption {
	return serverOptionFunc(func(c *serverConfig) { c.respond = f })
}

// WithChunkBytes streams content in pieces of at most n bytes (whole runes).
func WithChunkBytes(n int) ServerOption {
	return serverOptionFunc(func(c *serverConfig) { c.chunkBytes, c.chunkWords = n, 0 })
}

// WithChunkWords streams content n words per chunk (the default is one
// word, with its leading space, like a tokenizer).
func WithChunkWords(n int) ServerOption {
	return serverOptionFunc(func(c *serverConfig) { c.chunkWords, c.chunkBytes = n, 0 })
}

// WithTimeToFirstToken waits d before the response headers.
func WithTimeToFirstToken(d time.Duration) ServerOption {
	return serverOptionFunc(func(c *serverConfig) { c.ttft = d })
}

// WithChunkDelay waits d between streamed chunks.
func WithChunkDelay(d time.Duration) ServerOption {
	return serverOptionFunc(func(c *serverConfig) { c.delay = d })
}

// WithRequiredAPIKey makes the server answer 401 unless the request carries
// "Authorization: Bearer key" or "api-key: key".
func WithRequiredAPIKey(key string) ServerOption {
	return serverOptionFunc(func(c *serverConfig) { c.apiKey = key })
}

// WithoutRecording stops the server recording requests (load tests).
func WithoutRecording() ServerOption {
	return serverOptionFunc(func(c *serverConfig) { c.noRecord = true })
}

// NewServer starts a Server. Close it when done.
func NewServer(opts ...ServerOption) *Server {
	s := &Server{done: make(chan struct{})}
	s.cfg.chunkWords = 1
	s.cfg.model = "dspytest-model"
	for _, o := range opts {
		o.applyServer(&s.cfg)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", s.chat)
	mux.HandleFunc("GET /v1/models", s.models)
	s.queue = s.cfg.queue
	s.srv = httptest.NewServer(mux)
	return s
}

// Enqueue adds answers to the queue; each request takes the next one.
func (s *Server) Enqueue(a ...Answer) *Server {
	s.mu.Lock()
	s.queue = append(s.queue, a...)
	s.mu.Unlock()
	return s
}

// URL returns the API root, ending in "/v1".
func (s *Server) URL() string { return s.srv.URL + "/v1" }

// Client returns an HTTP client for the server.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// Requests returns the requests received so far.
func (s *Server) Requests() []RecordedRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]RecordedRequest(nil), s.requests...)
}

// Disconnects counts streams whose client went away before the stream
// ended: a test of cancellation asserts it grew.
func (s *Server) Disconnects() int { return int(s.disconnects.Load()) }

// Active counts requests being served now.
func (s *Server) Active() int { return int(s.active.Load()) }

// Close ends stalled streams and shuts the server down.
func (s *Server) Close() {
	select {
	case <-s.done:
	default:
		close(s.done)
	}
	s.srv.CloseClientConnections()
	s.srv.Close()
}

func (s *Server) models(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"object":"list","data":[{"id":%q,"object":"model","created":1700000000,"owned_by":"dspytest"}]}`, s.cfg.model)
}

func (s *Server) next(req *ChatRequest) Answer {
	s.mu.Lock()
	if len(s.queue) > 0 {
		a := s.queue[0]
		s.queue = s.queue[1:]
		s.mu.Unlock()
		return a
	}
	s.mu.Unlock()
	if s.cfg.respond != nil {
		return s.cfg.respond(req)
	}
	return FieldResponder(req)
}

func (s *Server) chat(w http.ResponseWriter, r *http.Request) {
	s.active.Add(1)
	defer s.active.Add(-1)
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(r.Body); err != nil {
		return
	}
	raw := buf.Bytes()
	var req ChatRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		srvError(w, 400, "invalid_request_error", "invalid JSON body: "+err.Error())
		return
	}
	_ = json.Unmarshal(raw, &req.Extra)
	for i := range req.Messages {
		req.Messages[i].Content = contentText(req.Messages[i].RawContent)
	}
	if !s.cfg.noRecord {
		s.mu.Lock()
		s.requests = append(s.requests, RecordedRequest{Path: r.URL.Path, Header: r.Header.Clone(), Raw: raw, Body: req})
		s.mu.Unlock()
	}
	if k := s.cfg.apiKey; k != "" && r.Header.Get("Authorization") != "Bearer "+k && r.Header.Get("Api-Key") != k {
		srvError(w, 401, "invalid_request_error", "Incorrect API key provided.")
		return
	}
	a := s.next(&req)
	if !s.wait(r.Context(), s.cfg.ttft) {
		s.disconnects.Add(1)
		return
	}
	switch a.Fault {
	case FaultRateLimit:
		d := a.RetryAfter
		if d == 0 {
			d = 10 * time.Millisecond
		}
		w.Header().Set("Retry-After-Ms", strconv.FormatInt(d.Milliseconds(), 10))
		w.Header().Set("Retry-After", strconv.FormatInt(int64((d+time.Second-1)/time.Second), 10))
		srvError(w, 429, "rate_limit_error", "Rate limit reached for requests")
		return
	case FaultServerError:
		srvError(w, 500, "server_error", "The server had an error while processing your request.")
		return
	case FaultResetBeforeFirstChunk:
		reset(w)
		return
	}
	if a.FinishReason == "" {
		a.FinishReason = "stop"
		if len(a.ToolCalls) > 0 {
			a.FinishReason = "tool_calls"
		}
	}
	if a.Usage == nil {
		p := 0
		for _, m := range req.Messages {
			p += len(m.Content)
		}
		u := lm.Usage{PromptTokens: (p + 3) / 4, CompletionTokens: (len(a.Text) + len(a.Reasoning) + 3) / 4}
		u.TotalTokens = u.PromptTokens + u.CompletionTokens
		a.Usage = &u
	}
	model := req.Model
	if model == "" {
		model = s.cfg.model
	}
	id := "chatcmpl-dspytest" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if req.Stream {
		s.stream(w, r, &req, a, id, model)
		return
	}
	s.blocking(w, r, a, id, model)
}

func (s *Server) wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-s.done:
		return false
	}
}

func (s *Server) blocking(w http.ResponseWriter, r *http.Request, a Answer, id, model string) {
	switch a.Fault {
	case FaultMalformedChunk:
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"id": "` + id + `", "choices": [`))
		return
	case FaultErrorChunk:
		srvJSON(w, 200, map[string]any{"error": map[string]any{"message": "upstream provider failed", "type": "server_error", "code": nil}})
		return
	case FaultResetAfterFirstChunk, FaultStall:
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "100000")
		w.Write([]byte(`{"id": "` + id + `",`))
		http.NewResponseController(w).Flush()
		if a.Fault == FaultStall {
			select {
			case <-s.done:
			case <-r.Context().Done():
				s.disconnects.Add(1)
			}
			return
		}
		reset(w)
		return
	}
	msg := map[string]any{"role": "assistant", "content": a.Text, "refusal": nil}
	if a.Reasoning != "" {
		msg["reasoning_content"] = a.Reasoning
	}
	if len(a.ToolCalls) > 0 {
		var tcs []map[string]any
		for _, tc := range a.ToolCalls {
			tcs = append(tcs, map[string]any{"id": tc.ID, "type": "function", "function": map[string]any{"name": tc.Name, "arguments": tc.Arguments}})
		}
		msg["tool_calls"] = tcs
		if a.Text == "" {
			msg["content"] = nil
		}
	}
	srvJSON(w, 200, map[string]any{
		"id": id, "object": "chat.completion", "created": time.Now().Unix(), "model": model,
		"choices": []any{map[string]any{"index": 0, "message": msg, "logprobs": nil, "finish_reason": a.FinishReason}},
		"usage":   wireUsageOf(*a.Usage),
	})
}

// Chunk JSON in OpenAI's field order.
type srvChunk struct {
	ID                string           `json:"id"`
	Object            string           `json:"object"`
	Created           int64            `json:"created"`
	Model             string           `json:"model"`
	SystemFingerprint string           `json:"system_fingerprint"`
	Choices           []srvChunkChoice `json:"choices"`
	Usage             *srvUsage        `json:"usage,omitempty"`
}

type srvChunkChoice struct {
	Index        int      `json:"index"`
	Delta        srvDelta `json:"delta"`
	Logprobs     *int     `json:"logprobs"`
	FinishReason *string  `json:"finish_reason"`
}

type srvDelta struct {
	Role             string        `json:"role,omitempty"`
	Content          *string       `json:"content,omitempty"`
	ReasoningContent string        `json:"reasoning_content,omitempty"`
	ToolCalls        []srvToolCall `json:"tool_calls,omitempty"`
}

type srvToolCall struct {
	Index    int    `json:"index"`
	ID       string `json:"id,omitempty"`
	Type     string `json:"type,omitempty"`
	Function struct {
		Name      string `json:"name,omitempty"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

type srvUsage struct {
	PromptTokens        int `json:"prompt_tokens"`
	CompletionTokens    int `json:"completion_tokens"`
	TotalTokens         int `json:"total_tokens"`
	PromptTokensDetails struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
	CompletionTokensDetails struct {
		ReasoningTokens int `json:"reasoning_tokens"`
	} `json:"completion_tokens_details"`
}

func wireUsageOf(u lm.Usage) *srvUsage {
	w := &srvUsage{PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens, TotalTokens: u.TotalTokens}
	w.PromptTokensDetails.CachedTokens = u.CachedTokens
	w.CompletionTokensDetails.ReasoningTokens = u.ReasoningTokens
	return w
}

func (s *Server) stream(w http.ResponseWriter, r *http.Request, req *ChatRequest, a Answer, id, model string) {
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Request-Id", "req_"+id)
	w.WriteHeader(200)
	includeUsage := req.StreamOptions != nil && req.StreamOptions.IncludeUsage
	created := time.Now().Unix()
	var line bytes.Buffer
	ok := true
	send := func(c *srvChunk, delay bool) bool {
		if !ok {
			return false
		}
		if delay && !s.wait(r.Context(), s.cfg.delay) {
			ok = false
			return false
		}
		c.ID, c.Object, c.Created, c.Model, c.SystemFingerprint = id, "chat.completion.chunk", created, model, "fp_dspytest"
		b, _ := json.Marshal(c)
		if includeUsage && c.Usage == nil {
			b = append(b[:len(b)-1], `,"usage":null}`...)
		}
		line.Reset()
		line.WriteString("data: ")
		line.Write(b)
		line.WriteString("\n\n")
		if _, err := w.Write(line.Bytes()); err != nil {
			ok = false
			return false
		}
		if err := rc.Flush(); err != nil {
			ok = false
		}
		return ok
	}
	empty := ""
	choice := func(d srvDelta) []srvChunkChoice { return []srvChunkChoice{{Delta: d}} }
	// Role chunk, as OpenAI sends it.
	send(&srvChunk{Choices: choice(srvDelta{Role: "assistant", Content: &empty})}, false)
	n := 0
	after := func() bool { // runs after each content chunk; true to go on
		n++
		if n != 1 || a.Fault == NoFault {
			return ok
		}
		switch a.Fault {
		case FaultResetAfterFirstChunk:
			reset(w)
			ok = false
		case FaultStall:
			select {
			case <-r.Context().Done():
				s.disconnects.Add(1)
			case <-s.done:
			}
			ok = false
		case FaultMalformedChunk:
			w.Write([]byte("data: {\"id\":\"" + id + "\",\"choices\":[{\"delta\":{\"content\":\"x\"\n\n"))
			rc.Flush()
			ok = false
		case FaultErrorChunk:
			w.Write([]byte(`data: {"error":{"message":"upstream provider failed mid-stream","type":"server_error","code":null}}` + "\n\ndata: [DONE]\n\n"))
			rc.Flush()
			ok = false
		}
		return ok
	}
	for _, p := range s.pieces(a.Reasoning) {
		if !send(&srvChunk{Choices: choice(srvDelta{ReasoningContent: p})}, true) || !after() {
			goto end
		}
	}
	for _, p := range s.pieces(a.Text) {
		p := p
		if !send(&srvChunk{Choices: choice(srvDelta{Content: &p})}, true) || !after() {
			goto end
		}
	}
	for i, tc := range a.ToolCalls {
		first := srvToolCall{Index: i, ID: tc.ID, Type: "function"}
		first.Function.Name = tc.Name
		if !send(&srvChunk{Choices: choice(srvDelta{ToolCalls: []srvToolCall{first}})}, true) || !after() {
			goto end
		}
		for _, p := range s.pieces(tc.Arguments) {
			frag := srvToolCall{Index: i}
			frag.Function.Arguments = p
			if !send(&srvChunk{Choices: choice(srvDelta{ToolCalls: []srvToolCall{frag}})}, true) {
				goto end
			}
		}
	}
	if n == 0 && !after() { // no content: the fault applies here
		goto end
	}
	{
		fr := a.FinishReason
		if !send(&srvChunk{Choices: []srvChunkChoice{{Delta: srvDelta{}, FinishReason: &fr}}}, true) {
			goto end
		}
	}
	if includeUsage && !send(&srvChunk{Choices: []srvChunkChoice{}, Usage: wireUsageOf(*a.Usage)}, false) {
		goto end
	}
	if _, err := w.Write([]byte("data: [DONE]\n\n")); err == nil {
		rc.Flush()
		return
	}
end:
	if r.Context().Err() != nil && a.Fault != FaultStall {
		s.disconnects.Add(1)
	}
}

// pieces cuts text by the server's chunking policy.
func (s *Server) pieces(text string) []string {
	if text == "" {
		return nil
	}
	if s.cfg.chunkBytes > 0 {
		return Split(text, s.cfg.chunkBytes)
	}
	per := max(1, s.cfg.chunkWords)
	var out []string
	start, words := 0, 0
	inWord := false
	for i, r := range text {
		sp := r == ' ' || r == '\n' || r == '\t'
		if !sp && !inWord { // a word starts; its leading space went with it
			if words == per {
				// cut before the whitespace that precedes this word
				j := i
				for j > start && (text[j-1] == ' ' || text[j-1] == '\n' || text[j-1] == '\t') {
					j--
				}
				out = append(out, text[start:j])
				start, words = j, 0
			}
			words++
		}
		inWord = !sp
	}
	return append(out, text[start:])
}

// reset drops the connection with a TCP reset, without a response.
func reset(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}

func srvJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func srvError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("X-Request-Id", "req_err"+strconv.Itoa(status))
	srvJSON(w, status, map[string]any{"error": map[string]any{"message": msg, "type": typ, "param": nil, "code": nil}})
}

func contentText(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	_ = json.Unmarshal(raw, &parts)
	var b strings.Builder
	for _, p := range parts {
		b.WriteString(p.Text)
	}
	return b.String()
}

// Output field lines of a DSPy prompt: "1. `answer` (str): ...".
var outputFieldRE = regexp.MustCompile("^\\s*\\d+\\.\\s+`([^`]+)`(?:\\s*\\((.*?)\\))?\\s*(?::|$)")

// OutputFields returns the output fields a DSPy-style system prompt lists
// after "Your output fields are:", with their type annotations.
func OutputFields(system string) (names, types []string) {
	i := strings.Index(system, "Your output fields are:")
	if i < 0 {
		return nil, nil
	}
	for _, l := range strings.Split(system[i+len("Your output fields are:"):], "\n") {
		if strings.TrimSpace(l) == "" {
			if len(names) > 0 {
				break
			}
			continue
		}
		m := outputFieldRE.FindStringSubmatch(l)
		if m == nil {
			if len(names) > 0 && (strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t")) {
				continue // a description's continuation
			}
			break
		}
		names = append(names, m[1])
		types = append(types, m[2])
	}
	return names, types
}

// FieldResponder fills every output field a DSPy-style prompt asks for, with
// a placeholder value of the field's type: in ChatAdapter format
// ("[[ ## answer ## ]]\n...\n\n[[ ## completed ## ]]") by default, as a JSON
// object when the request has a response_format, and as XML elements when
// the system prompt mentions XML tags. Without output fields it answers
// "Hello from dspytest.".
func FieldResponder(req *ChatRequest) Answer {
	var system string
	for _, m := range req.Messages {
		if m.Role == "system" {
			system += m.Content + "\n"
		}
	}
	names, types := OutputFields(system)
	if len(names) == 0 {
		return Answer{Text: "Hello from dspytest."}
	}
	values := make([]string, len(names))
	for i := range names {
		values[i] = placeholder(names[i], types[i])
	}
	rf := strings.TrimSpace(string(req.ResponseFormat))
	switch {
	case rf != "" && rf != "null":
		var b strings.Builder
		b.WriteString("{")
		for i, n := range names {
			if i > 0 {
				b.WriteString(", ")
			}
			k, _ := json.Marshal(n)
			b.Write(k)
			b.WriteString(": ")
			if isJSONLiteral(types[i]) {
				b.WriteString(values[i])
			} else {
				v, _ := json.Marshal(values[i])
				b.Write(v)
			}
		}
		b.WriteString("}")
		return Answer{Text: b.String()}
	case strings.Contains(strings.ToLower(system), "xml"):
		var b strings.Builder
		for i, n := range names {
			if i > 0 {
				b.WriteString("\n")
			}
			b.WriteString("<" + n + ">" + values[i] + "</" + n + ">")
		}
		return Answer{Text: b.String()}
	}
	kv := make([]string, 0, 2*len(names))
	for i, n := range names {
		kv = append(kv, n, values[i])
	}
	return Answer{Text: ChatReply(kv...)}
}

func isJSONLiteral(typ string) bool {
	t := strings.ToLower(typ)
	return t == "int" || t == "float" || t == "bool" || strings.HasPrefix(t, "list") || strings.HasPrefix(t, "dict")
}

var literalRE = regexp.MustCompile(`^Literal\[\s*['"]([^'"]*)['"]`)

// placeholder is a value of the annotated type.
func placeholder(name, typ string) string {
	t := strings.ToLower(strings.TrimSpace(typ))
	switch {
	case t == "int":
		return "42"
	case t == "float":
		return "0.5"
	case t == "bool":
		return "true"
	case strings.HasPrefix(t, "list"):
		return `["` + name + ` item"]`
	case strings.HasPrefix(t, "dict"):
		return `{"` + name + `": "value"}`
	}
	if m := literalRE.FindStringSubmatch(strings.TrimSpace(typ)); m != nil {
		return m[1]
	}
	return "Fake " + strings.ReplaceAll(name, "_", " ") + " from dspytest."
}
