package anthropic

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/godspy/dspy/internal/provider"
	"github.com/godspy/dspy/lm"
)

type wireRequest struct {
	Model         string          `json:"model"`
	MaxTokens     int             `json:"max_tokens"`
	System        string          `json:"system,omitempty"`
	Messages      []wireMessage   `json:"messages"`
	Temperature   *float64        `json:"temperature,omitempty"`
	TopP          *float64        `json:"top_p,omitempty"`
	StopSequences []string        `json:"stop_sequences,omitempty"`
	Tools         []wireTool      `json:"tools,omitempty"`
	ToolChoice    *wireToolChoice `json:"tool_choice,omitempty"`
	Stream        bool            `json:"stream,omitempty"`
}

type wireMessage struct {
	Role    string      `json:"role"`
	Content []wireBlock `json:"content"`
}

type wireBlock struct {
	Type      string          `json:"type"`
	Text      string          `json:"text,omitempty"`
	ID        string          `json:"id,omitempty"`
	Name      string          `json:"name,omitempty"`
	Input     json.RawMessage `json:"input,omitempty"`
	ToolUseID string          `json:"tool_use_id,omitempty"`
	Content   string          `json:"content,omitempty"`
}

type wireTool struct {
	Name        string         `json:"name"`
	Description string         `json:"description,omitempty"`
	InputSchema map[string]any `json:"input_schema"`
}

type wireToolChoice struct {
	Type string `json:"type"`
	Name string `json:"name,omitempty"`
}

// encode builds the Messages body. System messages become the system
// prompt; tool results become tool_result blocks of a user turn, and
// consecutive turns of one role are merged, as the API requires
// alternation. ResponseFormat, N and Seed have no Messages equivalent and
// are not sent. Extra fields (e.g. "thinking") are merged last.
func (c *Client) encode(req *lm.Request, stream bool) ([]byte, error) {
	w := wireRequest{Model: req.Model, MaxTokens: req.MaxTokens, Temperature: req.Temperature, TopP: req.TopP, StopSequences: req.Stop, Stream: stream}
	if w.Model == "" {
		w.Model = c.model
	}
	if w.MaxTokens == 0 {
		w.MaxTokens = c.maxTokens
	}
	if w.Temperature == nil {
		w.Temperature = c.temperature
	}
	var system []string
	for _, m := range req.Messages {
		var role string
		var blocks []wireBlock
		switch m.Role {
		case lm.RoleSystem:
			system = append(system, m.Content)
			continue
		case lm.RoleTool:
			role = "user"
			blocks = []wireBlock{{Type: "tool_result", ToolUseID: m.ToolCallID, Content: m.Content}}
		case lm.RoleAssistant:
			role = "assistant"
			if m.Content != "" {
				blocks = append(blocks, wireBlock{Type: "text", Text: m.Content})
			}
			for _, tc := range m.ToolCalls {
				in := json.RawMessage(tc.Arguments)
				if !json.Valid(in) {
					in = json.RawMessage("{}")
				}
				blocks = append(blocks, wireBlock{Type: "tool_use", ID: tc.ID, Name: tc.Name, Input: in})
			}
		default:
			role = "user"
			blocks = []wireBlock{{Type: "text", Text: m.Content}}
		}
		if n := len(w.Messages); n > 0 && w.Messages[n-1].Role == role {
			w.Messages[n-1].Content = append(w.Messages[n-1].Content, blocks...)
			continue
		}
		w.Messages = append(w.Messages, wireMessage{Role: role, Content: blocks})
	}
	w.System = strings.Join(system, "\n\n")
	for _, t := range req.Tools {
		schema := t.Parameters
		if schema == nil {
			schema = map[string]any{"type": "object", "properties": map[string]any{}}
		}
		w.Tools = append(w.Tools, wireTool{Name: t.Name, Description: t.Description, InputSchema: schema})
	}
	switch req.ToolChoice {
	case "":
	case "auto", "none":
		w.ToolChoice = &wireToolChoice{Type: req.ToolChoice}
	case "required":
		w.ToolChoice = &wireToolChoice{Type: "any"}
	default:
		w.ToolChoice = &wireToolChoice{Type: "tool", Name: req.ToolChoice}
	}
	return provider.Encode(providerName, &w, req.Extra, "stream")
}

type wireUsage struct {
	InputTokens              int `json:"input_tokens"`
	OutputTokens             int `json:"output_tokens"`
	CacheCreationInputTokens int `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int `json:"cache_read_input_tokens"`
}

// merge takes the counts u reports over those already known: message_delta
// carries cumulative output (and, lately, input) counts.
func (u *wireUsage) merge(v *wireUsage) {
	if v.InputTokens != 0 {
		u.InputTokens = v.InputTokens
	}
	if v.OutputTokens != 0 {
		u.OutputTokens = v.OutputTokens
	}
	if v.CacheCreationInputTokens != 0 {
		u.CacheCreationInputTokens = v.CacheCreationInputTokens
	}
	if v.CacheReadInputTokens != 0 {
		u.CacheReadInputTokens = v.CacheReadInputTokens
	}
}

// toLM counts cache reads and writes in PromptTokens, as OpenAI does, so
// PromptTokens is the whole prompt; CachedTokens is the part read from cache.
func (u *wireUsage) toLM() lm.Usage {
	p := u.InputTokens + u.CacheCreationInputTokens + u.CacheReadInputTokens
	return lm.Usage{PromptTokens: p, CompletionTokens: u.OutputTokens, TotalTokens: p + u.OutputTokens, CachedTokens: u.CacheReadInputTokens}
}

// FinishReason maps Anthropic's stop_reason to the chat-completions names
// used by lm: end_turn and stop_sequence are "stop", max_tokens "length",
// tool_use "tool_calls", refusal "content_filter"; others pass through.
func FinishReason(stop string) string {
	switch stop {
	case "end_turn", "stop_sequence":
		return "stop"
	case "max_tokens", "model_context_window_exceeded":
		return "length"
	case "tool_use":
		return "tool_calls"
	case "refusal":
		return "content_filter"
	}
	return stop
}

type wireMessageResponse struct {
	ID      string `json:"id"`
	Model   string `json:"model"`
	Content []struct {
		Type     string          `json:"type"`
		Text     string          `json:"text"`
		Thinking string          `json:"thinking"`
		ID       string          `json:"id"`
		Name     string          `json:"name"`
		Input    json.RawMessage `json:"input"`
	} `json:"content"`
	StopReason string     `json:"stop_reason"`
	Usage      *wireUsage `json:"usage"`
}

func decodeMessage(b []byte) (*lm.Response, error) {
	var w wireMessageResponse
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("anthropic: %w: %v", lm.ErrMalformed, err)
	}
	msg := lm.Message{Role: lm.RoleAssistant}
	var text, reasoning strings.Builder
	for _, blk := range w.Content {
		switch blk.Type {
		case "text":
			text.WriteString(blk.Text)
		case "thinking":
			reasoning.WriteString(blk.Thinking)
		case "tool_use":
			msg.ToolCalls = append(msg.ToolCalls, lm.ToolCall{ID: blk.ID, Name: blk.Name, Arguments: string(blk.Input)})
		}
	}
	msg.Content, msg.Reasoning = text.String(), reasoning.String()
	out := &lm.Response{ID: w.ID, Model: w.Model, Choices: []lm.Choice{{Message: msg, FinishReason: FinishReason(w.StopReason)}}}
	if w.Usage != nil {
		out.Usage = w.Usage.toLM()
	}
	return out, nil
}
