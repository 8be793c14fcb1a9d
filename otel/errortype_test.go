package otel

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/lm"
)

func TestErrorType(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{fmt.Errorf("streaming: consumer stopped reading: %w", context.Canceled), "canceled"},
		{&lm.StreamError{Err: context.DeadlineExceeded}, "timeout"},
		{&lm.APIError{StatusCode: 400, Code: "context_length_exceeded"}, "context_window_exceeded"},
		{fmt.Errorf("wrapped: %w", &lm.APIError{StatusCode: 429}), "429"},
		{&lm.StreamError{Err: &lm.APIError{Type: "overloaded_error"}}, "overloaded_error"},
		{&lm.APIError{Code: "server_error"}, "server_error"},
		{&lm.APIError{}, "api_error"},
		{fmt.Errorf("x: %w", lm.ErrStreamIdle), "stream_idle"},
		{lm.ErrMalformed, "malformed_response"},
		{lm.ErrRefusal, "refusal"},
		{&dspy.ParseError{Adapter: "ChatAdapter", Field: "answer", Err: errors.New("missing")}, "parse_error"},
		{&dspy.InputError{Signature: dspy.MustSignature("a -> b"), Field: "a", Missing: true}, "input_error"},
		{&dspy.ToolArgError{}, "tool_arg_error"},
		{&dspy.PanicError{Value: "boom"}, "panic"},
		{dspy.ErrNoLM, "no_lm"},
		{errors.New("backend down"), "_OTHER"},
	}
	for _, tt := range tests {
		if got := errorType(tt.err); got != tt.want {
			t.Errorf("errorType(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestProviderName(t *testing.T) {
	for in, want := range map[string]string{
		"openai": "openai", "anthropic": "anthropic", "azure": "azure.ai.openai", "gemini": "gcp.gemini",
		"groq": "groq", "ollama": "ollama", "": "unknown",
	} {
		if got := providerName(in); got != want {
			t.Errorf("providerName(%q) = %q, want %q", in, got, want)
		}
	}
}
