package provider

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"

	"github.com/godspy/dspy/lm"
)

const secret = "sk-test-0123456789"

// timeoutErr is a net.Error whose text holds the secret.
type timeoutErr struct{}

func (timeoutErr) Error() string   { return "dial timed out, auth " + secret }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

// isErr reports lm.ErrServer through its own Is method.
type isErr struct{}

func (isErr) Error() string        { return "upstream said " + secret }
func (isErr) Is(target error) bool { return target == lm.ErrServer }

func TestRedactorError(t *testing.T) {
	r := NewRedactor(secret, nil)
	clean := fmt.Errorf("openai: %w", context.Canceled)
	if got := r.Error(clean); got != clean {
		t.Errorf("an error without the secret was replaced: %#v", got)
	}
	tests := []struct {
		name  string
		err   error
		check func(error) bool
	}{
		{"url.Error keeps its type and cause", &url.Error{Op: "Post", URL: "https://x/?k=" + secret, Err: fmt.Errorf("echo %s: %w", secret, syscall.ECONNRESET)},
			func(err error) bool {
				var ue *url.Error
				return errors.As(err, &ue) && errors.Is(err, syscall.ECONNRESET)
			}},
		{"joined", errors.Join(errors.New(secret), context.DeadlineExceeded),
			func(err error) bool { return errors.Is(err, context.DeadlineExceeded) }},
		{"net.Error timeout", fmt.Errorf("x: %w", timeoutErr{}),
			func(err error) bool {
				var ne net.Error
				return errors.As(err, &ne) && ne.Timeout()
			}},
		{"own Is", fmt.Errorf("x: %w", isErr{}), func(err error) bool { return errors.Is(err, lm.ErrServer) }},
		{"stream error", &lm.StreamError{Partial: lm.Response{Choices: []lm.Choice{{Message: lm.Message{Content: "par"}}}}, Err: &lm.APIError{Provider: "p", Message: "bad key " + secret}},
			func(err error) bool {
				var se *lm.StreamError
				var api *lm.APIError
				return errors.As(err, &se) && se.Partial.Text() == "par" && errors.As(err, &api) && api.Message == "bad key [redacted]"
			}},
		{"DNS error", &net.DNSError{Err: "no such host", Name: secret + ".invalid", IsNotFound: true},
			func(err error) bool {
				var de *net.DNSError
				return errors.As(err, &de) && de.IsNotFound
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := r.Error(tt.err)
			var walk func(error)
			walk = func(e error) {
				for _, s := range []string{e.Error(), fmt.Sprintf("%+v", e), fmt.Sprintf("%#v", e)} {
					if strings.Contains(s, secret) {
						t.Errorf("secret left in %T: %s", e, s)
					}
				}
				switch u := e.(type) {
				case interface{ Unwrap() error }:
					if k := u.Unwrap(); k != nil {
						walk(k)
					}
				case interface{ Unwrap() []error }:
					for _, k := range u.Unwrap() {
						walk(k)
					}
				}
			}
			walk(got)
			if !tt.check(got) {
				t.Errorf("conditions lost: %#v", got)
			}
		})
	}
}

func TestNewRedactorHeaders(t *testing.T) {
	h := http.Header{"Authorization": {"Bearer tok-abcdef"}, "X-Portkey-Api-Key": {"pk-123456"}, "Http-Referer": {"https://example.com"}}
	r := NewRedactor("", h)
	got := r.String("Bearer tok-abcdef / tok-abcdef / pk-123456 / https://example.com")
	if want := "[redacted] / [redacted] / [redacted] / https://example.com"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	if got := NewRedactor("abc", nil).String("abc"); got != "abc" {
		t.Errorf("a 3-byte key redacted ordinary text: %q", got)
	}
}
