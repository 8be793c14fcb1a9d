package openai

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/godspy/dspy/internal/provider"
	"github.com/godspy/dspy/lm"
)

// Request side.

type wireRequest struct {
	Model               string         `json:"model"`
	Messages            []wireMessage  `json:"messages"`
	Temperature         *float64       `json:"temperature,omitempty"`
	TopP                *float64       `json:"top_p,omitempty"`
	MaxTokens           int            `json:"max_tokens,omitempty"`
	MaxCompletionTokens int            `json:"max_completion_tokens,omitempty"`
	N                   int            `json:"n,omitempty"`
	Stop                []string       `json:"stop,omitempty"`
	Seed                *int64         `json:"seed,omitempty"`
	ResponseFormat      *wireFormat    `json:"response_format,omitempty"`
	Tools               []wireTool     `json:"tools,omitempty"`
	ToolChoice          any            `json:"tool_choice,omitempty"`
	Stream              bool           `json:"stream,omitempty"`
	StreamOptions       *streamOptions `json:"stream_options,omitempty"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

type wireMessage struct {
	Role       string         `json:"role"`
	Content    *string        `json:"content"`
	Name       string         `json:"name,omitempty"`
	ToolCalls  []wireToolCall `json:"tool_calls,omitempty"`
	ToolCallID string         `json:"tool_call_id,omitempty"`
}

type wireToolCall struct {
	Index    *int         `json:"index,omitempty"`
	ID       string       `json:"id,omitempty"`
	Type     string       `json:"type,omitempty"`
	Function wireFunction `json:"function"`
}

type wireFunction struct {
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments"`
}

type wireTool struct {
	Type     string          `json:"type"`
	Function wireToolFuncDef `json:"function"`
}

type wireToolFuncDef struct {
	Name        string         `json:"name"`
	Description string         `json:"description,omitempty"`
	Parameters  map[string]any `json:"parameters,omitempty"`
}

type wireFormat struct {
	Type       string          `json:"type"`
	JSONSchema *wireJSONSchema `json:"json_schema,omitempty"`
}

type wireJSONSchema struct {
	Name   string         `json:"name"`
	Schema map[string]any `json:"schema,omitempty"`
	Strict bool           `json:"strict,omitempty"`
}

// encode builds the JSON body of req. Extra fields are merged last and win
// over the fields the client sets, except "stream" and "stream_options".
func (c *Client) encode(req *lm.Request, stream bool) ([]byte, error) {
	w := wireRequest{
		Model:       req.Model,
		Temperature: req.Temperature,
		TopP:        req.TopP,
		N:           req.N,
		Stop:        req.Stop,
		Seed:        req.Seed,
		Stream:      stream,
	}
	if w.Model == "" {
		w.Model = c.model
	}
	if w.Temperature == nil {
		w.Temperature = c.temperature
	}
	maxTokens := req.MaxTokens
	if maxTokens == 0 {
		maxTokens = c.maxTokens
	}
	if c.maxField == "max_completion_tokens" {
		w.MaxCompletionTokens = maxTokens
	} else {
		w.MaxTokens = maxTokens
	}
	if stream {
		w.StreamOptions = &streamOptions{IncludeUsage: true}
	}
	w.Messages = make([]wireMessage, len(req.Messages))
	for i, m := range req.Messages {
		wm := wireMessage{Role: string(m.Role), Name: m.Name, ToolCallID: m.ToolCallID}
		if m.Content != "" || len(m.ToolCalls) == 0 {
			s := m.Content
			wm.Content = &s
		}
		for _, tc := range m.ToolCalls {
			wm.ToolCalls = append(wm.ToolCalls, wireToolCall{ID: tc.ID, Type: "function", Function: wireFunction{Name: tc.Name, Arguments: tc.Arguments}})
		}
		w.Messages[i] = wm
	}
	for _, t := range req.Tools {
		w.Tools = append(w.Tools, wireTool{Type: "function", Function: wireToolFuncDef{Name: t.Name, Description: t.Description, Parameters: t.Parameters}})
	}
	switch req.ToolChoice {
	case "":
	case "auto", "none", "required":
		w.ToolChoice = req.ToolChoice
	default:
		w.ToolChoice = map[string]any{"type": "function", "function": map[string]string{"name": req.ToolChoice}}
	}
	if f := req.ResponseFormat; f != nil && f.Type != "" {
		w.ResponseFormat = &wireFormat{Type: f.Type}
		if f.Type == "json_schema" {
			name := f.Name
			if name == "" {
				name = "response"
			}
			w.ResponseFormat.JSONSchema = &wireJSONSchema{Name: name, Schema: f.Schema, Strict: f.Strict}
		}
	}
	return provider.Encode(c.provider, &w, req.Extra, "stream", "stream_options")
}

// Response side.

type wireUsage struct {
	PromptTokens        int `json:"prompt_tokens"`
	CompletionTokens    int `json:"completion_tokens"`
	TotalTokens         int `json:"total_tokens"`
	CachedTokens        int `json:"cached_tokens"` // Together puts it here
	PromptTokensDetails struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
	CompletionTokensDetails struct {
		ReasoningTokens int `json:"reasoning_tokens"`
	} `json:"completion_tokens_details"`
}

func (u *wireUsage) toLM() lm.Usage {
	cached := u.PromptTokensDetails.CachedTokens
	if cached == 0 {
		cached = u.CachedTokens
	}
	total := u.TotalTokens
	if total == 0 {
		total = u.PromptTokens + u.CompletionTokens
	}
	return lm.Usage{
		PromptTokens:     u.PromptTokens,
		CompletionTokens: u.CompletionTokens,
		TotalTokens:      total,
		CachedTokens:     cached,
		ReasoningTokens:  u.CompletionTokensDetails.ReasoningTokens,
	}
}

// wireError is the "error" object of an error body or a mid-stream chunk.
type wireError struct {
	Message    string   `json:"message"`
	Type       string   `json:"type"`
	Code       flexText `json:"code"`
	StatusCode int      `json:"status_code"`
}

// flexText accepts a JSON string or number (OpenRouter sends numeric codes).
type flexText string

func (f *flexText) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexText(s)
		return nil
	}
	if string(b) == "null" {
		return nil
	}
	*f = flexText(bytes.TrimSpace(b))
	return nil
}

// apiError converts an error payload. A numeric status in the payload
// (status_code, or a numeric code between 400 and 599) becomes StatusCode, so
// a mid-stream "400" matches lm.ErrBadRequest rather than lm.ErrServer.
func (e *wireError) apiError() *lm.APIError {
	out := &lm.APIError{Type: e.Type, Code: string(e.Code), Message: e.Message, StatusCode: e.StatusCode}
	if out.StatusCode == 0 {
		if n, err := strconv.Atoi(out.Code); err == nil && n >= 400 && n < 600 {
			out.StatusCode = n
		}
	}
	return out
}

// parseErrorBody reads the error bodies servers send: {"error": {...}},
// [{"error": {...}}] (Gemini), {"error": "text"}, {"message": ...} or
// {"detail": ...}; anything else becomes the message, trimmed.
func parseErrorBody(b []byte) *lm.APIError {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		var arr []json.RawMessage
		if json.Unmarshal(b, &arr) == nil && len(arr) > 0 {
			b = arr[0]
		}
	}
	var env struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
		Detail  any             `json:"detail"`
	}
	if json.Unmarshal(b, &env) == nil {
		if len(env.Error) > 0 && env.Error[0] == '{' {
			var we wireError
			if json.Unmarshal(env.Error, &we) == nil {
				e := we.apiError()
				e.StatusCode = 0
				return e
			}
		}
		if len(env.Error) > 0 && env.Error[0] == '"' {
			var s string
			_ = json.Unmarshal(env.Error, &s)
			return &lm.APIError{Message: s}
		}
		if env.Message != "" {
			return &lm.APIError{Message: env.Message}
		}
		if s, ok := env.Detail.(string); ok {
			return &lm.APIError{Message: s}
		}
		if env.Detail != nil {
			d, _ := json.Marshal(env.Detail)
			return &lm.APIError{Message: truncate(string(d), 500)}
		}
	}
	return &lm.APIError{Message: truncate(string(b), 500)}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

type wireResponse struct {
	ID      string `json:"id"`
	Model   string `json:"model"`
	Choices []struct {
		Index   int `json:"index"`
		Message struct {
			Role             string         `json:"role"`
			Content          content        `json:"content"`
			ReasoningContent string         `json:"reasoning_content"`
			Reasoning        string         `json:"reasoning"`
			Refusal          string         `json:"refusal"`
			ToolCalls        []wireToolCall `json:"tool_calls"`
		} `json:"message"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Usage *wireUsage `json:"usage"`
	Error *wireError `json:"error"`
}

func (c *Client) decodeResponse(b []byte, h http.Header) (*lm.Response, error) {
	var w wireResponse
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("%s: %w: %v", c.provider, lm.ErrMalformed, err)
	}
	if w.Error != nil {
		e := w.Error.apiError()
		e.Provider, e.RequestID = c.provider, requestID(h)
		c.redact.APIError(e)
		return nil, e
	}
	out := &lm.Response{ID: w.ID, Model: w.Model, Choices: make([]lm.Choice, 0, len(w.Choices))}
	for _, ch := range w.Choices {
		m := ch.Message
		refusal := m.Refusal + m.Content.refusal
		if refusal != "" && m.Content.text == "" && len(m.ToolCalls) == 0 {
			return nil, &RefusalError{Refusal: refusal}
		}
		msg := lm.Message{Role: lm.RoleAssistant, Content: m.Content.text, Reasoning: m.ReasoningContent + m.Content.reasoning}
		if msg.Reasoning == "" {
			msg.Reasoning = m.Reasoning
		}
		for _, tc := range m.ToolCalls {
			msg.ToolCalls = append(msg.ToolCalls, lm.ToolCall{ID: tc.ID, Name: tc.Function.Name, Arguments: tc.Function.Arguments})
		}
		out.Choices = append(out.Choices, lm.Choice{Message: msg, FinishReason: ch.FinishReason})
	}
	if w.Usage != nil {
		out.Usage = w.Usage.toLM()
	}
	return out, nil
}

// Stream side: minimal structs, reused between chunks.

type chunkBody struct {
	Choices []chunkChoice `json:"choices"`
	Usage   *wireUsage    `json:"usage"`
	Error   *wireError    `json:"error"`
	// XGroq carries Groq's usage, on its last chunk.
	XGroq *struct {
		Usage *wireUsage `json:"usage"`
	} `json:"x_groq"`
}

// chunkHead also decodes the response id and model; only the first chunk is
// decoded with it, to save two string allocations on every later chunk.
type chunkHead struct {
	ID    string `json:"id"`
	Model string `json:"model"`
	chunkBody
}

type chunkChoice struct {
	Index        int        `json:"index"`
	Delta        chunkDelta `json:"delta"`
	FinishReason string     `json:"finish_reason"`
}

type chunkDelta struct {
	Content          string         `json:"content"`
	ReasoningContent string         `json:"reasoning_content"`
	Reasoning        string         `json:"reasoning"`
	Refusal          string         `json:"refusal"`
	ToolCalls        []wireToolCall `json:"tool_calls"`
}

// reset zeroes b for the next chunk, keeping the choices' capacity.
func (b *chunkBody) reset() {
	ch := b.Choices[:cap(b.Choices)]
	clear(ch)
	*b = chunkBody{Choices: ch[:0]}
}
