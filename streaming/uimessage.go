package streaming

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/lm"
)

// UIMessageHandler serves p to the Vercel AI SDK's useChat: it speaks the
// SDK's UI message stream protocol (v1), so a React or Next.js page with
// useChat (whose default endpoint is /api/chat) talks to the program with
// no glue code.
//
// The request is useChat's: {"id", "messages": [UIMessage...], "trigger",
// "messageId"} and any fields the page adds to the body. The text of the
// last message, which must be the user's, goes to the program's first
// string input not given by such a field; the earlier turns go to its
// History input, when the signature has one (a user message and the
// assistant's text that answered it make a turn), and are dropped
// otherwise. Other body fields that name an input fill it; the rest are
// ignored, since pages send their own.
//
// The reply is the assistant message, as the SDK's chunks: "start" with a
// message id; the "answer" output (else the signature's first other
// output) as text-start/-delta/-end; reasoning and ReAct's next_thought as
// reasoning-start/-delta/-end; each ReAct step between start-step and
// finish-step, its tool calls as tool-input-start, tool-input-delta (the
// arguments as the LM writes them, with native tool calling),
// tool-input-available and tool-output-available or tool-output-error;
// status messages as transient "data-status" parts ({"message"}); Emit's
// payloads as "data-NAME" parts; then "finish" with the usage of all LM
// calls and the prediction's fields as message metadata ({"usage",
// "prediction"}), and "data: [DONE]". An output not streamed by a
// listener is sent whole before finish. A failure is an "error" chunk.
// Trace events are on for these streams, whatever the Program's options.
//
// Bad requests are a 400 with a JSON {"error": ...} body, as Handler's.
// The options are Handler's.
func UIMessageHandler(p *Program, opts ...HandlerOption) http.Handler {
	h := &uiHandler{p: p, cfg: newHandlerConfig(p, opts), sig: signatureOf(p), answer: "answer"}
	if h.sig != nil {
		if _, ok := h.sig.Output("answer"); !ok {
			for _, f := range h.sig.Outputs() {
				if !reasoningField(f.Name) {
					h.answer = f.Name
					break
				}
			}
		}
		for _, f := range h.sig.Inputs() {
			if f.Type.Kind() == dspy.KindHistory {
				h.history = f.Name
				break
			}
		}
	}
	return h
}

type uiHandler struct {
	p       *Program
	cfg     handlerConfig
	sig     *dspy.Signature
	answer  string // the output sent as text parts
	history string // the History input, "" when none
}

// reasoningField reports whether an output streams as reasoning parts.
func reasoningField(name string) bool { return name == "reasoning" || name == "next_thought" }

// uiStreamHeaders are the AI SDK's UI_MESSAGE_STREAM_HEADERS.
func uiStreamHeaders(hd http.Header) {
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-cache")
	hd.Set("Connection", "keep-alive")
	hd.Set("X-Vercel-Ai-Ui-Message-Stream", "v1")
	hd.Set("X-Accel-Buffering", "no")
}

// uiMessage is the part of an AI SDK UIMessage the handler reads.
type uiMessage struct {
	ID    string `json:"id"`
	Role  string `json:"role"`
	Parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	} `json:"parts"`
}

// text joins the message's text parts.
func (m uiMessage) text() string {
	var b strings.Builder
	for _, p := range m.Parts {
		if p.Type == "text" {
			if b.Len() > 0 {
				b.WriteString("\n\n")
			}
			b.WriteString(p.Text)
		}
	}
	return b.String()
}

// The request's own fields; any other names an input or is ignored.
var uiRequestFields = []string{"id", "messages", "trigger", "messageId"}

func (h *uiHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		httpError(w, http.StatusMethodNotAllowed, "use POST with useChat's JSON body")
		return
	}
	in, code, msg := h.readRequest(w, r)
	if code != 0 {
		httpError(w, code, msg)
		return
	}
	s := &uiStream{sw: newSSEWriter(w, h.cfg.writeTimeout, uiStreamHeaders), h: h, messageID: "msg-" + rand.Text()}
	s.sw.keepAlive(h.cfg.keepAlive)
	defer s.sw.close()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	for ev, err := range h.p.stream(ctx, in, true) {
		if err != nil {
			var ie *dspy.InputError
			if !s.sw.isStarted() && errors.As(err, &ie) {
				s.sw.close()
				httpError(w, http.StatusBadRequest, ie.Error())
				return
			}
			if r.Context().Err() != nil {
				return // the client left
			}
			h.cfg.logger.ErrorContext(ctx, "streaming: run failed", "error", err)
			text := UserMessage(err)
			if d := h.cfg.detail(err); d != "" {
				text += " (" + d + ")"
			}
			if s.write(uiError{Type: "error", ErrorText: text}) == nil {
				_ = s.sw.done()
			}
			return
		}
		if err := s.event(ev); err != nil {
			cancel() // the client cannot be written to: stop the run
			return
		}
	}
	_ = s.sw.done()
}

// readRequest decodes useChat's body into the program's inputs. code is 0
// when it is fine.
func (h *uiHandler) readRequest(w http.ResponseWriter, r *http.Request) (dspy.Inputs, int, string) {
	body := http.MaxBytesReader(w, r.Body, h.cfg.maxBody)
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(body)
	if err := dec.Decode(&raw); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is over the limit of %d bytes", h.cfg.maxBody)
		}
		if errors.Is(err, io.EOF) {
			return nil, http.StatusBadRequest, "request body is empty: send useChat's JSON object with its messages"
		}
		return nil, http.StatusBadRequest, "request body is not a JSON object: send useChat's JSON object with its messages"
	}
	var msgs []uiMessage
	if m, ok := raw["messages"]; !ok {
		return nil, http.StatusBadRequest, `request body has no "messages"`
	} else if err := json.Unmarshal(m, &msgs); err != nil {
		return nil, http.StatusBadRequest, `"messages" is not a list of UI messages (objects with "role" and "parts")`
	}
	if len(msgs) == 0 || msgs[len(msgs)-1].Role != "user" {
		return nil, http.StatusBadRequest, `the last of "messages" must be the user's`
	}
	question := msgs[len(msgs)-1].text()
	if strings.TrimSpace(question) == "" {
		return nil, http.StatusBadRequest, "the user's message has no text"
	}

	in := dspy.Inputs{}
	for k, v := range raw {
		if slices.Contains(uiRequestFields, k) || k == h.history || !slices.Contains(h.cfg.inputs, k) {
			continue
		}
		d := json.NewDecoder(strings.NewReader(string(v)))
		d.UseNumber()
		var val any
		if err := d.Decode(&val); err != nil {
			return nil, http.StatusBadRequest, fmt.Sprintf("input field %q is not valid JSON", k)
		}
		in[k] = fromJSONNumber(val)
	}
	target := ""
	for _, name := range h.cfg.inputs {
		if _, set := in[name]; set || name == h.history {
			continue
		}
		if h.sig != nil {
			if f, _ := h.sig.Input(name); f.Type.Kind() != dspy.KindStr {
				continue
			}
		}
		target = name
		break
	}
	if target == "" {
		if len(h.cfg.inputs) == 0 {
			// A custom module without a Signature method: its inputs are
			// unknown unless declared.
			return nil, http.StatusBadRequest, "the program declares no inputs for the user's message (serve it WithInputFields)"
		}
		return nil, http.StatusBadRequest, "the program has no string input left for the user's message"
	}
	in[target] = question
	if h.history != "" {
		in[h.history] = h.turns(msgs[:len(msgs)-1], target)
	}
	for _, name := range h.cfg.inputs {
		if _, ok := in[name]; !ok {
			return nil, http.StatusBadRequest, fmt.Sprintf("missing input field %q: send it in the request body beside \"messages\"", name)
		}
	}
	if h.sig != nil {
		var ie *dspy.InputError
		if err := h.sig.CheckInputs(in); errors.As(err, &ie) && ie.Want != "" {
			return nil, http.StatusBadRequest, fmt.Sprintf("input field %q must be %s, got %s", ie.Field, ie.Want, ie.Got)
		}
	}
	return in, 0, ""
}

// turns makes the earlier messages a History: each user message starts a
// turn (its text the input named field), the assistant's text that follows
// is the turn's answer.
func (h *uiHandler) turns(msgs []uiMessage, field string) dspy.History {
	var hist dspy.History
	var turn map[string]any
	for _, m := range msgs {
		switch m.Role {
		case "user":
			if turn != nil {
				hist.Messages = append(hist.Messages, turn)
			}
			turn = map[string]any{field: m.text()}
		case "assistant":
			if turn != nil {
				turn[h.answer] = m.text()
				hist.Messages = append(hist.Messages, turn)
				turn = nil
			}
		}
	}
	if turn != nil {
		hist.Messages = append(hist.Messages, turn)
	}
	return hist
}

// fromJSONNumber turns a json.Number into an int, else a float64.
func fromJSONNumber(v any) any {
	n, ok := v.(json.Number)
	if !ok {
		return v
	}
	if i, err := n.Int64(); err == nil {
		return int(i)
	}
	if f, err := n.Float64(); err == nil {
		return f
	}
	return v
}

// uiStream turns one run's events into UI message chunks.
type uiStream struct {
	sw        *sseWriter
	h         *uiHandler
	messageID string
	started   bool

	open     []openPart // text and reasoning parts not yet ended, in order
	answered bool       // the answer streamed
	tools    map[string]*uiTool
	step     []string // tool call ids seen in the current step
	finish   string   // the last LM call's finish reason
}

type openPart struct {
	call  uint64
	field string
	id    string
	kind  string // "text" or "reasoning"
}

type uiTool struct {
	name      string
	available bool
	args      strings.Builder // the streamed argument text
}

// write sends one chunk, after the message's "start".
func (s *uiStream) write(chunk any) error {
	if !s.started {
		s.started = true
		if err := s.sw.event("", uiStart{Type: "start", MessageID: s.messageID}); err != nil {
			return err
		}
	}
	return s.sw.event("", chunk)
}

func (s *uiStream) event(ev Event) error {
	switch e := ev.(type) {
	case *StreamResponse:
		return s.field(e)
	case *StatusMessage:
		return s.write(uiData{Type: "data-status", Data: jsonValue(statusJSON{e.Message}), Transient: true})
	case *Custom:
		name := e.Name
		if name == "" {
			name = "custom"
		}
		return s.write(uiData{Type: "data-" + name, Data: jsonValue(e.Data)})
	case *StepStart:
		if err := s.closeParts(); err != nil {
			return err
		}
		s.step = s.step[:0]
		return s.write(uiType{Type: "start-step"})
	case *StepEnd:
		if err := s.closeParts(); err != nil {
			return err
		}
		for _, id := range s.step {
			// Arguments streamed, but the tool never ran: they were not a
			// JSON object, or named no tool the agent has.
			if t := s.tools[id]; !t.available {
				err := s.write(uiToolInputError{Type: "tool-input-error", ToolCallID: id, ToolName: t.name, Input: t.args.String(),
					ErrorText: "the tool was not called: its name or its arguments were not valid"})
				if err != nil {
					return err
				}
			}
		}
		return s.write(uiType{Type: "finish-step"})
	case *ToolCallDelta:
		t, err := s.tool(e.ToolCallID, e.ToolName)
		if err != nil || e.ArgsDelta == "" {
			return err
		}
		t.args.WriteString(e.ArgsDelta)
		return s.write(uiToolInputDelta{Type: "tool-input-delta", ToolCallID: e.ToolCallID, InputTextDelta: e.ArgsDelta})
	case *ToolCallStart:
		t, err := s.tool(e.ToolCallID, e.ToolName)
		if err != nil {
			return err
		}
		t.available = true
		return s.write(uiToolInput{Type: "tool-input-available", ToolCallID: e.ToolCallID, ToolName: e.ToolName, Input: jsonValue(e.Args)})
	case *ToolCallEnd:
		if _, ok := s.tools[e.ToolCallID]; !ok {
			return nil // never started: nothing to attach the output to
		}
		if e.Err != nil {
			text := toolErrorMessage(e.Err)
			if d := s.h.cfg.detail(e.Err); d != "" {
				text += " (" + d + ")"
			}
			return s.write(uiToolOutputError{Type: "tool-output-error", ToolCallID: e.ToolCallID, ErrorText: text})
		}
		return s.write(uiToolOutput{Type: "tool-output-available", ToolCallID: e.ToolCallID, Output: jsonValue(e.Result)})
	case *LMEnd:
		if e.Err == nil {
			s.finish = e.FinishReason
		}
	case *Final:
		return s.final(e.Prediction)
	}
	return nil
}

// tool returns the state of a tool call, announcing a new one with
// tool-input-start.
func (s *uiStream) tool(id, name string) (*uiTool, error) {
	if t, ok := s.tools[id]; ok {
		return t, nil
	}
	if s.tools == nil {
		s.tools = map[string]*uiTool{}
	}
	t := &uiTool{name: name}
	s.tools[id] = t
	s.step = append(s.step, id)
	return t, s.write(uiToolInputStart{Type: "tool-input-start", ToolCallID: id, ToolName: name})
}

// field sends a field chunk as a text or reasoning part.
func (s *uiStream) field(e *StreamResponse) error {
	kind := ""
	switch {
	case e.SignatureFieldName == s.h.answer:
		kind = "text"
		s.answered = true
	case reasoningField(e.SignatureFieldName):
		kind = "reasoning"
	default:
		return nil
	}
	i := slices.IndexFunc(s.open, func(p openPart) bool { return p.call == e.CallID && p.field == e.SignatureFieldName })
	if i < 0 {
		p := openPart{call: e.CallID, field: e.SignatureFieldName, kind: kind,
			id: e.SignatureFieldName + "-" + strconv.FormatUint(e.CallID, 10)}
		if err := s.write(uiPart{Type: kind + "-start", ID: p.id}); err != nil {
			return err
		}
		s.open = append(s.open, p)
		i = len(s.open) - 1
	}
	p := s.open[i]
	if e.Chunk != "" {
		if err := s.write(uiDelta{Type: kind + "-delta", ID: p.id, Delta: e.Chunk}); err != nil {
			return err
		}
	}
	if e.IsLastChunk {
		s.open = slices.Delete(s.open, i, i+1)
		return s.write(uiPart{Type: kind + "-end", ID: p.id})
	}
	return nil
}

// closeParts ends the parts still open: a step's parts end inside it.
func (s *uiStream) closeParts() error {
	for _, p := range s.open {
		if err := s.write(uiPart{Type: p.kind + "-end", ID: p.id}); err != nil {
			return err
		}
	}
	s.open = s.open[:0]
	return nil
}

// final sends what no listener streamed, then "finish".
func (s *uiStream) final(pred *dspy.Prediction) error {
	if err := s.closeParts(); err != nil {
		return err
	}
	if !s.answered && pred != nil && pred.Has(s.h.answer) {
		id := s.h.answer + "-final"
		for _, c := range []any{uiPart{Type: "text-start", ID: id}, uiDelta{Type: "text-delta", ID: id, Delta: pred.String(s.h.answer)}, uiPart{Type: "text-end", ID: id}} {
			if err := s.write(c); err != nil {
				return err
			}
		}
	}
	meta := uiMetadata{Prediction: predictionJSON{pred}}
	if pred != nil {
		meta.Usage = uiUsageOf(pred.Usage)
	}
	return s.write(uiFinish{Type: "finish", FinishReason: uiFinishReason(s.finish), MessageMetadata: meta})
}

// uiFinishReason maps an LM's finish reason to the SDK's.
func uiFinishReason(r string) string {
	switch r {
	case "", "stop":
		return "stop"
	case "length", "max_tokens":
		return "length"
	case "content_filter":
		return "content-filter"
	case "tool_calls", "tool_use":
		return "tool-calls"
	}
	return "other"
}

// The chunks, as the AI SDK's uiMessageChunkSchema (ai 7.0.173) defines
// them; TestUIMessageChunkShapes checks every key against it.
type (
	uiType struct {
		Type string `json:"type"`
	}
	uiStart struct {
		Type      string `json:"type"`
		MessageID string `json:"messageId"`
	}
	uiPart struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	}
	uiDelta struct {
		Type  string `json:"type"`
		ID    string `json:"id"`
		Delta string `json:"delta"`
	}
	uiError struct {
		Type      string `json:"type"`
		ErrorText string `json:"errorText"`
	}
	uiData struct {
		Type      string          `json:"type"`
		Data      json.RawMessage `json:"data"`
		Transient bool            `json:"transient,omitempty"`
	}
	uiToolInputStart struct {
		Type       string `json:"type"`
		ToolCallID string `json:"toolCallId"`
		ToolName   string `json:"toolName"`
	}
	uiToolInputDelta struct {
		Type           string `json:"type"`
		ToolCallID     string `json:"toolCallId"`
		InputTextDelta string `json:"inputTextDelta"`
	}
	uiToolInput struct {
		Type       string          `json:"type"`
		ToolCallID string          `json:"toolCallId"`
		ToolName   string          `json:"toolName"`
		Input      json.RawMessage `json:"input"`
	}
	uiToolInputError struct {
		Type       string `json:"type"`
		ToolCallID string `json:"toolCallId"`
		ToolName   string `json:"toolName"`
		Input      string `json:"input"`
		ErrorText  string `json:"errorText"`
	}
	uiToolOutput struct {
		Type       string          `json:"type"`
		ToolCallID string          `json:"toolCallId"`
		Output     json.RawMessage `json:"output"`
	}
	uiToolOutputError struct {
		Type       string `json:"type"`
		ToolCallID string `json:"toolCallId"`
		ErrorText  string `json:"errorText"`
	}
	uiFinish struct {
		Type            string     `json:"type"`
		FinishReason    string     `json:"finishReason"`
		MessageMetadata uiMetadata `json:"messageMetadata"`
	}
	uiMetadata struct {
		Usage      uiUsage        `json:"usage"`
		Prediction predictionJSON `json:"prediction"`
	}
	// uiUsage is the SDK's LanguageModelUsage; what a provider does not
	// report (cache writes) is left out.
	uiUsage struct {
		InputTokens       int `json:"inputTokens"`
		InputTokenDetails struct {
			NoCacheTokens   int `json:"noCacheTokens"`
			CacheReadTokens int `json:"cacheReadTokens"`
		} `json:"inputTokenDetails"`
		OutputTokens       int `json:"outputTokens"`
		OutputTokenDetails struct {
			TextTokens      int `json:"textTokens"`
			ReasoningTokens int `json:"reasoningTokens"`
		} `json:"outputTokenDetails"`
		TotalTokens int `json:"totalTokens"`
	}
)

func uiUsageOf(u lm.Usage) uiUsage {
	var v uiUsage
	v.InputTokens = u.PromptTokens
	v.InputTokenDetails.NoCacheTokens = u.PromptTokens - u.CachedTokens
	v.InputTokenDetails.CacheReadTokens = u.CachedTokens
	v.OutputTokens = u.CompletionTokens
	v.OutputTokenDetails.TextTokens = u.CompletionTokens - u.ReasoningTokens
	v.OutputTokenDetails.ReasoningTokens = u.ReasoningTokens
	v.TotalTokens = u.TotalTokens
	return v
}
