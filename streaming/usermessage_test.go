package streaming_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/streaming"
)

// UserMessage maps each condition to a message a person can be shown, and
// anything it does not know to "internal error", never the error's text.
func TestUserMessage(t *testing.T) {
	sig := dspy.MustSignature("question -> answer")
	secret := errors.New("dial tcp 10.0.0.7:443: password=hunter2")
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"input", &dspy.InputError{Signature: sig, Field: "question", Missing: true}, `dspy: missing input field "question" for signature "question -> answer"`},
		{"deadline", fmt.Errorf("call: %w", context.DeadlineExceeded), "the request timed out"},
		{"cancelled", context.Canceled, "the request was cancelled"},
		{"rate limited", &lm.APIError{Provider: "openai", StatusCode: 429, Message: "slow down"}, "the language model is busy (rate limited); try again shortly"},
		{"context window", fmt.Errorf("x: %w", lm.ErrContextWindow), "the input is too long for the language model"},
		{"auth", fmt.Errorf("x: %w", lm.ErrAuth), "the server could not authenticate with its language model provider"},
		{"refusal", fmt.Errorf("x: %w", lm.ErrRefusal), "the language model refused to answer"},
		{"parse field", &dspy.ParseError{Adapter: "ChatAdapter", Field: "answer", Raw: "secret raw"}, `the language model's reply could not be understood (field "answer")`},
		{"parse", &dspy.ParseError{Adapter: "ChatAdapter", Raw: "secret raw"}, "the language model's reply could not be understood"},
		{"server", fmt.Errorf("x: %w", lm.ErrServer), "the language model provider failed; try again"},
		{"config", fmt.Errorf("openai: %w: unsupported scheme", lm.ErrConfig), "the server's language model is misconfigured (its address cannot work); tell the operator"},
		{"idle", fmt.Errorf("x: %w", lm.ErrStreamIdle), "the language model provider failed; try again"},
		{"cut stream", &lm.StreamError{Err: io.ErrUnexpectedEOF}, "the language model provider failed; try again"},
		{"unknown", secret, "internal error"},
		{"panic", &dspy.PanicError{Value: "nil map write: password=hunter2"}, "internal error"},
	} {
		if got := streaming.UserMessage(tc.err); got != tc.want {
			t.Errorf("%s: UserMessage(%v) = %q, want %q", tc.name, tc.err, got, tc.want)
		}
	}
}
