// Package lm is godspy's provider-neutral language-model layer: the messages,
// requests, responses and stream chunks that every provider speaks, the LM
// interface that modules consume, and the typed errors callers match with
// errors.Is and errors.As.
//
// Providers live in sub-packages (lm/openai, lm/anthropic); dspy.NewLM picks
// one from a "provider/model" string. This package imports no vendor SDK.
package lm

import (
	"context"
	"iter"
)

// LM is what a module needs from a language model: one blocking call and one
// streaming call. Implementations must be safe for concurrent use.
//
// Stream returns a single-use iterator. The provider opens the request when
// iteration starts, yields chunks as they arrive, and yields a non-nil error as
// the last element if the call fails. A consumer that stops early (break)
// releases the connection: the iterator cancels the HTTP request before it
// returns. Retries, where a provider does them, happen only before the first
// chunk is yielded.
type LM interface {
	Generate(ctx context.Context, req *Request) (*Response, error)
	Stream(ctx context.Context, req *Request) iter.Seq2[Chunk, error]
}

// Role is the author of a message.
type Role string

// Roles of the chat-completions family.
const (
	RoleSystem    Role = "system"
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
	RoleTool      Role = "tool"
)

// Message is one turn of a conversation.
type Message struct {
	Role    Role
	Content string
	// Reasoning is a provider's native reasoning text (reasoning_content,
	// Anthropic thinking), when it returns one.
	Reasoning string
	// ToolCalls are the calls an assistant message asks for.
	ToolCalls []ToolCall
	// ToolCallID links a RoleTool message to the call it answers.
	ToolCallID string
	// Name is an optional participant or tool name.
	Name string
}

// ToolCall is one function call requested by the model.
type ToolCall struct {
	ID   string
	Name string
	// Arguments is the JSON text of the arguments, as the model wrote it.
	Arguments string
}

// ToolSpec describes a tool the model may call (native tool calling).
type ToolSpec struct {
	Name        string
	Description string
	// Parameters is the JSON schema of the arguments object.
	Parameters map[string]any
}

// ResponseFormat asks for structured output.
type ResponseFormat struct {
	// Type is "text", "json_object" or "json_schema".
	Type string
	// Name and Schema describe the object for Type "json_schema".
	Name   string
	Schema map[string]any
	Strict bool
}

// Request is one call to a model. Zero values mean "provider default".
type Request struct {
	// Model overrides the LM's configured model when set.
	Model       string
	Messages    []Message
	Temperature *float64
	TopP        *float64
	MaxTokens   int
	// N asks for several choices. Streaming delivers choice 0 only.
	N    int
	Stop []string
	Seed *int64
	// ResponseFormat requests JSON output; nil means free text.
	ResponseFormat *ResponseFormat
	Tools          []ToolSpec
	// ToolChoice is "auto", "none", "required" or a tool name.
	ToolChoice string
	// Extra holds provider-specific body fields, merged into the wire request
	// (for example {"reasoning_effort": "low"}). Keys the client sets itself
	// are overridden.
	Extra map[string]any
	// RolloutID makes otherwise identical requests distinct for caching, so a
	// caller can ask for a fresh sample on purpose. Providers do not send it.
	RolloutID string
	// NoCache skips cache lookup and store for this call.
	NoCache bool
}

// Clone returns a copy of r whose slices and maps can be changed without
// affecting r. Message contents are shared (strings are immutable).
func (r *Request) Clone() *Request {
	c := *r
	c.Messages = append([]Message(nil), r.Messages...)
	c.Stop = append([]string(nil), r.Stop...)
	c.Tools = append([]ToolSpec(nil), r.Tools...)
	if r.Extra != nil {
		c.Extra = make(map[string]any, len(r.Extra))
		for k, v := range r.Extra {
			c.Extra[k] = v
		}
	}
	return &c
}

// Choice is one completion of a Response.
type Choice struct {
	Message Message
	// FinishReason is "stop", "length", "tool_calls", "content_filter", ...
	FinishReason string
}

// Response is the result of a blocking call.
type Response struct {
	ID      string
	Model   string
	Choices []Choice
	Usage   Usage
	// CacheHit reports that the response came from a cache; Usage is then zero.
	CacheHit bool
}

// Text returns the content of the first choice, or "".
func (r *Response) Text() string {
	if r == nil || len(r.Choices) == 0 {
		return ""
	}
	return r.Choices[0].Message.Content
}

// Chunk is one piece of a streamed response (choice 0).
type Chunk struct {
	// Text is the next piece of content.
	Text string
	// Reasoning is the next piece of native reasoning text.
	Reasoning string
	// ToolCalls carries tool-call fragments; fragments with the same Index
	// belong to one call and their Arguments concatenate.
	ToolCalls []ToolCallDelta
	// FinishReason is set on the chunk that ends the choice.
	FinishReason string
	// Usage is set on the chunk that reports token usage, if the provider
	// sends one.
	Usage *Usage
	// ID and Model identify the response, when the provider says.
	ID    string
	Model string
	// CacheHit is set on every chunk of a reply replayed from a cache.
	CacheHit bool
}

// ToolCallDelta is a fragment of a streamed tool call.
type ToolCallDelta struct {
	Index     int
	ID        string
	Name      string
	Arguments string
}

// Usage counts tokens.
type Usage struct {
	PromptTokens     int
	CompletionTokens int
	TotalTokens      int
	// CachedTokens is the part of PromptTokens served from the provider's
	// prompt cache.
	CachedTokens int
	// ReasoningTokens is the part of CompletionTokens spent on reasoning.
	ReasoningTokens int
}

// Add returns the sum of u and v.
func (u Usage) Add(v Usage) Usage {
	return Usage{
		PromptTokens:     u.PromptTokens + v.PromptTokens,
		CompletionTokens: u.CompletionTokens + v.CompletionTokens,
		TotalTokens:      u.TotalTokens + v.TotalTokens,
		CachedTokens:     u.CachedTokens + v.CachedTokens,
		ReasoningTokens:  u.ReasoningTokens + v.ReasoningTokens,
	}
}

// IsZero reports whether no tokens were counted.
func (u Usage) IsZero() bool { return u == Usage{} }
