package otel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/lm/cache"
	"go.opentelemetry.io/otel/attribute"
)

// godspy's own attributes and events, for what the GenAI conventions
// (semconv v1.41.0) have no name for.
const (
	moduleTypeKey   = attribute.Key("godspy.module.type")     // Go type of a module: "dspy.ChainOfThought"
	modulePathKey   = attribute.Key("godspy.module.path")     // NamedPredictors path of a module in its program
	stepIndexKey    = attribute.Key("godspy.step.index")      // an agent iteration's number, from 0
	stepDoneKey     = attribute.Key("godspy.step.done")       // the agent finished with this iteration
	cacheHitKey     = attribute.Key("godspy.lm.cache_hit")    // the reply came from godspy's LM cache
	chunksKey       = attribute.Key("godspy.lm.chunks")       // chunks a streamed reply delivered
	retryAttemptKey = attribute.Key("godspy.retry.attempt")   // retry number, from 1
	retryDelayKey   = attribute.Key("godspy.retry.delay")     // seconds waited before the retry
	limitWaitKey    = attribute.Key("godspy.limit.wait")      // seconds waited for rate-limit capacity
	cacheResultKey  = attribute.Key("godspy.lm.cache.result") // "hit" or "miss" (metric attribute)

	retryEvent     = "godspy.lm.retry"
	limitWaitEvent = "godspy.lm.limit_wait"
)

// providerName maps godspy's provider names (dspy.NewLM's prefixes, as
// lm.Identify reports them) to the conventions' gen_ai.provider.name
// values where those differ; other names are kept.
func providerName(p string) string {
	switch p {
	case "":
		return "unknown"
	case "azure":
		return "azure.ai.openai"
	case "gemini":
		return "gcp.gemini"
	case "mistral":
		return "mistral_ai"
	case "xai":
		return "x_ai"
	}
	return p
}

// hasCache reports whether godspy's LM cache is in m's Unwrap chain, so
// that a reply that is not a hit counts as a miss.
func hasCache(m lm.LM) bool {
	for m != nil {
		if _, ok := m.(*cache.LM); ok {
			return true
		}
		u, ok := m.(interface{ Unwrap() lm.LM })
		if !ok {
			return false
		}
		m = u.Unwrap()
	}
	return false
}

// errorType is the error.type of err. The values, low-cardinality as the
// conventions ask:
//
//	canceled                 the context was cancelled (a consumer that stopped reading a stream, a client that left)
//	timeout                  the context's deadline passed
//	context_window_exceeded  lm.ErrContextWindow
//	<status code>            an *lm.APIError with an HTTP status: "429", "500", ...
//	<provider type or code>  an *lm.APIError inside a stream without a status: "overloaded_error", ...
//	stream_idle              lm.ErrStreamIdle
//	malformed_response       lm.ErrMalformed
//	refusal                  lm.ErrRefusal
//	parse_error              *dspy.ParseError: the reply did not parse into the signature
//	input_error              *dspy.InputError
//	tool_arg_error           *dspy.ToolArgError
//	panic                    *dspy.PanicError
//	no_lm                    dspy.ErrNoLM
//	_OTHER                   anything else
func errorType(err error) string {
	var (
		api  *lm.APIError
		pe   *dspy.ParseError
		ie   *dspy.InputError
		te   *dspy.ToolArgError
		pnic *dspy.PanicError
	)
	switch {
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, lm.ErrContextWindow):
		return "context_window_exceeded"
	case errors.As(err, &api):
		switch {
		case api.StatusCode != 0:
			return strconv.Itoa(api.StatusCode)
		case api.Type != "":
			return api.Type
		case api.Code != "":
			return api.Code
		}
		return "api_error"
	case errors.Is(err, lm.ErrStreamIdle):
		return "stream_idle"
	case errors.Is(err, lm.ErrMalformed):
		return "malformed_response"
	case errors.Is(err, lm.ErrRefusal):
		return "refusal"
	case errors.As(err, &pe):
		return "parse_error"
	case errors.As(err, &ie):
		return "input_error"
	case errors.As(err, &te):
		return "tool_arg_error"
	case errors.As(err, &pnic):
		return "panic"
	case errors.Is(err, dspy.ErrNoLM):
		return "no_lm"
	}
	return "_OTHER"
}

// describe is the status description of a failed call: the error's text,
// except that without content capture a parse error says only what failed
// to parse: its text quotes the LM's reply, and its cause the value.
func (t *tracer) describe(err error) string {
	var pe *dspy.ParseError
	if !t.content && errors.As(err, &pe) {
		if pe.Field != "" {
			return fmt.Sprintf("dspy: %s could not parse field %q", pe.Adapter, pe.Field)
		}
		return fmt.Sprintf("dspy: %s could not parse the LM response", pe.Adapter)
	}
	return err.Error()
}

// The JSON shapes of gen_ai.input.messages and gen_ai.output.messages
// (semconv v1.41.0 gen-ai-input-messages.json, gen-ai-output-messages.json).
// Spans cannot hold structured values yet, so they are JSON strings, as the
// conventions allow.
type (
	chatMessage struct {
		Role         string        `json:"role"`
		Parts        []messagePart `json:"parts"`
		Name         string        `json:"name,omitempty"`
		FinishReason string        `json:"finish_reason,omitempty"`
	}
	messagePart struct {
		Type      string `json:"type"`
		Content   string `json:"content,omitempty"`
		ID        string `json:"id,omitempty"`
		Name      string `json:"name,omitempty"`
		Arguments any    `json:"arguments,omitempty"`
		Response  any    `json:"response,omitempty"`
	}
)

func messageParts(m lm.Message) []messagePart {
	var parts []messagePart
	if m.Role == lm.RoleTool {
		return append(parts, messagePart{Type: "tool_call_response", ID: m.ToolCallID, Response: m.Content})
	}
	if m.Reasoning != "" {
		parts = append(parts, messagePart{Type: "reasoning", Content: m.Reasoning})
	}
	if m.Content != "" || len(m.ToolCalls) == 0 {
		parts = append(parts, messagePart{Type: "text", Content: m.Content})
	}
	for _, tc := range m.ToolCalls {
		parts = append(parts, messagePart{Type: "tool_call", ID: tc.ID, Name: tc.Name, Arguments: jsonValue(tc.Arguments)})
	}
	return parts
}

// jsonValue is the value of JSON text, or the text itself when it is not
// JSON (the conventions want arguments as an object where possible).
func jsonValue(s string) any {
	if json.Valid([]byte(s)) {
		return json.RawMessage(s)
	}
	return s
}

func inputMessages(msgs []lm.Message) string {
	out := make([]chatMessage, len(msgs))
	for i, m := range msgs {
		out[i] = chatMessage{Role: string(m.Role), Parts: messageParts(m), Name: m.Name}
	}
	return toJSON(out)
}

func outputMessages(choices []lm.Choice) string {
	out := make([]chatMessage, len(choices))
	for i, ch := range choices {
		reason := ch.FinishReason
		if reason == "" {
			reason = "stop"
		}
		out[i] = chatMessage{Role: string(lm.RoleAssistant), Parts: messageParts(ch.Message), FinishReason: reason}
	}
	return toJSON(out)
}

// toJSON encodes v; a value that cannot be encoded is described instead.
func toJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%q", fmt.Sprint(v))
	}
	return string(b)
}
