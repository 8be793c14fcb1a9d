package openai

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/godspy/dspy/internal/provider"
	"github.com/godspy/dspy/lm"
)

// Request side of the Responses API.

type respRequest struct {
	Model           string       `json:"model"`
	Input           []respInput  `json:"input"`
	Temperature     *float64     `json:"temperature,omitempty"`
	TopP            *float64     `json:"top_p,omitempty"`
	MaxOutputTokens int          `json:"max_output_tokens,omitempty"`
	Tools           []respTool   `json:"tools,omitempty"`
	ToolChoice      any          `json:"tool_choice,omitempty"`
	Text            *respTextOpt `json:"text,omitempty"`
	Store           bool         `json:"store"`
	Stream          bool         `json:"stream,omitempty"`
}

// respInput is one input item: a message (Role and Content) or, by Type, a
// function_call or a function_call_output.
type respInput struct {
	Type      string        `json:"type,omitempty"`
	Role      string        `json:"role,omitempty"`
	Content   []respContent `json:"content,omitempty"`
	CallID    string        `json:"call_id,omitempty"`
	Name      string        `json:"name,omitempty"`
	Arguments *string       `json:"arguments,omitempty"`
	Output    *string       `json:"output,omitempty"`
}

type respContent struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type respTool struct {
	Type        string         `json:"type"`
	Name        string         `json:"name"`
	Description string         `json:"description,omitempty"`
	Parameters  map[string]any `json:"parameters,omitempty"`
	Strict      bool           `json:"strict"`
}

type respTextOpt struct {
	Format respFormat `json:"format"`
}

type respFormat struct {
	Type   string         `json:"type"`
	Name   string         `json:"name,omitempty"`
	Schema map[string]any `json:"schema,omitempty"`
	Strict bool           `json:"strict,omitempty"`
}

// errUnsupported is wrapped (with lm.ErrConfig) for request fields the
// Responses API does not have.
var errUnsupported = errors.New("the Responses API has no such parameter")

// encode builds the body of req as DSPy's Responses request mapping does
// (dspy/clients/openai_format.py, to_openai_responses_request): each
// message an input message whose text is "input_text", or "output_text" in
// an assistant's; an assistant's tool calls function_call items after its
// text (no message item when it has no text); a tool result a
// function_call_output. Extra is merged last and wins, except "stream".
func (r *Responses) encode(req *lm.Request, stream bool) ([]byte, error) {
	c := r.c
	switch {
	case req.N > 1:
		return nil, fmt.Errorf("%s: n=%d: %w (no n; make several calls): %w", c.provider, req.N, errUnsupported, lm.ErrConfig)
	case len(req.Stop) > 0:
		return nil, fmt.Errorf("%s: stop %q: %w (no stop sequences): %w", c.provider, req.Stop, errUnsupported, lm.ErrConfig)
	case req.Seed != nil:
		return nil, fmt.Errorf("%s: seed: %w (no seed): %w", c.provider, errUnsupported, lm.ErrConfig)
	}
	w := respRequest{Model: req.Model, Temperature: req.Temperature, TopP: req.TopP, MaxOutputTokens: req.MaxTokens, Stream: stream}
	if w.Model == "" {
		w.Model = c.model
	}
	if w.Temperature == nil {
		w.Temperature = c.temperature
	}
	if w.MaxOutputTokens == 0 {
		w.MaxOutputTokens = c.maxTokens
	}
	w.Input = make([]respInput, 0, len(req.Messages))
	for _, m := range req.Messages {
		switch {
		case m.Role == lm.RoleTool:
			out := m.Content
			w.Input = append(w.Input, respInput{Type: "function_call_output", CallID: m.ToolCallID, Output: &out})
			continue
		case m.Role != lm.RoleAssistant || m.Content != "" || len(m.ToolCalls) == 0:
			kind := "input_text"
			if m.Role == lm.RoleAssistant {
				kind = "output_text" // the API rejects input_text in an assistant's item
			}
			w.Input = append(w.Input, respInput{Role: string(m.Role), Content: []respContent{{Type: kind, Text: m.Content}}})
		}
		if m.Role != lm.RoleAssistant {
			continue
		}
		for _, tc := range m.ToolCalls {
			args := tc.Arguments
			if args == "" {
				args = "{}"
			}
			w.Input = append(w.Input, respInput{Type: "function_call", CallID: tc.ID, Name: tc.Name, Arguments: &args})
		}
	}
	for _, t := range req.Tools {
		// strict is sent as false: the chat-completions default, so that a
		// tool schema valid there is valid here.
		w.Tools = append(w.Tools, respTool{Type: "function", Name: t.Name, Description: t.Description, Parameters: t.Parameters})
	}
	switch req.ToolChoice {
	case "":
	case "auto", "none", "required":
		w.ToolChoice = req.ToolChoice
	default:
		w.ToolChoice = map[string]string{"type": "function", "name": req.ToolChoice}
	}
	if f := req.ResponseFormat; f != nil && f.Type != "" {
		w.Text = &respTextOpt{Format: respFormat{Type: f.Type}}
		if f.Type == "json_schema" {
			name := f.Name
			if name == "" {
				name = "response"
			}
			w.Text.Format.Name, w.Text.Format.Schema, w.Text.Format.Strict = name, f.Schema, f.Strict
		}
	}
	return provider.Encode(c.provider, &w, responsesExtra(req.Extra), "stream")
}

// responsesExtra returns extra with a chat-style "reasoning_effort" turned
// into the Responses form {"reasoning": {"effort": …, "summary": "auto"}},
// as DSPy does (asking for the summary it exposes as reasoning); an
// explicit "reasoning" wins and the shorthand is dropped. extra itself is
// not changed.
func responsesExtra(extra map[string]any) map[string]any {
	effort, ok := extra["reasoning_effort"]
	if !ok {
		return extra
	}
	out := make(map[string]any, len(extra))
	for k, v := range extra {
		if k != "reasoning_effort" {
			out[k] = v
		}
	}
	if _, set := out["reasoning"]; !set {
		out["reasoning"] = map[string]any{"effort": effort, "summary": "auto"}
	}
	return out
}

// Response side.

type respUsage struct {
	InputTokens        int `json:"input_tokens"`
	OutputTokens       int `json:"output_tokens"`
	TotalTokens        int `json:"total_tokens"`
	InputTokensDetails struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"input_tokens_details"`
	OutputTokensDetails struct {
		ReasoningTokens int `json:"reasoning_tokens"`
	} `json:"output_tokens_details"`
}

func (u *respUsage) toLM() lm.Usage {
	total := u.TotalTokens
	if total == 0 {
		total = u.InputTokens + u.OutputTokens
	}
	return lm.Usage{
		PromptTokens:     u.InputTokens,
		CompletionTokens: u.OutputTokens,
		TotalTokens:      total,
		CachedTokens:     u.InputTokensDetails.CachedTokens,
		ReasoningTokens:  u.OutputTokensDetails.ReasoningTokens,
	}
}

// respError is the error of a failed response, or of an error event (which
// has its fields at the top level or, as recorded, in an "error" object).
type respError struct {
	Type    string   `json:"type"`
	Code    flexText `json:"code"`
	Message string   `json:"message"`
}

// apiError converts a Responses error. The API reports errors inside a
// response or a stream with a code and no status; the codes OpenAI answers
// with an HTTP status elsewhere get that status, so that they match the
// same lm sentinels and retry the same way: rate_limit_exceeded and
// insufficient_quota 429, server_error and vector_store_timeout 500, the
// invalid_* and image_* codes of a bad input 400. Other codes keep status
// 0 (lm.ErrServer).
func (e *respError) apiError() *lm.APIError {
	out := &lm.APIError{Type: e.Type, Code: string(e.Code), Message: e.Message}
	switch code := out.Code; {
	case code == "rate_limit_exceeded" || code == "insufficient_quota":
		out.StatusCode = http.StatusTooManyRequests
	case code == "server_error" || code == "vector_store_timeout":
		out.StatusCode = http.StatusInternalServerError
	case code == "context_length_exceeded" || strings.HasPrefix(code, "invalid_") || strings.HasPrefix(code, "image_") ||
		code == "empty_image_file" || code == "failed_to_download_image" || code == "unsupported_image_media_type":
		out.StatusCode = http.StatusBadRequest
	}
	return out
}

// respPart is a content part of an output item: output_text, refusal,
// reasoning_text or summary_text.
type respPart struct {
	Type    string `json:"type"`
	Text    string `json:"text"`
	Refusal string `json:"refusal"`
}

type respOutputItem struct {
	Type      string     `json:"type"`
	CallID    string     `json:"call_id"`
	Name      string     `json:"name"`
	Arguments string     `json:"arguments"`
	Content   []respPart `json:"content"`
	Summary   []respPart `json:"summary"`
}

type respObject struct {
	ID                string           `json:"id"`
	Model             string           `json:"model"`
	Status            string           `json:"status"`
	Output            []respOutputItem `json:"output"`
	Usage             *respUsage       `json:"usage"`
	Error             *respError       `json:"error"`
	IncompleteDetails *struct {
		Reason string `json:"reason"`
	} `json:"incomplete_details"`
}

// reasoningSep separates two parts of reasoning (summary parts, reasoning
// items) in Message.Reasoning and between streamed parts: DSPy joins them
// with nothing, which runs a summary's last sentence into the next one's
// bold title.
const reasoningSep = "\n\n"

// finishReason maps a response's status to the chat-completions finish
// reasons: "stop", "tool_calls" when it asks for function calls,
// "length" for max_output_tokens, "content_filter". Another reason of an
// incomplete response is returned as the API wrote it.
func finishReason(status, incomplete string, calls bool) string {
	if status == "incomplete" {
		switch incomplete {
		case "max_output_tokens", "":
			return "length"
		}
		return incomplete
	}
	if calls {
		return "tool_calls"
	}
	return "stop"
}

// failure returns the error of a response whose status is neither
// completed nor incomplete: "failed" (its error), or a status a background
// response has before it ends, which this client cannot wait for.
func (c *Client) failure(status string, e *respError, h http.Header) error {
	var api *lm.APIError
	switch {
	case e != nil:
		api = e.apiError()
	case status == "failed":
		api = &lm.APIError{Code: "failed", Message: "the response failed without an error"}
	default:
		api = &lm.APIError{Code: status, Message: "the response is " + status + ", not finished (background responses are not supported)"}
	}
	api.Provider, api.RequestID = c.provider, requestID(h)
	c.redact.APIError(api)
	return api
}

func (r *Responses) decodeResponse(b []byte, h http.Header) (*lm.Response, error) {
	c := r.c
	var w respObject
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("%s: %w: %v", c.provider, lm.ErrMalformed, err)
	}
	if w.Error != nil || (w.Status != "" && w.Status != "completed" && w.Status != "incomplete") {
		return nil, c.failure(w.Status, w.Error, h)
	}
	msg := lm.Message{Role: lm.RoleAssistant}
	var text, reasoning, refusal strings.Builder
	addReasoning := func(s string) {
		if s == "" {
			return
		}
		if reasoning.Len() > 0 {
			reasoning.WriteString(reasoningSep)
		}
		reasoning.WriteString(s)
	}
	for _, it := range w.Output {
		switch it.Type {
		case "message":
			for _, p := range it.Content {
				switch p.Type {
				case "output_text", "text":
					text.WriteString(p.Text)
				case "refusal":
					refusal.WriteString(p.Refusal)
				}
			}
		case "function_call":
			msg.ToolCalls = append(msg.ToolCalls, lm.ToolCall{ID: it.CallID, Name: it.Name, Arguments: it.Arguments})
		case "reasoning":
			// Open models send reasoning_text content, OpenAI summaries;
			// both are kept, in the order a stream delivers them.
			for _, p := range it.Content {
				addReasoning(p.Text)
			}
			for _, p := range it.Summary {
				addReasoning(p.Text)
			}
		}
	}
	msg.Content, msg.Reasoning = text.String(), reasoning.String()
	if refusal.Len() > 0 && msg.Content == "" && len(msg.ToolCalls) == 0 {
		return nil, &RefusalError{Refusal: refusal.String()}
	}
	var reason string
	if w.IncompleteDetails != nil {
		reason = w.IncompleteDetails.Reason
	}
	out := &lm.Response{ID: w.ID, Model: w.Model, Choices: []lm.Choice{{Message: msg, FinishReason: finishReason(w.Status, reason, len(msg.ToolCalls) > 0)}}}
	if w.Usage != nil {
		out.Usage = w.Usage.toLM()
	}
	return out, nil
}
